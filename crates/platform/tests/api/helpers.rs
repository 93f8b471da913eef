//! A PostgreSQL server of the test's own, with `ssl = on` and a server certificate from a
//! certificate authority the test makes, and a second authority that signed nothing.
//!
//! Like scripts/postgres-cluster it uses the server binaries under
//! `/usr/lib/postgresql/<version>/bin` (or `PG_BINDIR`), keeps everything in a temporary
//! directory, listens on 127.0.0.1 only, and, run as root, runs the server as the
//! `postgres` OS user. Dropping the server stops it and removes the directory.

use std::{
    net::TcpListener,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// The only name the server's certificate is valid for.
pub const SERVER_NAME: &str = "localhost";

pub struct TlsPostgres {
    pub port: u16,
    /// The CA that signed the server's certificate (PEM).
    pub ca_file: PathBuf,
    /// A CA that signed nothing this server shows (PEM).
    pub other_ca_file: PathBuf,
    bindir: PathBuf,
    directory: tempfile::TempDir,
}

impl TlsPostgres {
    /// Starts the server; panics with the reason (and the server log) when it cannot.
    pub fn start() -> Self {
        let bindir = server_binaries();
        // As root, under /tmp: the postgres user must be able to enter the directory.
        let directory = match tempfile::Builder::new()
            .prefix("c9pay-pg-tls.")
            .tempdir_in("/tmp")
        {
            Ok(directory) => directory,
            Err(error) => panic!("creating a temporary directory for PostgreSQL: {error}"),
        };
        let root = directory.path();
        let ca_file = root.join("ca.pem");
        let other_ca_file = root.join("other-ca.pem");
        let (server_certificate, server_key) = make_certificates(&ca_file, &other_ca_file);
        write(&root.join("server.crt"), &server_certificate, 0o644);
        write(&root.join("server.key"), &server_key, 0o600);
        for path in [
            root.to_path_buf(),
            root.join("server.crt"),
            root.join("server.key"),
        ] {
            as_server_owner_chown(&path);
        }
        set_mode(root, 0o755);

        let data = root.join("data");
        run(
            as_owner(&bindir.join("initdb"))
                .args([
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                    "-D",
                ])
                .arg(&data)
                .current_dir(root),
            "initdb",
            None,
        );
        let configuration = format!(
            "\n# c9pay TLS test server\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{root}'\nssl = on\nssl_cert_file = '{root}/server.crt'\nssl_key_file = '{root}/server.key'\nfsync = off\nmax_connections = 20\n",
            root = root.display()
        );
        append(&data.join("postgresql.conf"), &configuration);

        let log = root.join("postgres.log");
        // A free port now may be taken before the server binds it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let started = as_owner(&bindir.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-o", &format!("-p {port}"), "-w", "-t", "60", "start"])
                .current_dir(root)
                .output();
            match started {
                Ok(output) if output.status.success() => {
                    return Self {
                        port,
                        ca_file,
                        other_ca_file,
                        bindir,
                        directory,
                    };
                }
                Ok(_) if read(&log).contains("could not bind") => continue,
                Ok(output) => panic!(
                    "pg_ctl start failed: {}\n--- server log ---\n{}",
                    String::from_utf8_lossy(&output.stderr),
                    read(&log)
                ),
                Err(error) => panic!("running pg_ctl: {error}"),
            }
        }
        panic!(
            "PostgreSQL found no free port in five tries\n--- server log ---\n{}",
            read(&log)
        )
    }

    /// `postgres://postgres@HOST:PORT/postgres?QUERY`
    pub fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{query}", self.port)
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        let data = self.directory.path().join("data");
        let stopped = as_owner(&self.bindir.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "-t", "30", "stop"])
            .current_dir(self.directory.path())
            .output();
        if !matches!(&stopped, Ok(output) if output.status.success()) {
            eprintln!("could not stop the TLS test PostgreSQL server: {stopped:?}");
        }
    }
}

/// The directory with initdb, pg_ctl and postgres: `PG_BINDIR`, or the newest
/// `/usr/lib/postgresql/<version>/bin`. Missing binaries fail the test, never skip it.
fn server_binaries() -> PathBuf {
    let has_binaries = |directory: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|name| directory.join(name).is_file())
    };
    if let Some(directory) = std::env::var_os("PG_BINDIR") {
        let directory = PathBuf::from(directory);
        assert!(
            has_binaries(&directory),
            "PG_BINDIR={} lacks initdb, pg_ctl or postgres",
            directory.display()
        );
        return directory;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, directory)| has_binaries(directory))
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, directory)) => directory,
        None => panic!(
            "PostgreSQL's server binaries (initdb, pg_ctl, postgres) are not under /usr/lib/postgresql/*/bin: \
             install the `postgresql` package (scripts/test does) or set PG_BINDIR"
        ),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// PostgreSQL refuses to run as root: as root, run it as the `postgres` OS user.
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn as_server_owner_chown(path: &Path) {
    if is_root() {
        run(
            Command::new("chown").arg("postgres:").arg(path),
            "chown postgres",
            None,
        );
    }
}

fn run(command: &mut Command, what: &str, log: Option<&Path>) {
    match command.output() {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&output.stderr),
            log.map(read).unwrap_or_default()
        ),
        Err(error) => panic!("running {what}: {error}"),
    }
}

fn free_port() -> u16 {
    match TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()) {
        Ok(address) => address.port(),
        Err(error) => panic!("finding a free port: {error}"),
    }
}

/// Two CAs; the first signs a server certificate for [`SERVER_NAME`] only. Returns the
/// server's certificate and key (PEM) and writes both CA certificates.
fn make_certificates(ca_file: &Path, other_ca_file: &Path) -> (String, String) {
    let authority = |name: &str| {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let made = KeyPair::generate().and_then(|key| CertifiedIssuer::self_signed(params, key));
        match made {
            Ok(issuer) => issuer,
            Err(error) => panic!("making the test CA {name}: {error}"),
        }
    };
    let ca = authority("c9pay test CA");
    let other_ca = authority("c9pay test CA that signed nothing");
    write(ca_file, &ca.pem(), 0o644);
    write(other_ca_file, &other_ca.pem(), 0o644);

    let server = KeyPair::generate().and_then(|key| {
        let mut params = CertificateParams::new(vec![SERVER_NAME.to_string()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, SERVER_NAME);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let certificate = params.signed_by(&key, &ca)?;
        Ok((certificate.pem(), key.serialize_pem()))
    });
    match server {
        Ok(pair) => pair,
        Err(error) => panic!("making the server certificate: {error}"),
    }
}

fn write(path: &Path, contents: &str, mode: u32) {
    if let Err(error) = std::fs::write(path, contents) {
        panic!("writing {}: {error}", path.display());
    }
    set_mode(path, mode);
}

fn set_mode(path: &Path, mode: u32) {
    if let Err(error) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        panic!("chmod {}: {error}", path.display());
    }
}

fn append(path: &Path, text: &str) {
    let mut contents = read(path);
    contents.push_str(text);
    if let Err(error) = std::fs::write(path, contents) {
        panic!("writing {}: {error}", path.display());
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

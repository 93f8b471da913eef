# syntax=docker/dockerfile:1
# One image, one binary: `c9pay run <target>` for target in auth, users, credit, stores,
# router (k8s/ passes the arguments), `c9pay up` for everything in one process,
# `c9pay keygen` for internal-trust keys.
#
#   docker build -t c9pay:dev .
#
# Not built in this repository's CI (its machines have no Docker engine); k8s/validate
# checks this file statically against Cargo.toml, .dockerignore and the manifests.

# --- build ---------------------------------------------------------------------------
# The toolchain is the workspace's rust-version; builder and runtime are the same Debian
# release, so the binary finds the glibc it was linked against.
FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# The caches keep the registry and target/ between builds on the same builder; the binary
# is copied out in the same step because a cache mount is gone after it.
RUN --mount=type=cache,id=c9pay-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=c9pay-target,target=/src/target \
    cargo build --release --locked -p c9pay \
    && install -D -m 0755 target/release/c9pay /out/c9pay

# --- run -----------------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: for HTTPS to an OTLP collector or anything else outside the cluster.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 c9pay \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin c9pay
COPY --from=builder /out/c9pay /usr/local/bin/c9pay
# The composed supergraph the router loads (k8s/base/router.toml: supergraph_path). It is
# built from the same commit as the binary, so the two always agree.
COPY schema/supergraph.graphql /app/schema/supergraph.graphql
WORKDIR /app
# Numeric, so that Kubernetes can check runAsNonRoot without reading /etc/passwd; the
# pods set the same runAsUser.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/c9pay"]
CMD ["--help"]

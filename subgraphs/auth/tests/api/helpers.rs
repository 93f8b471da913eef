use c9pay_auth::AuthConfig;
use c9pay_platform::{
    database::Backend,
    id::UserId,
    testing::{GraphQLClient, TestDatabase, TestResponse, TestTrust, fresh_database},
};
use c9pay_users::UsersConfig;
use serde_json::{Value, json};

pub struct TestApp {
    pub auth: GraphQLClient,
    pub users: GraphQLClient,
    pub auth_url: String,
    pub trust: TestTrust,
    /// Auth's own database, for what only operators do (rotating keys).
    pub database: c9pay_platform::database::Database,
    _databases: Vec<TestDatabase>,
}

pub const PASSWORD: &str = "correct horse battery staple";

/// Starts users and auth on port 0, each with a fresh database on `backend`.
pub async fn spawn_auth(backend: Backend) -> TestApp {
    spawn_auth_with(backend, |_| {}).await
}

/// Starts auth with its configuration changed by `adjust` first.
pub async fn spawn_auth_with(backend: Backend, adjust: impl FnOnce(&mut AuthConfig)) -> TestApp {
    // Stores registers kiosks at auth; the tests play stores with its service key.
    let trust = TestTrust::new(&["auth", "stores"]);
    let users_database = fresh_database(backend).await;
    let users = match c9pay_users::build(&UsersConfig::new(
        "127.0.0.1:0",
        users_database.config.clone(),
        trust.config_for("users"),
    ))
    .await
    {
        Ok(application) => application,
        Err(error) => panic!("building users: {error:#}"),
    };
    let users_url = format!("http://{}", users.address());
    tokio::spawn(users.run_until(std::future::pending()));

    let auth_database = fresh_database(backend).await;
    let mut config = AuthConfig::new(
        "127.0.0.1:0",
        auth_database.config.clone(),
        trust.config_for("auth"),
        users_url.clone(),
    );
    adjust(&mut config);
    let database = match c9pay_auth::open_database(&config).await {
        Ok(database) => database,
        Err(error) => panic!("opening auth's database: {error:#}"),
    };
    let auth = match c9pay_auth::build(&config).await {
        Ok(application) => application,
        Err(error) => panic!("building auth: {error:#}"),
    };
    let auth_url = format!("http://{}", auth.address());
    tokio::spawn(auth.run_until(std::future::pending()));

    TestApp {
        auth: GraphQLClient::new(format!("{auth_url}/graphql")),
        users: GraphQLClient::new(format!("{users_url}/graphql")),
        auth_url,
        trust,
        database,
        _databases: vec![users_database, auth_database],
    }
}

pub const SIGN_UP: &str = "mutation($input: SignUpInput!) {
    signUp(input: $input) { accessToken tokenType expiresAt user { id email } }
}";
pub const LOG_IN: &str = "mutation($input: LogInInput!) {
    logIn(input: $input) { accessToken expiresAt user { id email } }
}";

impl TestApp {
    pub async fn sign_up(&self, email: &str, password: &str, display_name: &str) -> TestResponse {
        let input = json!({ "email": email, "password": password, "displayName": display_name });
        self.auth
            .execute(
                Some(&self.trust.anonymous()),
                SIGN_UP,
                json!({ "input": input }),
            )
            .await
    }

    pub async fn log_in(&self, email: &str, password: &str) -> TestResponse {
        let input = json!({ "email": email, "password": password });
        self.auth
            .execute(
                Some(&self.trust.anonymous()),
                LOG_IN,
                json!({ "input": input }),
            )
            .await
    }

    /// Signs up and returns the new user's id.
    pub async fn signed_up(&self, email: &str, display_name: &str) -> UserId {
        let response = self.sign_up(email, PASSWORD, display_name).await;
        user_id_of(&response.data()["signUp"])
    }

    pub async fn jwks(&self) -> Value {
        match reqwest::get(format!("{}/.well-known/jwks.json", self.auth_url)).await {
            Ok(response) => response.json().await.unwrap_or(Value::Null),
            Err(error) => panic!("fetching the JWKS: {error}"),
        }
    }
}

pub fn user_id_of(payload: &Value) -> UserId {
    match payload["user"]["id"].as_str().map(UserId::parse) {
        Some(Ok(user_id)) => user_id,
        _ => panic!("no user id in {payload:#}"),
    }
}

use c9pay_platform::{
    database::Backend,
    id::UserId,
    testing::{GraphQLClient, TestDatabase, TestTrust, fresh_database},
};
use c9pay_users::UsersConfig;
use serde_json::json;

pub struct TestApp {
    pub graphql: GraphQLClient,
    pub url: String,
    pub trust: TestTrust,
    _database: TestDatabase,
}

pub async fn spawn_users(backend: Backend) -> TestApp {
    let trust = TestTrust::new(&["auth", "stores"]);
    let database = fresh_database(backend).await;
    let application = match c9pay_users::build(&UsersConfig::new(
        "127.0.0.1:0",
        database.config.clone(),
        trust.config_for("users"),
    ))
    .await
    {
        Ok(application) => application,
        Err(error) => panic!("building users: {error:#}"),
    };
    let url = format!("http://{}", application.address());
    tokio::spawn(application.run_until(std::future::pending()));
    TestApp {
        graphql: GraphQLClient::new(format!("{url}/graphql")),
        url,
        trust,
        _database: database,
    }
}

impl TestApp {
    /// Calls the internal profile endpoint with `authorization`; returns the HTTP status.
    pub async fn put_profile(
        &self,
        authorization: Option<&str>,
        user_id: &UserId,
        display_name: &str,
    ) -> u16 {
        let mut request = reqwest::Client::new()
            .put(format!("{}/internal/profiles/{user_id}", self.url))
            .json(&json!({ "displayName": display_name }));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        match request.send().await {
            Ok(response) => response.status().as_u16(),
            Err(error) => panic!("PUT profile: {error}"),
        }
    }

    /// A profile as auth creates it at sign-up.
    pub async fn profile_created(&self, display_name: &str) -> UserId {
        let user_id = UserId::generate();
        assert_eq!(
            self.put_profile(Some(&self.trust.service("auth")), &user_id, display_name)
                .await,
            200
        );
        user_id
    }
}

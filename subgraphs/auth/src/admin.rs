//! Who is an admin, and for how long an admin session lasts.
//!
//! Admins are ordinary accounts whose log-in email is listed in the configuration
//! (`admin_emails`): granting or withdrawing the role is a configuration change, reviewed
//! and deployed like code, never an API call an attacker could make. An admin works in
//! an admin session, opened through the router's `/admin/log-in` (which sets the
//! fingerprint cookie), separate from their app sessions.

use std::collections::HashSet;

use crate::{config::AuthConfig, domain::email::Email};

pub struct AdminPolicy {
    emails: HashSet<String>,
    pub idle_timeout_s: i64,
    pub session_lifetime_s: i64,
}

impl AdminPolicy {
    /// The policy of `config`; an entry that is not an email is a configuration error.
    pub fn from_config(config: &AuthConfig) -> anyhow::Result<Self> {
        let emails = config
            .admin_emails
            .iter()
            .map(|email| {
                Email::parse(email)
                    .map(|email| email.as_str().to_string())
                    .map_err(|error| anyhow::anyhow!("admin_emails: {email:?}: {error}"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            emails,
            idle_timeout_s: config.admin_idle_timeout_s,
            session_lifetime_s: config.admin_session_lifetime_s,
        })
    }

    pub fn is_admin(&self, email: &Email) -> bool {
        self.emails.contains(email.as_str())
    }
}

//! How an L2 is set up ([`MemoBuilder`](crate::MemoBuilder) fills these in), and why it cannot
//! be.

use std::time::Duration;

use super::envelope::{Limits, SigningKey};

/// Why an L2 cannot be set up. Reaching Redis is not needed at install: a Redis that is down
/// then is connected to when it comes up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The URL is not a Redis URL.
    #[error("invalid Redis URL `{url}`: {source}")]
    BadUrl {
        /// The URL, with any password hidden.
        url: String,
        /// What the client said.
        source: redis::RedisError,
    },
    /// The TLS settings cannot be used (feature `tls`).
    #[error("unusable TLS settings: {0}")]
    Tls(String),
    /// An L2 is installed already in this process.
    #[error("an L2 is already installed in this process")]
    AlreadyInstalled,
}

/// Hides the password of a `redis://user:password@host` URL.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// How an L2 is set up; see [`MemoBuilder`](crate::MemoBuilder).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) namespace: String,
    pub(crate) timeout: Duration,
    pub(crate) limits: Limits,
    pub(crate) signer: Option<SigningKey>,
    pub(crate) breaker_threshold: u32,
    pub(crate) breaker_cooldown: Duration,
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_hidden() {
        assert_eq!(super::redact("redis://app:s3cret@cache:6379/0"), "redis://app:***@cache:6379/0");
        assert_eq!(super::redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}

//! Lesson 03: download many urls at once, never more than a limit at a time, retrying the failures
//! that are worth retrying, and surviving a fetch that panics. Read README.md first.
//!
//! Your job is `download_all`. `HttpFetcher` below is complete: it is what the binary in
//! src/main.rs and the end-to-end check use to talk real HTTP.

pub mod sync;

use std::time::Duration;

use crate::sync::Arc;

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Worth retrying: timeouts, connection failures, HTTP 5xx and 429.
    Transient(String),
    /// Not worth retrying: other HTTP 4xx, bad URLs, a fetch that panicked.
    Permanent(String),
}

/// Something that can fetch one url. Shared by every worker thread, hence `Send + Sync`.
pub trait Fetch: Send + Sync {
    fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError>;
}

#[derive(Debug, Clone)]
pub struct Config {
    /// At most this many fetches at once (at least 1).
    pub max_concurrency: usize,
    /// Attempts in all for one url, the first included (at least 1).
    pub max_attempts: u32,
    /// The wait before attempt k (k >= 2) is `backoff * 2^(k-2)`.
    pub backoff: Duration,
}

/// What happened to one url.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    pub url: String,
    pub result: Result<Vec<u8>, FetchError>,
    pub attempts: u32,
}

/// Fetches every url, never more than `max_concurrency` fetches at once, retrying transient failures
/// up to `max_attempts` attempts with exponential backoff. A fetch that panics is that url's
/// `Permanent` failure; the other urls still complete. Returns one Download per url, in input order,
/// after every thread it started has finished.
///
/// Use `crate::sync` for every thread, lock, condition variable and atomic, and
/// `crate::sync::thread::sleep` for the backoff: the model checker can then run this function.
pub fn download_all<F: Fetch + 'static>(
    urls: &[String],
    fetcher: Arc<F>,
    config: &Config,
) -> Vec<Download> {
    let _ = (urls, fetcher, config);
    todo!(
        "download_all: fetch every url on up to max_concurrency threads, with retries and backoff"
    )
}

/// A real HTTP/1.1 GET client for `http://` urls, with a time limit on each request.
///
/// 2xx is a success with the body; 5xx and 429 are `Transient` (the server may recover); other
/// statuses are `Permanent`. Timeouts and connection failures are `Transient`; a malformed or
/// non-http url is `Permanent`.
pub struct HttpFetcher {
    agent: ureq::Agent,
}

impl HttpFetcher {
    pub fn new(timeout: Duration) -> HttpFetcher {
        let config = ureq::Agent::config_builder()
            // One limit for the whole request: connecting, sending, waiting and reading the body.
            .timeout_global(Some(timeout))
            // We map statuses ourselves.
            .http_status_as_error(false)
            // A fresh connection for every request: simpler to reason about when a server closes
            // connections, at the cost of a TCP handshake per request.
            .max_idle_connections(0)
            .build();
        HttpFetcher {
            agent: config.into(),
        }
    }
}

impl Fetch for HttpFetcher {
    fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        if !url.starts_with("http://") {
            return Err(FetchError::Permanent(format!(
                "{url}: only http:// urls are supported"
            )));
        }
        let mut response = self.agent.get(url).call().map_err(classify)?;
        let status = response.status().as_u16();
        match status {
            200..=299 => response
                .body_mut()
                .read_to_vec()
                .map_err(|e| match classify(e) {
                    // A body cut short is the connection's fault, not the url's.
                    FetchError::Permanent(m) => FetchError::Transient(m),
                    transient => transient,
                }),
            429 | 500..=599 => Err(FetchError::Transient(format!("HTTP {status}"))),
            _ => Err(FetchError::Permanent(format!("HTTP {status}"))),
        }
    }
}

/// Which client errors are worth another attempt.
fn classify(error: ureq::Error) -> FetchError {
    use ureq::Error as E;
    match error {
        E::Timeout(_)
        | E::Io(_)
        | E::ConnectionFailed
        | E::HostNotFound
        | E::Protocol(_)
        | E::BodyStalled => FetchError::Transient(error.to_string()),
        other => FetchError::Permanent(other.to_string()),
    }
}

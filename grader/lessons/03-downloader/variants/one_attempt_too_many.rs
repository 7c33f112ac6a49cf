//! bug: makes max_attempts + 1 attempts on a url that keeps failing transiently
//! caught-by: retries_transient_up_to_max_attempts

pub mod sync;

use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{thread, Arc};

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

pub fn download_all<F: Fetch + 'static>(
    urls: &[String],
    fetcher: Arc<F>,
    config: &Config,
) -> Vec<Download> {
    let workers = config.max_concurrency.max(1).min(urls.len());
    let urls: Arc<Vec<String>> = Arc::new(urls.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let handles: Vec<thread::JoinHandle<Vec<(usize, Download)>>> = (0..workers)
        .map(|_| {
            let (urls, next, fetcher, config) =
                (urls.clone(), next.clone(), fetcher.clone(), config.clone());
            thread::spawn(move || {
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(url) = urls.get(i) else { break };
                    done.push((i, download_one(&*fetcher, url, &config)));
                }
                done
            })
        })
        .collect();
    let mut slots: Vec<Option<Download>> = vec![None; urls.len()];
    for handle in handles {
        for (i, download) in handle.join().expect("a download worker panicked") {
            slots[i] = Some(download);
        }
    }
    slots
        .into_iter()
        .map(|d| d.expect("every url is done"))
        .collect()
}

/// One url, attempt after attempt, on the calling thread.
fn download_one<F: Fetch + ?Sized>(fetcher: &F, url: &str, config: &Config) -> Download {
    let max_attempts = config.max_attempts.max(1);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let result = match panic::catch_unwind(AssertUnwindSafe(|| fetcher.fetch(url))) {
            Ok(result) => result,
            Err(payload) => Err(FetchError::Permanent(format!(
                "fetch panicked: {}",
                panic_message(&*payload)
            ))),
        };
        match result {
            // BUG: `<=` allows one attempt past the limit.
            Err(FetchError::Transient(_)) if attempts <= max_attempts => {
                thread::sleep(backoff_before(attempts + 1, config.backoff));
            }
            result => {
                return Download {
                    url: url.to_string(),
                    result,
                    attempts,
                }
            }
        }
    }
}

/// The wait before attempt `k` (k >= 2): `base`, then twice that, four times, ...
fn backoff_before(k: u32, base: Duration) -> Duration {
    base.saturating_mul(2u32.saturating_pow(k.saturating_sub(2)))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
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

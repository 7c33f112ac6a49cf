//! `cargo run -- URL...`: downloads the urls, a few at a time, and prints a line per url.

use std::time::{Duration, Instant};

use downloader::{download_all, sync::Arc, Config, FetchError, HttpFetcher};

fn main() {
    let urls: Vec<String> = std::env::args().skip(1).collect();
    if urls.is_empty() {
        eprintln!("usage: downloader URL...   (http:// urls only)");
        std::process::exit(2);
    }
    let config = Config {
        max_concurrency: 4,
        max_attempts: 3,
        backoff: Duration::from_millis(200),
    };
    let fetcher = Arc::new(HttpFetcher::new(Duration::from_secs(10)));
    let started = Instant::now();
    let downloads = download_all(&urls, fetcher, &config);
    let mut failed = 0;
    for d in &downloads {
        let tries = if d.attempts == 1 {
            "attempt"
        } else {
            "attempts"
        };
        match &d.result {
            Ok(body) => println!(
                "ok         {:>9} bytes  {} {tries}  {}",
                body.len(),
                d.attempts,
                d.url
            ),
            Err(FetchError::Transient(e)) => {
                failed += 1;
                println!("transient  {e}  {} {tries}  {}", d.attempts, d.url)
            }
            Err(FetchError::Permanent(e)) => {
                failed += 1;
                println!("permanent  {e}  {} {tries}  {}", d.attempts, d.url)
            }
        }
    }
    eprintln!(
        "{} urls, {failed} failed, {:.2} s (at most {} at once)",
        downloads.len(),
        started.elapsed().as_secs_f64(),
        config.max_concurrency
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

//! The end-to-end check's HTTP server, on 127.0.0.1 and an ephemeral port (tiny_http), plus a bare
//! TCP listener that accepts connections and closes them without a word.
//!
//! Paths:
//! - `/slow/ID`: waits [`SLOW`], then 200 with the body `slow ID`.
//! - `/flaky/N/ID`: 503 for the first N requests of this path, then 200 with `flaky ID`.
//! - `/busy`: always 503.
//! - `/status/N`: status N, with `status N`.
//! - `/missing` (and anything unknown): 404.
//! - `/hang`: never answers while the check runs (the client's timeout must end the request).
//!
//! The server counts the requests of every path and, with a [`Gauge`], how many requests it is
//! working on at once (all but `/hang`, which never finishes). A request leaves the gauge *before*
//! its response is written, so the server can only see fewer requests at once than the client has
//! in flight, never more.

use std::collections::HashMap;
use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use grader_harness::prelude::Gauge;

/// How long `/slow/...` takes at the server.
pub const SLOW: Duration = Duration::from_millis(250);
/// The longest a `/hang` request is held (the check ends long before).
const HANG_AT_MOST: Duration = Duration::from_secs(20);

pub struct TestServer {
    /// `http://127.0.0.1:PORT`, served by tiny_http.
    pub base: String,
    /// `http://127.0.0.1:PORT2`, a listener that closes every connection it accepts.
    pub closing_base: String,
    state: Arc<State>,
    server: Arc<tiny_http::Server>,
    threads: Vec<JoinHandle<()>>,
}

#[derive(Default)]
struct State {
    gauge: Gauge,
    requests: Mutex<HashMap<String, u32>>,
    closed_connections: AtomicU32,
    stopping: Mutex<bool>,
    stop: Condvar,
    closing_stop: AtomicBool,
    handlers: Mutex<Vec<JoinHandle<()>>>,
}

impl TestServer {
    pub fn start() -> Result<TestServer, String> {
        let server = tiny_http::Server::http("127.0.0.1:0")
            .map_err(|e| format!("cannot start the HTTP server on 127.0.0.1: {e}"))?;
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or("the HTTP server has no IP address")?;
        let closing = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
        let closing_port = closing.local_addr().map_err(|e| e.to_string())?.port();
        closing.set_nonblocking(true).map_err(|e| e.to_string())?;

        let server = Arc::new(server);
        let state = Arc::new(State::default());
        let mut threads = Vec::new();
        {
            let (server, state) = (server.clone(), state.clone());
            threads.push(std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    let st = state.clone();
                    let handler = std::thread::spawn(move || handle(request, &st));
                    state.handlers.lock().unwrap().push(handler);
                }
            }));
        }
        {
            let state = state.clone();
            threads.push(std::thread::spawn(move || {
                while !state.closing_stop.load(Ordering::SeqCst) {
                    match closing.accept() {
                        Ok((mut stream, _)) => {
                            // Read what the client sent, then hang up without answering.
                            let _ = stream.set_nonblocking(false);
                            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                            let _ = stream.read(&mut [0u8; 4096]);
                            state.closed_connections.fetch_add(1, Ordering::SeqCst);
                            drop(stream);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            }));
        }
        Ok(TestServer {
            base: format!("http://127.0.0.1:{port}"),
            closing_base: format!("http://127.0.0.1:{closing_port}"),
            state,
            server,
            threads,
        })
    }

    /// The most requests the server was working on at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.gauge.max()
    }

    /// How many requests reached `path`.
    pub fn requests(&self, path: &str) -> u32 {
        self.state
            .requests
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub fn closed_connections(&self) -> u32 {
        self.state.closed_connections.load(Ordering::SeqCst)
    }

    /// Waits up to `limit` for `ready` to hold (requests still on their way to the server).
    pub fn settle(&self, limit: Duration, ready: impl Fn(&TestServer) -> bool) {
        let deadline = Instant::now() + limit;
        while !ready(self) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops both listeners and every handler.
    pub fn stop(mut self) {
        *self.state.stopping.lock().unwrap() = true;
        self.state.stop.notify_all();
        self.state.closing_stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let handlers: Vec<_> = self.state.handlers.lock().unwrap().drain(..).collect();
        for h in handlers {
            let _ = h.join();
        }
    }
}

fn handle(request: tiny_http::Request, state: &State) {
    let path = request.url().to_string();
    *state
        .requests
        .lock()
        .unwrap()
        .entry(path.clone())
        .or_insert(0) += 1;
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();

    if parts == ["hang"] {
        // Hold the request without answering until the check is over.
        let deadline = Instant::now() + HANG_AT_MOST;
        let mut stopping = state.stopping.lock().unwrap();
        while !*stopping && Instant::now() < deadline {
            stopping = state
                .stop
                .wait_timeout(stopping, Duration::from_millis(100))
                .unwrap()
                .0;
        }
        return;
    }

    let in_flight = state.gauge.enter();
    let (status, body) = match parts.as_slice() {
        ["slow", id] => {
            std::thread::sleep(SLOW);
            (200, format!("slow {id}"))
        }
        ["flaky", n, id] => {
            std::thread::sleep(Duration::from_millis(10));
            let failures: u32 = n.parse().unwrap_or(0);
            let seen = state.requests.lock().unwrap()[&path];
            if seen <= failures {
                (503, "try again later".to_string())
            } else {
                (200, format!("flaky {id}"))
            }
        }
        ["status", code] => match code.parse::<u16>() {
            Ok(code) => (code, format!("status {code}")),
            Err(_) => (400, "not a status".to_string()),
        },
        ["busy"] => {
            std::thread::sleep(Duration::from_millis(10));
            (503, "busy".to_string())
        }
        _ => {
            std::thread::sleep(Duration::from_millis(10));
            (404, "no such thing".to_string())
        }
    };
    drop(in_flight);
    let _ = request.respond(tiny_http::Response::from_string(body).with_status_code(status));
}

//! A recording forward proxy on loopback: every request the harness's HTTP clients make (its own
//! `reqwest` client and the MCP SDK's, both configured with [`Recorder::proxy`]) passes through it
//! and is recorded with its response, redacted, for the scenario's report.
//!
//! A proxy rather than a wrapper around each call: it also sees the MCP SDK's traffic (which
//! builds its own requests) and needs no change at the steps' call sites. It is transparent: it
//! never follows redirects, streams responses as they come (SSE included), and when the origin
//! cannot be reached it closes the connection without an answer, so the client sees a connection
//! error as it would without the proxy. HTTPS (`CONNECT`) is tunnelled and recorded as opaque.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use super::model::HttpExchange;
use super::redact::{BODY_CAP, redact_body, redact_header, redact_text};

/// Bytes of each body kept before redaction (redaction then caps at [`BODY_CAP`]).
const CAPTURE: usize = 8 * BODY_CAP;

/// Headers that belong to one connection, not to the exchange (RFC 9110 §7.6.1).
const HOP_BY_HOP: &[&str] =
    &["connection", "proxy-connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"];

type Log = Arc<Mutex<Vec<HttpExchange>>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One scenario's recording proxy; stops accepting connections when dropped.
#[derive(Debug)]
pub struct Recorder {
    addr: SocketAddr,
    started: Instant,
    log: Log,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    /// Binds a loopback port and starts recording.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let log: Log = Arc::default();
        let upstream = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            // A fresh connection per request: the target may restart between requests.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(std::io::Error::other)?;
        let task = tokio::spawn(accept_loop(listener, log.clone(), upstream));
        Ok(Self { addr, started: Instant::now(), log, task })
    }

    /// The proxy setting for a `reqwest::ClientBuilder`.
    pub fn proxy(&self) -> reqwest::Proxy {
        // An `http://` URL of a bound socket always parses.
        reqwest::Proxy::all(format!("http://{}", self.addr)).unwrap_or_else(|e| panic!("proxy URL: {e}"))
    }

    /// When recording started (the scenario's start).
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The exchanges so far, in the order the requests were made.
    pub fn exchanges(&self) -> Vec<HttpExchange> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, log: Log, upstream: reqwest::Client) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let (log, upstream) = (log.clone(), upstream.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(req, log.clone(), upstream.clone()));
            // An error here is the origin being unreachable (the connection closes unanswered)
            // or the client going away; both are already recorded.
            let _ = hyper::server::conn::http1::Builder::new()
                .preserve_header_case(true)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

fn push(log: &Log, exchange: HttpExchange) -> usize {
    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
    log.push(exchange);
    log.len() - 1
}

fn update(log: &Log, index: usize, f: impl FnOnce(&mut HttpExchange)) {
    if let Some(e) = log.lock().unwrap_or_else(|p| p.into_inner()).get_mut(index) {
        f(e);
    }
}

fn headers(map: &http::HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .filter(|(k, _)| !HOP_BY_HOP.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str().to_string(), redact_header(k.as_str(), &String::from_utf8_lossy(v.as_bytes()))))
        .collect()
}

async fn handle(
    req: Request<Incoming>,
    log: Log,
    upstream: reqwest::Client,
) -> Result<Response<axum::body::Body>, BoxError> {
    let started = Instant::now();
    if req.method() == http::Method::CONNECT {
        return tunnel(req, &log);
    }
    let (parts, body) = req.into_parts();
    let url = parts.uri.to_string();
    let index = push(
        &log,
        HttpExchange {
            method: parts.method.to_string(),
            url: redact_text(&url),
            request_headers: headers(&parts.headers),
            ..HttpExchange::default()
        },
    );
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            update(&log, index, |x| x.error = Some(format!("reading the request body: {e}")));
            return Err(e.into());
        }
    };
    update(&log, index, |x| x.request_body = redact_body(&body[..body.len().min(CAPTURE)], body.len()));
    if parts.uri.scheme().is_none() {
        let msg = format!("not a proxy request (origin-form URI {url})");
        update(&log, index, |x| x.error = Some(msg.clone()));
        return Err(msg.into());
    }
    let mut request = upstream.request(parts.method.clone(), &url);
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) && name != http::header::HOST && name != http::header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    if !body.is_empty() || parts.headers.contains_key(http::header::CONTENT_LENGTH) {
        request = request.body(body);
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            let msg = format!("no response: {e}");
            update(&log, index, |x| {
                x.error = Some(msg.clone());
                x.duration_ms = started.elapsed().as_millis() as u64;
            });
            // Closing the connection unanswered shows the client the same failure.
            return Err(msg.into());
        }
    };
    let status = response.status();
    update(&log, index, |x| {
        x.status = status.as_u16();
        x.response_headers = headers(response.headers());
    });
    let mut builder = Response::builder().status(status).version(http::Version::HTTP_11);
    for (name, value) in response.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            builder = builder.header(name, value);
        }
    }
    let capture = BodyCapture { log: log.clone(), index, started, kept: Vec::new(), total: 0 };
    let stream = futures::stream::unfold((response, capture, false), |(mut response, mut capture, done)| async move {
        if done {
            return None;
        }
        match response.chunk().await {
            Ok(Some(chunk)) => {
                capture.keep(&chunk);
                Some((Ok::<Bytes, BoxError>(chunk), (response, capture, false)))
            }
            Ok(None) => None,
            Err(e) => {
                capture.error(format!("the response body broke off: {e}"));
                Some((Err(e.into()), (response, capture, true)))
            }
        }
    });
    Ok(builder.body(axum::body::Body::from_stream(stream))?)
}

/// Keeps the start of a response body; records it when the body ends or the client drops it.
struct BodyCapture {
    log: Log,
    index: usize,
    started: Instant,
    kept: Vec<u8>,
    total: usize,
}

impl BodyCapture {
    fn keep(&mut self, chunk: &[u8]) {
        self.total += chunk.len();
        let room = CAPTURE.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }

    fn error(&self, msg: String) {
        update(&self.log, self.index, |x| x.error = Some(msg));
    }
}

impl Drop for BodyCapture {
    fn drop(&mut self) {
        let body = redact_body(&self.kept, self.total);
        let ms = self.started.elapsed().as_millis() as u64;
        update(&self.log, self.index, |x| {
            x.response_body = body;
            x.duration_ms = ms;
        });
    }
}

/// `CONNECT host:port`: a blind tunnel (TLS inside); recorded without content.
fn tunnel(req: Request<Incoming>, log: &Log) -> Result<Response<axum::body::Body>, BoxError> {
    let authority = req.uri().authority().map(|a| a.to_string()).ok_or("CONNECT without host:port")?;
    push(
        log,
        HttpExchange {
            method: "CONNECT".into(),
            url: authority.clone(),
            status: 200,
            error: Some("HTTPS tunnel: the content is encrypted and not recorded".into()),
            ..HttpExchange::default()
        },
    );
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else { return };
        let Ok(mut origin) = TcpStream::connect(&authority).await else { return };
        let _ = tokio::io::copy_bidirectional(&mut TokioIo::new(upgraded), &mut origin).await;
    });
    Ok(Response::new(axum::body::Body::empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::{get, post};

    async fn origin() -> String {
        let app = Router::new()
            .route(
                "/token",
                post(|body: String| async move { format!(r#"{{"access_token":"tok-{body}-0123456789"}}"#) }),
            )
            .route(
                "/redirect",
                get(|| async { (http::StatusCode::FOUND, [(http::header::LOCATION, "/elsewhere?code=abcdefgh1234")]) }),
            );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn records_redacted_exchanges_and_stays_transparent() {
        let base = origin().await;
        let recorder = Recorder::start().await.unwrap();
        let client = reqwest::Client::builder()
            .proxy(recorder.proxy())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r =
            client.post(format!("{base}/token")).bearer_auth("bearer-secret-value").body("abc").send().await.unwrap();
        assert_eq!(r.text().await.unwrap(), r#"{"access_token":"tok-abc-0123456789"}"#);
        let r = client.get(format!("{base}/redirect")).send().await.unwrap();
        assert_eq!(r.status(), 302, "the proxy must not follow redirects");
        let _ = r.bytes().await;
        // A closed port: the client sees a connection error, not a made-up response.
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        assert!(client.get(format!("http://{closed}/")).send().await.is_err());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;

        let log = recorder.exchanges();
        assert_eq!(log.len(), 3, "{log:#?}");
        assert_eq!((log[0].method.as_str(), log[0].status), ("POST", 200));
        assert_eq!(log[0].request_body, "abc");
        assert!(log[0].response_body.contains("access_token") && !log[0].response_body.contains("tok-abc-0123456789"));
        let auth = log[0].request_headers.iter().find(|(k, _)| k == "authorization").unwrap();
        assert_eq!(auth.1, format!("Bearer {}", super::super::redact::mask("bearer-secret-value")));
        let location = log[1].response_headers.iter().find(|(k, _)| k == "location").unwrap();
        assert!(!location.1.contains("abcdefgh1234"), "{location:?}");
        assert_eq!(log[2].status, 0);
        assert!(log[2].error.as_deref().unwrap_or("").starts_with("no response"), "{:?}", log[2]);
    }
}

//! The listener: accepts connections for the API (and the pages), with the
//! limits that keep a flood of connections from taking the station off air.
//!
//! A station's board has a small open-file limit and plays audio from files:
//! every connection the API holds is a file descriptor the player may need
//! for the next bulletin. So the listener
//! - holds at most [`Limits::max_connections`] connections at once, and at
//!   most [`Limits::per_address`] from one client address; past either, a new
//!   connection is closed at once (it costs a descriptor for a moment only);
//! - keeps the last [`Limits::reserve`] of those places for requests the
//!   [`Admit`] predicate lets in (the daemon's: `/healthz`, `/metrics`, and
//!   callers with a valid session or token), so a flood of anonymous
//!   connections cannot lock out monitoring and the station's own people.
//!   A connection on a reserve place whose request is not admitted is
//!   answered 503 and closed at once; it must send its request head within
//!   [`Limits::reserve_header_timeout`];
//! - closes a connection that does not send a whole request head within
//!   [`Limits::header_timeout`], also between requests on a kept-alive
//!   connection, so idle and trickling connections do not pile up;
//! - cuts a request body still coming [`Limits::body_timeout`] after its
//!   head, unless it has kept an average of [`Limits::body_min_rate`] since
//!   (an upload over a slow but honest link goes on; one byte every few
//!   seconds does not): the handler sees a body error, answers, and the
//!   connection closes;
//! - when accepting fails (out of descriptors), waits a little instead of
//!   spinning, and says so once until it recovers.
//!
//! With a [`TlsAcceptor`] (`[api] tls_cert` / `tls_key`) every connection is
//! HTTPS (rustls); the TLS handshake must also end within the header
//! timeout, and the connection limits count it like any other.
//!
//! This module must not know about routes or the engine: what may use the
//! reserve is the caller's [`Admit`].

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{BoxError, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
pub use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tracing::{debug, warn};

/// How many connections the listener holds, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    /// Of `max_connections`, the places only admitted requests may use.
    pub reserve: usize,
    pub per_address: usize,
    pub header_timeout: Duration,
    /// The header timeout of a connection on a reserve place.
    pub reserve_header_timeout: Duration,
    /// How long a request body may take after its head, at any rate.
    pub body_timeout: Duration,
    /// Past `body_timeout`, the average rate (bytes per second since the
    /// head) a body must have kept to go on.
    pub body_min_rate: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // Far below the unit's LimitNOFILE and the common 1024: the
            // player and the ledger always find a descriptor.
            max_connections: 256,
            reserve: 32,
            // A browser opens about six; a live page keeps one more.
            per_address: 32,
            header_timeout: Duration::from_secs(10),
            // A monitor or a browser sends its request at once.
            reserve_header_timeout: Duration::from_secs(3),
            // Forms and JSON are a few kB: seconds even on a poor link.
            body_timeout: Duration::from_secs(30),
            // 128 kbit/s: a phone's recording upload over weak Wi-Fi or 3G.
            body_min_rate: 16 * 1024,
        }
    }
}

/// Whether a request may use a connection on a reserve place (decided
/// from its head; the body is not read).
pub type Admit = Arc<dyn Fn(&Parts) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// Connections open per client address.
#[derive(Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

/// One connection's place in the counts, given back when it closes.
struct Slot {
    _global: OwnedSemaphorePermit,
    ip: IpAddr,
    counts: Arc<PerAddress>,
}

impl PerAddress {
    fn take(
        self: &Arc<Self>,
        ip: IpAddr,
        max: usize,
        global: OwnedSemaphorePermit,
    ) -> Option<Slot> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            _global: global,
            ip,
            counts: Arc::clone(self),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut m = self.counts.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// Serve `app` on `listener` until the task is dropped; HTTPS with `tls`;
/// the reserve places for what `admit` lets in.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    admit: Admit,
) {
    let reserve = limits.reserve.min(limits.max_connections);
    let general = Arc::new(Semaphore::new(limits.max_connections - reserve));
    let reserved = Arc::new(Semaphore::new(reserve));
    let counts = Arc::new(PerAddress::default());
    let mut failing = false;
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(c) => {
                if failing {
                    warn!("the HTTP API accepts connections again");
                    failing = false;
                }
                c
            }
            Err(e) => {
                if !failing {
                    warn!("the HTTP API cannot accept a connection ({e}); retrying");
                    failing = true;
                }
                // Out of descriptors clears only when something closes:
                // wait, never spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (permit, on_reserve) = match Arc::clone(&general).try_acquire_owned() {
            Ok(p) => (p, false),
            Err(_) => match Arc::clone(&reserved).try_acquire_owned() {
                Ok(p) => (p, true),
                Err(_) => {
                    debug!(%addr, "too many connections; closing a new one");
                    continue;
                }
            },
        };
        let Some(slot) = counts.take(addr.ip(), limits.per_address, permit) else {
            debug!(%addr, "too many connections from one address; closing a new one");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let admit = on_reserve.then(|| Arc::clone(&admit));
        let svc = tower::service_fn(move |mut req: axum::extract::Request| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(addr));
            let (app, admit) = (app.clone(), admit.clone());
            async move {
                if let Some(admit) = admit {
                    let (parts, body) = req.into_parts();
                    if !admit(&parts).await {
                        debug!(%addr, "a request on a reserve place not admitted");
                        return Ok(reserve_refused());
                    }
                    req = axum::extract::Request::from_parts(parts, body);
                }
                app.oneshot(req).await
            }
        });
        let mut limits = limits;
        if on_reserve {
            limits.header_timeout = limits.reserve_header_timeout;
        }
        let tls = tls.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let header_timeout = limits.header_timeout;
            match tls {
                None => serve_connection(stream, svc, limits, addr).await,
                Some(tls) => match tokio::time::timeout(header_timeout, tls.accept(stream)).await {
                    Ok(Ok(stream)) => serve_connection(stream, svc, limits, addr).await,
                    Ok(Err(e)) => debug!(%addr, "TLS handshake failed: {e}"),
                    Err(_) => debug!(%addr, "TLS handshake timed out"),
                },
            }
        });
    }
}

/// The answer to a request on a reserve place that may not use it; the
/// connection closes after it.
fn reserve_refused() -> Response {
    let mut r = (
        StatusCode::SERVICE_UNAVAILABLE,
        "Đài đang có quá nhiều kết nối; hãy thử lại sau ít phút. / \
         Too many connections: try again in a minute.\n",
    )
        .into_response();
    let h = r.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    h.insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    r
}

/// A request body held to [`Limits::body_timeout`] and
/// [`Limits::body_min_rate`].
struct Paced<B> {
    inner: B,
    start: tokio::time::Instant,
    received: u64,
    timeout: Duration,
    min_rate: u64,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl<B> Paced<B> {
    fn new(inner: B, limits: &Limits) -> Self {
        let start = tokio::time::Instant::now();
        Paced {
            inner,
            start,
            received: 0,
            timeout: limits.body_timeout,
            min_rate: limits.body_min_rate.max(1),
            timer: Box::pin(tokio::time::sleep_until(start + limits.body_timeout)),
        }
    }

    /// When the body must be done by, given what came so far.
    fn deadline(&self) -> tokio::time::Instant {
        let earned = Duration::from_secs_f64(self.received as f64 / self.min_rate as f64);
        self.start + self.timeout.max(earned)
    }

    fn too_slow(&self) -> BoxError {
        format!(
            "Dữ liệu gửi đến quá chậm / the request body came too slowly: {} bytes in {} s; a \
             body may take {} s, longer only at {} KiB/s or more",
            self.received,
            self.start.elapsed().as_secs(),
            self.timeout.as_secs(),
            self.min_rate / 1024
        )
        .into()
    }
}

impl<B> HttpBody for Paced<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {}
        }
        // Nothing now: wake at the deadline (it moves later as data comes).
        loop {
            let deadline = this.deadline();
            if this.timer.deadline() != deadline {
                this.timer.as_mut().reset(deadline);
            }
            match this.timer.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) if tokio::time::Instant::now() >= this.deadline() => {
                    return Poll::Ready(Some(Err(this.too_slow())));
                }
                Poll::Ready(()) => {}
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// One HTTP/1.1 connection over `io` until it closes.
async fn serve_connection<I, S>(io: I, svc: S, limits: Limits, addr: SocketAddr)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: tower::Service<
            axum::extract::Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(
            TokioIo::new(io),
            TowerToHyperService::new(svc.map_request(
                move |req: hyper::Request<hyper::body::Incoming>| {
                    req.map(|b| Body::new(Paced::new(b, &limits)))
                },
            )),
        );
    if let Err(e) = conn.await {
        debug!(%addr, "connection ended: {e}");
    }
}

/// The HTTPS acceptor for a certificate chain and its private key (PEM
/// files), or what is wrong with them, worded for the station's admin.
pub fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<TlsAcceptor> {
    use anyhow::Context;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls::{crypto, ServerConfig};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| {
            format!(
                "reading the certificate [api] tls_cert = {} (a PEM file of the certificate \
                 chain is needed)",
                cert.display()
            )
        })?;
    if certs.is_empty() {
        anyhow::bail!(
            "[api] tls_cert = {} holds no certificate (PEM \"BEGIN CERTIFICATE\" blocks)",
            cert.display()
        );
    }
    let private = PrivateKeyDer::from_pem_file(key).with_context(|| {
        format!(
            "reading the private key [api] tls_key = {} (a PEM file with one private key is needed)",
            key.display()
        )
    })?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("setting up TLS")?
            .with_no_client_auth()
            .with_single_cert(certs, private)
            .with_context(|| {
                format!(
                    "[api] tls_key = {} does not fit tls_cert = {}",
                    key.display(),
                    cert.display()
                )
            })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_address_counts_and_gives_back() {
        let counts = Arc::new(PerAddress::default());
        let global = Arc::new(Semaphore::new(10));
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        let other: IpAddr = "127.0.0.3".parse().unwrap();
        let permit = || Arc::clone(&global).try_acquire_owned().unwrap();
        let a = counts.take(ip, 2, permit()).unwrap();
        let b = counts.take(ip, 2, permit()).unwrap();
        assert!(
            counts.take(ip, 2, permit()).is_none(),
            "a third from one address"
        );
        assert!(
            counts.take(other, 2, permit()).is_some(),
            "another address is not limited by the first"
        );
        drop(a);
        let c = counts.take(ip, 2, permit());
        assert!(c.is_some(), "a closed connection gives its place back");
        drop((b, c));
        assert!(counts.0.lock().unwrap().is_empty(), "no count left behind");
        assert_eq!(global.available_permits(), 10);
    }

    /// A body fed through a channel, as slowly as a test likes.
    struct Fed(tokio::sync::mpsc::Receiver<Bytes>);

    impl HttpBody for Fed {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            self.0
                .poll_recv(cx)
                .map(|b| b.map(|b| Ok(http_body::Frame::data(b))))
        }
    }

    /// Feed `chunk` bytes every `every` for `total` into a paced body;
    /// when it ended (`Ok`) or was cut (`Err`), in seconds.
    async fn feed(chunk: usize, every: Duration, total: Duration) -> Result<u64, u64> {
        use axum::body::HttpBody as _;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let start = tokio::time::Instant::now();
        tokio::spawn(async move {
            while start.elapsed() < total {
                if tx.send(Bytes::from(vec![b'a'; chunk])).await.is_err() {
                    return;
                }
                tokio::time::sleep(every).await;
            }
        });
        let mut body = Paced::new(Fed(rx), &Limits::default());
        loop {
            match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                Some(Ok(_)) => {}
                None => return Ok(start.elapsed().as_secs()),
                Some(Err(e)) => {
                    assert!(e.to_string().contains("too slowly"), "{e}");
                    return Err(start.elapsed().as_secs());
                }
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn slow_bodies_are_cut_and_steady_uploads_go_on() {
        // One byte every 5 s: cut at the body timeout.
        assert_eq!(
            feed(1, Duration::from_secs(5), Duration::from_secs(600)).await,
            Err(30)
        );
        // A short form, however slow within the timeout, is whole.
        assert_eq!(
            feed(10, Duration::from_secs(5), Duration::from_secs(25)).await,
            Ok(25)
        );
        // 20 KiB/s for two minutes: past the timeout, kept by its rate.
        assert_eq!(
            feed(20 * 1024, Duration::from_secs(1), Duration::from_secs(120)).await,
            Ok(120)
        );
        // 8 KiB/s: cut once the average is below 16 KiB/s after 30 s.
        assert_eq!(
            feed(8 * 1024, Duration::from_secs(1), Duration::from_secs(120)).await,
            Err(30)
        );
    }

    /// A GET of `path` on a new connection; the answer's first line, or
    /// what happened.
    async fn get(addr: SocketAddr, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
            return "no connection".into();
        };
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        if s.write_all(req.as_bytes()).await.is_err() {
            return "closed".into();
        }
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer).await;
        let text = String::from_utf8_lossy(&answer);
        match text.lines().next() {
            Some(l) if !l.is_empty() => l.to_string(),
            _ => "closed".into(),
        }
    }

    #[tokio::test]
    async fn the_reserve_admits_only_what_the_predicate_lets_in() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/healthz", axum::routing::get(|| async { "ok" }))
            .route("/other", axum::routing::get(|| async { "other" }));
        let limits = Limits {
            max_connections: 4,
            reserve: 2,
            ..Limits::default()
        };
        let admit: Admit = Arc::new(|parts: &Parts| {
            let ok = parts.uri.path() == "/healthz";
            Box::pin(std::future::ready(ok))
        });
        let server = tokio::spawn(serve(listener, app, limits, None, admit));
        assert_eq!(get(addr, "/other").await, "HTTP/1.1 200 OK");
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Two idle connections take the general places.
        let mut idle = Vec::new();
        for _ in 0..2 {
            idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
        }
        // Let the listener accept them before the next.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            get(addr, "/other").await,
            "HTTP/1.1 503 Service Unavailable",
            "not admitted on the reserve"
        );
        assert_eq!(get(addr, "/healthz").await, "HTTP/1.1 200 OK");
        // Reserve places are given back: again, several times.
        for _ in 0..3 {
            assert_eq!(get(addr, "/healthz").await, "HTTP/1.1 200 OK");
        }
        drop(idle);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(get(addr, "/other").await, "HTTP/1.1 200 OK");
        server.abort();
    }

    /// A self-signed certificate for `localhost`, as PEM files in `dir`.
    fn certificate(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
        (cert, key, ck.cert.der().to_vec())
    }

    #[tokio::test]
    async fn serves_https_with_the_configured_certificate() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
        use tokio_rustls::rustls::{crypto, ClientConfig, RootCertStore};

        let dir = tempfile::tempdir().unwrap();
        let (cert, key, der) = certificate(dir.path());
        let acceptor = tls_acceptor(&cert, &key).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/", axum::routing::get(|| async { "xin chào" }));
        let server = tokio::spawn(serve(
            listener,
            app,
            Limits::default(),
            Some(acceptor),
            Arc::new(|_| Box::pin(std::future::ready(false))),
        ));

        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from(der)).unwrap();
        let config =
            ClientConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut tls = connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .expect("the handshake with the configured certificate");
        tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        tls.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        assert!(answer.ends_with("xin chào"), "{answer}");

        // Plain HTTP on the HTTPS port gets no page.
        let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
        plain
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = plain.read_to_end(&mut answer).await;
        assert!(!String::from_utf8_lossy(&answer).contains("xin chào"));
        server.abort();
    }

    #[test]
    fn unusable_tls_files_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, _) = certificate(dir.path());
        let missing = dir.path().join("none.pem");
        let e = tls_acceptor(&missing, &key).err().unwrap();
        assert!(format!("{e:#}").contains("tls_cert"), "{e:#}");
        let e = tls_acceptor(&cert, &cert).err().unwrap();
        assert!(format!("{e:#}").contains("tls_key"), "{e:#}");
        let (other, _, _) = certificate(&{
            let d = dir.path().join("other");
            std::fs::create_dir(&d).unwrap();
            d
        });
        let e = tls_acceptor(&other, &key).err().unwrap();
        assert!(format!("{e:#}").contains("does not fit"), "{e:#}");
    }
}

//! The listener: accepts connections for the API (and the pages), with the
//! limits that keep a flood of connections from taking the station off air.
//!
//! A station's board has a small open-file limit and plays audio from files:
//! every connection the API holds is a file descriptor the player may need
//! for the next bulletin. So the listener
//! - holds at most [`Limits::max_connections`] connections at once, and at
//!   most [`Limits::per_address`] from one client address; past either, a new
//!   connection is closed at once (it costs a descriptor for a moment only);
//! - closes a connection that does not send a whole request head within
//!   [`Limits::header_timeout`], also between requests on a kept-alive
//!   connection, so idle and trickling connections do not pile up;
//! - when accepting fails (out of descriptors), waits a little instead of
//!   spinning, and says so once until it recovers.
//!
//! With a [`TlsAcceptor`] (`[api] tls_cert` / `tls_key`) every connection is
//! HTTPS (rustls); the TLS handshake must also end within the header
//! timeout, and the connection limits count it like any other.
//!
//! This module must not know about routes or the engine.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
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
    pub per_address: usize,
    pub header_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // Far below the unit's LimitNOFILE and the common 1024: the
            // player and the ledger always find a descriptor.
            max_connections: 256,
            // A browser opens about six; a live page keeps one more.
            per_address: 32,
            header_timeout: Duration::from_secs(10),
        }
    }
}

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

/// Serve `app` on `listener` until the task is dropped; HTTPS with `tls`.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, tls: Option<TlsAcceptor>) {
    let global = Arc::new(Semaphore::new(limits.max_connections));
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
        let Ok(permit) = Arc::clone(&global).try_acquire_owned() else {
            debug!(%addr, "too many connections; closing a new one");
            continue;
        };
        let Some(slot) = counts.take(addr.ip(), limits.per_address, permit) else {
            debug!(%addr, "too many connections from one address; closing a new one");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let svc = app
            .clone()
            .map_request(move |mut req: axum::extract::Request| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(addr));
                req
            });
        let header_timeout = limits.header_timeout;
        let tls = tls.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                None => serve_connection(stream, svc, header_timeout, addr).await,
                Some(tls) => match tokio::time::timeout(header_timeout, tls.accept(stream)).await {
                    Ok(Ok(stream)) => serve_connection(stream, svc, header_timeout, addr).await,
                    Ok(Err(e)) => debug!(%addr, "TLS handshake failed: {e}"),
                    Err(_) => debug!(%addr, "TLS handshake timed out"),
                },
            }
        });
    }
}

/// One HTTP/1.1 connection over `io` until it closes.
async fn serve_connection<I, S>(io: I, svc: S, header_timeout: Duration, addr: SocketAddr)
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
        .header_read_timeout(header_timeout)
        .serve_connection(
            TokioIo::new(io),
            TowerToHyperService::new(svc.map_request(
                |req: hyper::Request<hyper::body::Incoming>| req.map(axum::body::Body::new),
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
        let server = tokio::spawn(serve(listener, app, Limits::default(), Some(acceptor)));

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

//! Connecting to the province's broker, the same way for a station and
//! for `loa publish`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rumqttc::{MqttOptions, TlsConfiguration, Transport};

use super::manifest::{MAX_AUDIO_BYTES, MAX_MESSAGE};
use crate::config::upstream::Login;

/// How long a silent link lives before the client pings (a 4G link that
/// drops takes the TCP connection with it silently).
const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// The largest password file read.
const MAX_PASSWORD: u64 = 4096;

/// Options for `client_id` at `broker`; `clean`: forget the session at the
/// broker (a publisher) or keep it (a station, so it gets what it missed).
pub fn options(client_id: &str, login: &Login, clean: bool) -> anyhow::Result<MqttOptions> {
    let Login {
        broker,
        username,
        password_file,
        ca_file,
    } = login;
    let mut o = MqttOptions::new(client_id, broker.host.clone(), broker.port);
    o.set_keep_alive(KEEP_ALIVE)
        .set_clean_session(clean)
        // An audio bulletin comes whole in one message.
        .set_max_packet_size(
            MAX_AUDIO_BYTES as usize + MAX_MESSAGE,
            MAX_AUDIO_BYTES as usize + MAX_MESSAGE,
        );
    if let Some(user) = username {
        let password = match password_file {
            Some(p) => read_password(p)?,
            None => String::new(),
        };
        o.set_credentials(user, password);
    }
    if broker.tls {
        let tls = match ca_file {
            Some(ca) => private_ca(ca)?,
            None => crate::fleet::client_tls(),
        };
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::new(tls),
        )));
    }
    Ok(o)
}

/// The largest CA file read: a few certificates.
const MAX_CA: u64 = 256 * 1024;

/// A TLS client that trusts only the certificates in `ca` (PEM): a
/// province's own CA.
fn private_ca(ca: &Path) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let pem = read_small(ca, MAX_CA, "the CA file", "a CA certificate file")?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.with_context(|| format!("{} is not PEM certificates", ca.display()))?;
        roots
            .add(cert)
            .with_context(|| format!("{} holds a certificate rustls refuses", ca.display()))?;
    }
    anyhow::ensure!(
        !roots.is_empty(),
        "{} holds no certificate (PEM, -----BEGIN CERTIFICATE-----)",
        ca.display()
    );
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// A connection error in words: a refused certificate says so.
pub fn explain(e: &rumqttc::ConnectionError) -> String {
    let text = format!("{e}");
    match e {
        rumqttc::ConnectionError::Tls(t) => format!(
            "TLS refused ({t}): the broker's certificate is not trusted; \
             check ca_file (a private CA) or the broker's name"
        ),
        _ => text,
    }
}

/// The password in `p`: its first line, bounded.
pub(crate) fn read_password(p: &Path) -> anyhow::Result<String> {
    let text = read_small(
        p,
        MAX_PASSWORD,
        "the broker password file",
        "a password file",
    )?;
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

/// The text of `p` (`what`), refused unread when larger than `max` bytes:
/// then it is not `kind`.
fn read_small(p: &Path, max: u64, what: &str, kind: &str) -> anyhow::Result<String> {
    let cannot = || format!("cannot read {what} {}", p.display());
    let len = std::fs::metadata(p).with_context(cannot)?.len();
    anyhow::ensure!(
        len <= max,
        "{} is larger than {max} bytes: not {kind}",
        p.display()
    );
    std::fs::read_to_string(p).with_context(cannot)
}

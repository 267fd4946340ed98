//! A relay's HTTP(S) source: an Icecast/Shoutcast stream or a plain file,
//! fed to symphonia as its bytes arrive.

use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

use super::{Connection, STALL};
use crate::audio::decode::FileDecoder;
use crate::audio::sink::Format;

/// How long connecting and the response's headers may take.
const CONNECT: Duration = Duration::from_secs(5);

/// An open stream and its decoder.
pub(super) struct Stream {
    decoder: FileDecoder,
}

/// The body as symphonia wants it (`Send + Sync`); only the worker reads.
struct Body(Mutex<Box<dyn Read + Send>>);

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .read(buf)
    }
}

/// The file-name extension symphonia's probe is hinted with: from the
/// content type, else from the address.
fn hint(content_type: &str, url: &str) -> Option<&'static str> {
    let ct = content_type.to_ascii_lowercase();
    let by_type = [
        ("mpeg", "mp3"),
        ("mp3", "mp3"),
        ("aacp", "aac"),
        ("aac", "aac"),
        ("mp4", "m4a"),
        ("ogg", "ogg"),
        ("flac", "flac"),
        ("wav", "wav"),
    ];
    if let Some((_, ext)) = by_type.iter().find(|(t, _)| ct.contains(t)) {
        return Some(ext);
    }
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    ["mp3", "aac", "m4a", "ogg", "flac", "wav"]
        .into_iter()
        .find(|ext| path.ends_with(&format!(".{ext}")))
}

/// Request `url` and open its body for decoding. Reads stall out after
/// [`STALL`]: a server that stops sending is a drop.
pub(super) fn connect(url: &str) -> Result<Stream, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT))
        .timeout_recv_response(Some(CONNECT))
        .timeout_per_read(Some(STALL))
        .user_agent(concat!("loa/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let response = agent
        .get(url)
        // No in-band song titles: they would be read as audio.
        .header("Icy-MetaData", "0")
        .call()
        .map_err(|e| match e {
            ureq::Error::StatusCode(code) => format!("the server answered HTTP {code}"),
            other => other.to_string(),
        })?;
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body: Box<dyn Read + Send> = Box::new(response.into_body().into_reader());
    let decoder = FileDecoder::open_stream(
        Box::new(Body(Mutex::new(body))),
        hint(&content_type, url),
        url,
    )?;
    Ok(Stream { decoder })
}

impl Connection for Stream {
    fn format(&self) -> Format {
        self.decoder.format()
    }

    fn next_chunk(&mut self) -> Result<&[f32], String> {
        match self.decoder.next_chunk() {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err("the stream ended".to_string()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_come_from_the_content_type_then_the_address() {
        assert_eq!(hint("audio/mpeg", "http://x/live"), Some("mp3"));
        assert_eq!(hint("audio/aacp", "http://x/live"), Some("aac"));
        assert_eq!(hint("", "http://x/vov1.aac?token=1"), Some("aac"));
        assert_eq!(hint("application/octet-stream", "http://x/live"), None);
    }
}

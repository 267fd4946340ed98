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
    let response = match agent
        .get(url)
        // No in-band song titles: they would be read as audio.
        .header("Icy-MetaData", "0")
        .call()
    {
        Ok(r) => r,
        Err(ureq::Error::StatusCode(code)) => {
            return Err(format!("the server answered HTTP {code}"))
        }
        // A SHOUTcast v1 server answers `ICY 200 OK`, which is not HTTP.
        Err(ureq::Error::Protocol(_)) if url.starts_with("http://") => return connect_icy(url),
        Err(e) => return Err(e.to_string()),
    };
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

/// The request again over a plain socket, for a SHOUTcast v1 server whose
/// status line is `ICY 200 OK` (plain `http://` only: such servers have no
/// TLS).
fn connect_icy(url: &str) -> Result<Stream, String> {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest
        .find(['/', '?'])
        .map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
    let with_port = if host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {host}"))?;
    let mut socket = TcpStream::connect_timeout(&addr, CONNECT).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(STALL))
        .map_err(|e| e.to_string())?;
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    write!(
        socket,
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: loa/{}\r\nIcy-MetaData: 0\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(socket);
    let mut status = String::new();
    reader.read_line(&mut status).map_err(|e| e.to_string())?;
    let status = status.trim_end().to_string();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("the server answered {status}"));
    }
    let mut content_type = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err("the server closed the connection in its headers".to_string());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-type") {
                content_type = v.trim().to_string();
            }
        }
    }
    let decoder = FileDecoder::open_stream(Box::new(reader), hint(&content_type, url), url)?;
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

    /// Connect to a server that answers with `head`, then `file`'s bytes.
    fn connect_to(head: &'static str, file: &str) -> Result<Stream, String> {
        connect(&serve_once(head, file))
    }

    /// Answer with `head`, then `file`'s bytes, on a fresh port.
    fn serve_once(head: &'static str, file: &str) -> String {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let body = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/audio")
                .join(file),
        )
        .unwrap();
        // Twice: an ICY answer is asked for again over a plain socket.
        std::thread::spawn(move || {
            for _ in 0..2 {
                let (mut c, _) = listener.accept().unwrap();
                let mut r = BufReader::new(c.try_clone().unwrap());
                let mut line = String::new();
                while r.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                let _ = c.write_all(head.as_bytes());
                let _ = c.write_all(&body);
            }
        });
        format!("http://{addr}/stream")
    }

    #[test]
    fn an_mp3_and_an_adts_aac_stream_decode_as_they_arrive() {
        let mut s = connect_to(
            "HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\n\r\n",
            "mp3-cbr.mp3",
        )
        .unwrap();
        assert!(s.format().rate > 0);
        let mut frames = 0;
        while let Ok(c) = s.next_chunk() {
            frames += c.len();
        }
        assert!(frames > 0);
        let mut s = connect_to(
            "HTTP/1.0 200 OK\r\nContent-Type: audio/aacp\r\n\r\n",
            "aac-lc.aac",
        )
        .unwrap();
        assert!(s.next_chunk().is_ok_and(|c| !c.is_empty()));
    }

    #[test]
    fn a_shoutcast_v1_icy_answer_is_understood() {
        let mut s = connect_to(
            "ICY 200 OK\r\nicy-name: VOV1\r\nContent-Type: audio/mpeg\r\n\r\n",
            "mp3-cbr.mp3",
        )
        .unwrap();
        assert!(s.next_chunk().is_ok_and(|c| !c.is_empty()));
        let e = connect_to("ICY 401 Service Unavailable\r\n\r\n", "mp3-cbr.mp3")
            .err()
            .unwrap();
        assert!(e.contains("ICY 401"), "{e}");
    }

    #[test]
    fn an_error_status_is_said_plainly() {
        let e = connect_to(
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            "mp3-cbr.mp3",
        )
        .err()
        .unwrap();
        assert_eq!(e, "the server answered HTTP 404");
    }

    #[test]
    fn hints_come_from_the_content_type_then_the_address() {
        assert_eq!(hint("audio/mpeg", "http://x/live"), Some("mp3"));
        assert_eq!(hint("audio/aacp", "http://x/live"), Some("aac"));
        assert_eq!(hint("", "http://x/vov1.aac?token=1"), Some("aac"));
        assert_eq!(hint("application/octet-stream", "http://x/live"), None);
    }
}

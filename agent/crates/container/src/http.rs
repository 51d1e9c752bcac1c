//! A minimal HTTP/1.1 GET over a unix socket: all the Docker API needs.
//! One request per connection (`Connection: close`) keeps it small.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::error::{Error, Result};

/// Responses larger than this are refused: a runtime never sends that much
/// for one container, and a hostile peer must not make us buffer forever.
pub const MAX_RESPONSE: usize = 8 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// `GET path` on the unix socket at `socket`, with an overall timeout.
pub async fn get(socket: &Path, path: &str, timeout: Duration) -> Result<Response> {
    tokio::time::timeout(timeout, get_inner(socket, path))
        .await
        .map_err(|_| Error::Timeout)?
}

async fn get_inner(socket: &Path, path: &str) -> Result<Response> {
    let mut stream = UnixStream::connect(socket)
        .await
        .map_err(|source| Error::Connect {
            path: socket.to_path_buf(),
            source,
        })?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: saker\r\nAccept: application/json\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await?;
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 16384];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return parse(&buf, true)?.ok_or(Error::Http("connection closed early"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_RESPONSE {
            return Err(Error::Http("response too large"));
        }
        if let Some(resp) = parse(&buf, false)? {
            return Ok(resp);
        }
    }
}

/// Parses a complete response from `buf`; `Ok(None)` means "need more
/// bytes". `eof` says the peer closed, which ends a body without length.
pub fn parse(buf: &[u8], eof: bool) -> Result<Option<Response>> {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        return Ok(None);
    };
    let head =
        std::str::from_utf8(&buf[..head_end]).map_err(|_| Error::Http("non-UTF-8 header"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(Error::Http("bad status line"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(Error::Http("bad status code"))?;
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            return Err(Error::Http("bad header line"));
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-length") {
            content_length = Some(
                v.parse::<usize>()
                    .map_err(|_| Error::Http("bad content-length"))?,
            );
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            chunked = v.to_ascii_lowercase().contains("chunked");
        }
    }
    let body = &buf[head_end + 4..];
    let body = if chunked {
        match dechunk(body)? {
            Some(b) => b,
            None if eof => return Err(Error::Http("truncated chunked body")),
            None => return Ok(None),
        }
    } else if let Some(len) = content_length {
        if len > MAX_RESPONSE {
            return Err(Error::Http("response too large"));
        }
        if body.len() < len {
            return if eof {
                Err(Error::Http("truncated body"))
            } else {
                Ok(None)
            };
        }
        body[..len].to_vec()
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if eof {
        body.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(Response { status, body }))
}

/// Decodes a chunked body; `Ok(None)` if the final chunk has not arrived.
fn dechunk(mut b: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = find(b, b"\r\n") else {
            return Ok(None);
        };
        let line =
            std::str::from_utf8(&b[..line_end]).map_err(|_| Error::Http("bad chunk size"))?;
        // Chunk extensions after ';' are allowed and ignored.
        let size_str = line.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size_str, 16).map_err(|_| Error::Http("bad chunk size"))?;
        b = &b[line_end + 2..];
        if size == 0 {
            // Trailers may follow; the body is complete either way.
            return Ok(Some(out));
        }
        if size > MAX_RESPONSE || out.len() + size > MAX_RESPONSE {
            return Err(Error::Http("response too large"));
        }
        if b.len() < size + 2 {
            return Ok(None);
        }
        if &b[size..size + 2] != b"\r\n" {
            return Err(Error::Http("bad chunk terminator"));
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_body() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(
            parse(r, false).unwrap(),
            Some(Response {
                status: 200,
                body: b"{}".to_vec()
            })
        );
        // Incomplete until all bytes arrive; truncated at EOF is an error.
        assert_eq!(parse(&r[..r.len() - 1], false).unwrap(), None);
        assert!(parse(&r[..r.len() - 1], true).is_err());
    }

    #[test]
    fn chunked_body_with_extension_and_trailer() {
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nX-T: 1\r\n\r\n";
        assert_eq!(parse(r, false).unwrap().unwrap().body, b"{\"a\":1}");
        assert_eq!(parse(&r[..30], false).unwrap(), None);
        assert!(parse(&r[..60], true).is_err());
    }

    #[test]
    fn eof_delimited_and_empty_bodies() {
        let r = b"HTTP/1.0 404 Not Found\r\n\r\nno such container";
        assert_eq!(parse(r, false).unwrap(), None);
        let resp = parse(r, true).unwrap().unwrap();
        assert_eq!(
            (resp.status, resp.body.as_slice()),
            (404, &b"no such container"[..])
        );
        let r = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(parse(r, false).unwrap().unwrap().body, b"");
    }

    #[test]
    fn hostile_responses_are_errors_not_panics() {
        let bad: &[&[u8]] = &[
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffff\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX0\r\n\r\n",
            b"HTTP/1.1 200 \xff\r\nX: \xfe\r\n\r\n",
        ];
        for r in bad {
            assert!(parse(r, true).is_err(), "{:?}", String::from_utf8_lossy(r));
        }
    }

    #[tokio::test]
    async fn get_over_a_unix_socket() {
        let dir = std::env::temp_dir().join(format!("saker-http-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let sock = dir.join("s.sock");
        let _ = std::fs::remove_file(&sock);
        let l = tokio::net::UnixListener::bind(&sock).unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut b = [0u8; 1024];
            let n = s.read(&mut b).await.unwrap();
            assert!(b[..n].starts_with(b"GET /containers/x/json HTTP/1.1\r\n"));
            // Split writes exercise the incremental parser.
            s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}")
                .await
                .unwrap();
            s.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
            s.write_all(b"\r\n0\r\n\r\n").await.unwrap();
            // Keep the connection open: completion must not depend on EOF.
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let r = get(&sock, "/containers/x/json", Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        let missing = get(&dir.join("nope.sock"), "/", Duration::from_secs(1)).await;
        assert!(matches!(missing, Err(Error::Connect { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

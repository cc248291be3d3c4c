//! Writing answers: the status line, the handler's headers (hop-by-hop ones and
//! any value with CR or LF left out), then the body by length, chunked, delimited
//! by closing the connection, or trickled (`Body::Trickle`).

use std::{
    io::{self, Read, Write},
    net::TcpStream,
    time::Duration,
};

use super::{Body, Response, reason};

/// Writes `response`; returns whether the connection may stay open.
pub(super) fn write_response(
    writer: &mut TcpStream,
    response: Response,
    head_only: bool,
    close: bool,
) -> io::Result<bool> {
    let Response { status, reason: phrase, headers, body, .. } = response;
    let mut out = io::BufWriter::with_capacity(64 * 1024, writer);
    write!(out, "HTTP/1.1 {status} {}\r\n", phrase.as_deref().unwrap_or(reason(status)))?;
    for (name, value) in &headers {
        let hop = ["content-length", "transfer-encoding", "connection", "keep-alive"];
        if hop.iter().any(|it| name.eq_ignore_ascii_case(it)) {
            continue;
        }
        // Header values come from our own code or pypiserver; never let a CR/LF
        // split the response.
        if value.contains(['\r', '\n']) {
            continue;
        }
        write!(out, "{name}: {value}\r\n")?;
    }
    let no_body = head_only || status < 200 || status == 204 || status == 304;
    let mut keep = !close;
    match body {
        Body::Bytes(bytes) => {
            write!(out, "Content-Length: {}\r\n", bytes.len())?;
            write_connection(&mut out, keep)?;
            if !no_body {
                out.write_all(&bytes)?;
            }
        }
        Body::Stream(mut reader, Some(length)) => {
            write!(out, "Content-Length: {length}\r\n")?;
            write_connection(&mut out, keep)?;
            if !no_body {
                let copied = io::copy(&mut (&mut reader).take(length), &mut out)?;
                if copied != length {
                    // The upstream ended early: the client must not wait for the rest.
                    out.flush()?;
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short body"));
                }
            }
        }
        Body::Trickle(end) => {
            write!(out, "Content-Length: 1000000\r\n")?;
            write_connection(&mut out, keep)?;
            out.flush()?;
            while !no_body && std::time::Instant::now() < end {
                std::thread::sleep(Duration::from_millis(200));
                out.write_all(b" ")?;
                out.flush()?;
            }
            return Err(io::Error::new(io::ErrorKind::TimedOut, "the trickle is over"));
        }
        Body::Stream(mut reader, None) => {
            if no_body {
                write_connection(&mut out, keep)?;
            } else if close {
                keep = false;
                write_connection(&mut out, false)?;
                io::copy(&mut reader, &mut out)?;
            } else {
                out.write_all(b"Transfer-Encoding: chunked\r\n")?;
                write_connection(&mut out, keep)?;
                write_chunked(&mut out, &mut reader)?;
            }
        }
    }
    out.flush()?;
    Ok(keep)
}

/// Copies `reader` to `out` as HTTP/1.1 chunks, then the last (empty) chunk.
fn write_chunked(out: &mut impl Write, reader: &mut impl Read) -> io::Result<()> {
    let mut buf = vec![0; 32 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if n == 0 {
            break;
        }
        write!(out, "{n:x}\r\n")?;
        out.write_all(&buf[..n])?;
        out.write_all(b"\r\n")?;
    }
    out.write_all(b"0\r\n\r\n")
}

fn write_connection(out: &mut impl Write, keep: bool) -> io::Result<()> {
    out.write_all(if keep { b"\r\n" } else { b"Connection: close\r\n\r\n" })
}

//! The forwarder: one request to an upstream server (pypiserver for the PyPI
//! endpoint, moto_server for STS) on a fresh connection, with the answer's body
//! streamed back from that connection. Hop-by-hop headers are dropped both ways;
//! everything else passes untouched, so the upstream sees what the client sent.

use std::{
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use crate::http::{self, Body, Request, Response};

/// Sends `req` to `upstream` (pypiserver, or moto_server for STS) on a fresh
/// connection and returns its answer with the body streamed from that connection.
pub(crate) fn send(req: &Request, upstream: SocketAddr) -> std::io::Result<Response> {
    let stream = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    stream.set_write_timeout(Some(Duration::from_secs(120)))?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    // pypiserver builds redirects from Host: keep the client's, so they point back
    // at the emulator (and a SigV4 signature, which covers Host, stays consistent).
    let host = req.header("host").map(str::to_owned).unwrap_or_else(|| upstream.to_string());
    head.push_str(&format!("Host: {host}\r\nConnection: close\r\n"));
    for (name, value) in &req.headers {
        let skip =
            ["host", "connection", "keep-alive", "content-length", "transfer-encoding", "expect", "te", "upgrade"];
        if skip.iter().any(|it| name.eq_ignore_ascii_case(it)) || name.to_ascii_lowercase().starts_with("proxy-") {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !req.body.is_empty() || matches!(req.method.as_str(), "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", req.body.len()));
    }
    head.push_str("\r\n");
    let mut writer = stream.try_clone()?;
    writer.write_all(head.as_bytes())?;
    writer.write_all(&req.body)?;
    writer.flush()?;

    let mut reader = BufReader::new(stream);
    let (status, headers) = loop {
        let (status, headers) = read_head(&mut reader)?;
        if status >= 200 {
            break (status, headers);
        }
        // A 1xx interim answer: the real one follows.
    };
    let mut kept: Vec<(String, String)> = Vec::new();
    for (name, value) in &headers {
        let hop = ["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "trailer"];
        if !hop.iter().any(|it| name.eq_ignore_ascii_case(it)) {
            kept.push((name.clone(), value.clone()));
        }
    }
    let no_body = req.method == "HEAD" || status == 204 || status == 304;
    let chunked =
        http::header(&headers, "transfer-encoding").is_some_and(|it| it.to_ascii_lowercase().contains("chunked"));
    let length = http::header(&headers, "content-length").and_then(|it| it.trim().parse::<u64>().ok());
    let body = if no_body {
        // A HEAD answer keeps the upstream length (the writer sends a body's own
        // length, and none for HEAD): clients such as uv size range requests by it.
        match length {
            Some(length) => Body::Stream(Box::new(std::io::empty()), Some(length)),
            None => Body::Bytes(Vec::new()),
        }
    } else if chunked {
        Body::Bytes(http::read_chunked(&mut reader, 256 * 1024 * 1024).map_err(|_| bad_upstream("bad chunked body"))?)
    } else {
        Body::Stream(Box::new(reader), length)
    };
    Ok(Response { status, reason: None, headers: kept, body, after: http::After::KeepAlive })
}

fn bad_upstream(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("the upstream server sent {what}"))
}

fn read_head(reader: &mut impl BufRead) -> std::io::Result<(u16, Vec<(String, String)>)> {
    let line = http::read_line(reader, http::MAX_LINE)
        .map_err(|_| bad_upstream("a malformed status line"))?
        .ok_or_else(|| bad_upstream("no answer"))?;
    let line = String::from_utf8_lossy(&line).into_owned();
    let mut parts = line.splitn(3, ' ');
    let (Some(version), Some(status)) = (parts.next(), parts.next()) else {
        return Err(bad_upstream("a malformed status line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(bad_upstream("an unknown protocol"));
    }
    let status = status.parse().map_err(|_| bad_upstream("a malformed status code"))?;
    let headers = http::read_headers(reader).map_err(|_| bad_upstream("malformed headers"))?;
    Ok((status, headers))
}

//! A small HTTP/1.1 server and response reader on `std::net`, just enough for the
//! emulator and its PyPI forwarder.
//!
//! Why not tiny_http: the emulator must be able to drop a connection without an
//! answer (the "connection reset" upload fault), to close a connection after a
//! response, and to accept the AWS SDK's POSTs that carry neither `Content-Length`
//! nor `Transfer-Encoding`. tiny_http drops `Connection` response headers and answers
//! 500 for a request it was not given a response for, so it cannot do the first two.
//! Everything here is bounded: line and header sizes, header count, body size and
//! idle time, so malformed or hostile input ends in a 4xx answer, never a panic.
//!
//! The parts: the request and response types and the status phrases here;
//! `read.rs` parses requests, `write.rs` writes answers, `server.rs` runs the
//! accept loop and the connections.

use std::{io::Read, sync::Mutex, time::Duration};

mod read;
mod server;
mod write;

pub(crate) use read::{MAX_LINE, read_chunked, read_headers, read_line};
pub(crate) use server::Server;

/// One parsed request, its body read completely.
pub(crate) struct Request {
    pub method: String,
    /// The raw request target (path and query), not percent-decoded.
    pub target: String,
    pub http10: bool,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Which connection of this server it came on (counted from 0): requests that
    /// share one came from the same client, such as a forward proxy.
    pub connection: u64,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(path, _)| path)
    }

    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    fn wants_close(&self) -> bool {
        let connection = self.header("connection").unwrap_or("").to_ascii_lowercase();
        if self.http10 { !connection.contains("keep-alive") } else { connection.contains("close") }
    }
}

/// Case-insensitive lookup of the first header called `name`.
pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
}

pub(crate) enum Body {
    Bytes(Vec<u8>),
    /// Streamed from a reader; with a length it is sent with `Content-Length`,
    /// without one chunked (HTTP/1.1) or delimited by closing the connection.
    Stream(Box<dyn Read + Send>, Option<u64>),
    /// Announced as 1 MB, sent a byte every 200 ms (each flushed) until the time
    /// given, then the connection breaks (`Response::trickled`).
    Trickle(std::time::Instant),
}

/// What happens to the connection after the handler returned.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum After {
    /// Normal HTTP/1.1 keep-alive rules.
    KeepAlive,
    /// Send nothing and close the connection: the client sees the connection drop
    /// while it waits for the answer.
    Drop,
    /// Send nothing and keep the connection open until the client closes it or the
    /// time is up, then close it: a stalled server.
    Stall(Duration),
}

pub(crate) struct Response {
    pub status: u16,
    /// The reason phrase of the status line, when not the standard one (hostile
    /// server tests); CR and LF are dropped from it.
    pub reason: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    pub after: After,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            reason: None,
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            body: Body::Bytes(body.into()),
            after: After::KeepAlive,
        }
    }

    pub fn text(status: u16, body: impl Into<String>) -> Response {
        let mut body = body.into();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        Response::new(status, "text/plain; charset=utf-8", body)
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::new(status, "application/json", value.to_string())
    }

    pub fn stalled(max: Duration) -> Response {
        Response {
            status: 0,
            reason: None,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
            after: After::Stall(max),
        }
    }

    /// A 200 whose body (announced as 1 MB) comes a byte every 200 ms for `max`,
    /// then the connection breaks: see `Fault::Trickle`.
    pub fn trickled(max: Duration) -> Response {
        Response {
            status: 200,
            reason: None,
            headers: vec![("Content-Type".to_owned(), "text/plain".to_owned())],
            body: Body::Trickle(std::time::Instant::now() + max),
            after: After::KeepAlive,
        }
    }

    pub fn dropped() -> Response {
        Response { status: 0, reason: None, headers: Vec::new(), body: Body::Bytes(Vec::new()), after: After::Drop }
    }

    pub fn with_reason(mut self, reason: &str) -> Response {
        self.reason = Some(reason.replace(['\r', '\n'], ""));
        self
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

pub(crate) type Handler = dyn Fn(Request) -> Response + Send + Sync;

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking handler thread must not take the whole emulator down with it.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        413 => "Content Too Large",
        414 => "URI Too Long",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

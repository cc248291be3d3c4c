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

use std::{
    collections::HashMap,
    io::{self, BufRead, BufReader, Read, Write},
    net::{Shutdown, SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread,
    time::Duration,
};

/// Longest request or status line accepted (a "huge query" beyond it gets 414).
pub(crate) const MAX_LINE: usize = 16 * 1024;
/// Largest header block accepted.
const MAX_HEADERS_BYTES: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;
/// Largest request body accepted; distributions of a test package are far smaller.
const MAX_BODY: usize = 256 * 1024 * 1024;
/// A keep-alive connection that stays silent this long is closed, so threads end.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A client that takes no part of an answer for this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; one more waits in the listen queue until one ends,
/// so a flood cannot start a thread per connection without end.
const MAX_CONNECTIONS: usize = 256;

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

/// A listening server; dropping it stops accepting and closes every open connection.
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    connections: Arc<Mutex<HashMap<u64, TcpStream>>>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(listener: TcpListener, handler: Arc<Handler>) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<HashMap<u64, TcpStream>>> = Arc::default();
        let acceptor = {
            let stop = stop.clone();
            let connections = connections.clone();
            thread::Builder::new()
                .name(format!("castack-accept-{}", addr.port()))
                .spawn(move || accept_loop(listener, handler, stop, connections))?
        };
        Ok(Server { addr, stop, connections, acceptor: Some(acceptor) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // `accept` has no timeout: a connection of our own wakes it up to see `stop`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let connections = std::mem::take(&mut *lock(&self.connections));
        for stream in connections.values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking handler thread must not take the whole emulator down with it.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn accept_loop(
    listener: TcpListener,
    handler: Arc<Handler>,
    stop: Arc<AtomicBool>,
    connections: Arc<Mutex<HashMap<u64, TcpStream>>>,
) {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    // A failing accept (out of file descriptors, say) is retried after a pause that
    // grows to a second, instead of spinning on the error.
    let mut backoff = Duration::from_millis(10);
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let stream = match stream {
            Ok(stream) => stream,
            Err(_) => {
                thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(10);
        while lock(&connections).len() >= MAX_CONNECTIONS && !stop.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(5));
        }
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            lock(&connections).insert(id, clone);
        }
        let handler = handler.clone();
        let stop = stop.clone();
        let registry = connections.clone();
        let spawned = thread::Builder::new().name("castack-conn".to_owned()).spawn(move || {
            serve_connection(stream, id, &*handler, &stop);
            lock(&registry).remove(&id);
        });
        if spawned.is_err() {
            // Out of threads: the stream was moved into the failed closure and is
            // closed with it; forget its clone too.
            lock(&connections).remove(&id);
        }
    }
}

fn serve_connection(stream: TcpStream, id: u64, handler: &Handler, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let request = match read_request(&mut reader, &mut writer) {
            Ok(Some(request)) => Request { connection: id, ..request },
            Ok(None) => return,
            Err(ReadError::Io) => return,
            Err(ReadError::Bad(status, message)) => {
                let response = Response::text(status, message);
                let _ = write_response(&mut writer, response, false, true);
                return;
            }
        };
        let head_only = request.method == "HEAD";
        let mut keep = !request.wants_close();
        let http10 = request.http10;
        let response = handler(request);
        match response.after {
            After::Drop => {
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            After::Stall(max) => {
                wait_for_close(reader.get_mut(), max, stop);
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            After::KeepAlive => {}
        }
        if stop.load(Ordering::SeqCst) {
            keep = false;
        }
        match write_response(&mut writer, response, head_only, !keep || http10) {
            Ok(kept) if kept && keep && !http10 => {}
            _ => return,
        }
    }
}

/// Holds a connection silent until the peer closes it (a read sees the end), `max`
/// passes, or the server stops.
fn wait_for_close(stream: &mut TcpStream, max: Duration, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let end = std::time::Instant::now() + max;
    let mut buf = [0u8; 1024];
    while std::time::Instant::now() < end && !stop.load(Ordering::SeqCst) {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(err) if matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

pub(crate) enum ReadError {
    /// The peer went away or timed out: close without answering.
    Io,
    /// Malformed request: answer with this status and message, then close.
    Bad(u16, String),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> ReadError {
        ReadError::Io
    }
}

/// Reads one line ending in LF (CR before it removed), at most `max` bytes. `None`
/// at a clean end of stream before any byte.
pub(crate) fn read_line(reader: &mut impl BufRead, max: usize) -> Result<Option<Vec<u8>>, ReadError> {
    let mut line = Vec::new();
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(ReadError::Io),
        };
        if available.is_empty() {
            return if line.is_empty() { Ok(None) } else { Err(ReadError::Io) };
        }
        let (used, done) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        line.extend_from_slice(&available[..used]);
        reader.consume(used);
        if line.len() > max + 2 {
            return Err(ReadError::Bad(414, "request line or header too long".to_owned()));
        }
        if done {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Some(line));
        }
    }
}

/// Reads header lines up to the empty line.
pub(crate) fn read_headers(reader: &mut impl BufRead) -> Result<Vec<(String, String)>, ReadError> {
    let mut headers = Vec::new();
    let mut total = 0;
    loop {
        let line = read_line(reader, MAX_LINE)
            .map_err(|err| match err {
                ReadError::Bad(..) => ReadError::Bad(431, "header line too long".to_owned()),
                other => other,
            })?
            .ok_or(ReadError::Io)?;
        if line.is_empty() {
            return Ok(headers);
        }
        total += line.len();
        if total > MAX_HEADERS_BYTES || headers.len() >= MAX_HEADERS {
            return Err(ReadError::Bad(431, "too many or too large headers".to_owned()));
        }
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(ReadError::Bad(400, "obsolete header line folding is not supported".to_owned()));
        }
        let line = String::from_utf8(line).map_err(|_| ReadError::Bad(400, "header is not valid UTF-8".to_owned()))?;
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::Bad(400, format!("malformed header line {line:?}")));
        };
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(ReadError::Bad(400, format!("malformed header name {name:?}")));
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn read_request(reader: &mut BufReader<TcpStream>, writer: &mut TcpStream) -> Result<Option<Request>, ReadError> {
    // RFC 9112 2.2: ignore at least one empty line before the request line.
    let mut line = None;
    for _ in 0..4 {
        match read_line(reader, MAX_LINE)? {
            None => return Ok(None),
            Some(it) if it.is_empty() => continue,
            Some(it) => {
                line = Some(it);
                break;
            }
        }
    }
    let Some(line) = line else { return Err(ReadError::Bad(400, "no request line".to_owned())) };
    let line =
        String::from_utf8(line).map_err(|_| ReadError::Bad(400, "request line is not valid UTF-8".to_owned()))?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(400, "malformed request line".to_owned()));
    };
    if method.is_empty() || !method.bytes().all(is_token_byte) {
        return Err(ReadError::Bad(400, "malformed method".to_owned()));
    }
    if !target.starts_with('/') || target.bytes().any(|b| b.is_ascii_control()) {
        return Err(ReadError::Bad(400, "request target must be an absolute path".to_owned()));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(ReadError::Bad(505, format!("unsupported protocol version {version:?}"))),
    };
    let headers = read_headers(reader)?;

    let chunked = match header(&headers, "transfer-encoding") {
        None => false,
        Some(value) if value.to_ascii_lowercase().trim_end().ends_with("chunked") => true,
        Some(value) => {
            return Err(ReadError::Bad(501, format!("unsupported Transfer-Encoding {value:?}")));
        }
    };
    let mut length = None;
    for (name, value) in &headers {
        if name.eq_ignore_ascii_case("content-length") {
            let parsed: usize =
                value.parse().map_err(|_| ReadError::Bad(400, format!("malformed Content-Length {value:?}")))?;
            if length.is_some_and(|it| it != parsed) {
                return Err(ReadError::Bad(400, "conflicting Content-Length headers".to_owned()));
            }
            length = Some(parsed);
        }
    }
    if length.is_some_and(|it| it > MAX_BODY) {
        return Err(ReadError::Bad(413, "request body too large".to_owned()));
    }
    let has_body = chunked || length.is_some_and(|it| it > 0);
    if has_body && !http10 && header(&headers, "expect").is_some_and(|it| it.eq_ignore_ascii_case("100-continue")) {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    // The AWS SDK sends empty POSTs with neither header: the body is empty then.
    let body = if chunked {
        read_chunked(reader, MAX_BODY)?
    } else if let Some(length) = length {
        // Read what arrives rather than allocating what the header claims.
        let mut body = Vec::new();
        reader.take(length as u64).read_to_end(&mut body)?;
        if body.len() != length {
            return Err(ReadError::Io);
        }
        body
    } else {
        Vec::new()
    };
    Ok(Some(Request { method: method.to_owned(), target: target.to_owned(), http10, headers, body, connection: 0 }))
}

/// Reads a chunked body (and its trailers) completely.
pub(crate) fn read_chunked(reader: &mut impl BufRead, max: usize) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader, 1024)?.ok_or(ReadError::Io)?;
        let line = String::from_utf8_lossy(&line);
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| ReadError::Bad(400, format!("malformed chunk size {size:?}")))?;
        if size == 0 {
            read_headers(reader)?; // trailers
            return Ok(body);
        }
        if body.len().saturating_add(size) > max {
            return Err(ReadError::Bad(413, "request body too large".to_owned()));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let end = read_line(reader, 0)?.ok_or(ReadError::Io)?;
        if !end.is_empty() {
            return Err(ReadError::Bad(400, "chunk not followed by CRLF".to_owned()));
        }
    }
}

/// Writes `response`; returns whether the connection may stay open.
fn write_response(writer: &mut TcpStream, response: Response, head_only: bool, close: bool) -> io::Result<bool> {
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
                out.write_all(b"0\r\n\r\n")?;
            }
        }
    }
    out.flush()?;
    Ok(keep)
}

fn write_connection(out: &mut impl Write, keep: bool) -> io::Result<()> {
    out.write_all(if keep { b"\r\n" } else { b"Connection: close\r\n\r\n" })
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

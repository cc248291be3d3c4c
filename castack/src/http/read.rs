//! Reading requests: the request line, headers and body (by `Content-Length`,
//! chunked, or empty for the AWS SDK's bare POSTs), each bounded in size, so that a
//! malformed or hostile request ends in a 4xx answer ([`ReadError::Bad`]), never a
//! panic. `forward.rs` reads upstream answers with the same line, header and
//! chunk readers.

use std::{
    io::{self, BufRead, BufReader, Read, Write},
    net::TcpStream,
};

use super::{Request, header};

/// Longest request or status line accepted (a "huge query" beyond it gets 414).
pub(crate) const MAX_LINE: usize = 16 * 1024;
/// Largest header block accepted.
const MAX_HEADERS_BYTES: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;
/// Largest request body accepted; distributions of a test package are far smaller.
const MAX_BODY: usize = 256 * 1024 * 1024;

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

pub(super) fn read_request(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
) -> Result<Option<Request>, ReadError> {
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

    let (chunked, length) = framing(&headers)?;
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

/// How the request's body is delimited: chunked, and the `Content-Length` (every
/// copy of it must agree); any other transfer coding is refused.
fn framing(headers: &[(String, String)]) -> Result<(bool, Option<usize>), ReadError> {
    let chunked = match header(headers, "transfer-encoding") {
        None => false,
        Some(value) if value.to_ascii_lowercase().trim_end().ends_with("chunked") => true,
        Some(value) => {
            return Err(ReadError::Bad(501, format!("unsupported Transfer-Encoding {value:?}")));
        }
    };
    let mut length = None;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("content-length") {
            let parsed: usize =
                value.parse().map_err(|_| ReadError::Bad(400, format!("malformed Content-Length {value:?}")))?;
            if length.is_some_and(|it| it != parsed) {
                return Err(ReadError::Bad(400, "conflicting Content-Length headers".to_owned()));
            }
            length = Some(parsed);
        }
    }
    Ok((chunked, length))
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

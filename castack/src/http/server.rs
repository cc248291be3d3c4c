//! The server loop: accepting connections (bounded in number), one thread per
//! connection reading requests ([`super::read`]) and writing the handler's answers
//! ([`super::write`]) under keep-alive rules, and the faults that answer nothing
//! (`After::Drop`, `After::Stall`). Dropping the [`Server`] stops it.

use std::{
    collections::HashMap,
    io::{self, BufReader, Read},
    net::{Shutdown, SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread,
    time::Duration,
};

use super::{
    After, Handler, Request, Response, lock,
    read::{ReadError, read_request},
    write::write_response,
};

/// A keep-alive connection that stays silent this long is closed, so threads end.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A client that takes no part of an answer for this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; one more waits in the listen queue until one ends,
/// so a flood cannot start a thread per connection without end.
const MAX_CONNECTIONS: usize = 256;

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

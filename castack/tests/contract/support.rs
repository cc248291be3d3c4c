//! Shared pieces of the contract tests: a package folder with fixture files, an
//! emulator on it, AWS SDK clients pointed at it, and a raw HTTP client for what the
//! SDK cannot send.

use std::{
    fs,
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use aws_config::{BehaviorVersion, Region, retry::RetryConfig};
use aws_sdk_codeartifact::{Client, config::Credentials};
use aws_smithy_http_client::tls;
use castack::{AwsKey, Emulator, EmulatorConfig};

/// The key pair the contract tests sign with; every fixture's emulator knows it.
pub const ACCESS_KEY: &str = "AKIDCONTRACTTEST0001";
pub const SECRET: &str = "contract-secret";

/// The fixture files: contents, and their digests computed with coreutils.
pub const WHEEL_100: &str = "demo_pkg-1.0.0-py3-none-any.whl";
pub const SDIST_100: &str = "demo_pkg-1.0.0.tar.gz";
pub const WHEEL_110: &str = "demo_pkg-1.1.0-py3-none-any.whl";
pub const WHEEL_100_MD5: &str = "3827268f25d3d52c3c477db206a39911";
pub const WHEEL_100_SHA1: &str = "496f04a81249d7ab3db920139c314b76525ffa88";
pub const WHEEL_100_SHA256: &str = "8a1753815a6791d23f83e7d05b569d6c07b5fe63dffb14fc663bc5bdb1280568";
pub const WHEEL_100_SHA512: &str = "105fb74d4e527d9edd7ee990606da6567159007842250146221c8fe82b3bcf4c0c4fa53c5bdb3546e8e3662fd984cdfdb43a3e96c6f8b46b08147161ce6e6f58";
pub const SDIST_100_SHA256: &str = "53bc52c204c6a81ae62f2929d026eb38850bfbdd4921b323017ddbdcca73e6c3";
/// Publication times (file modification times) of the fixture versions.
pub const PUBLISHED_100: u64 = 1_700_000_000;
pub const PUBLISHED_110: u64 = 1_700_001_000;

/// A temporary folder, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("castack-contract-{label}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// An emulator serving a package folder with `demo-pkg` 1.0.0 (wheel + sdist),
/// 1.1.0 (wheel), `other-thing` 2.0 and a file that is no distribution.
pub struct Fixture {
    pub emulator: Emulator,
    pub dir: TempDir,
}

pub fn fixture() -> Fixture {
    fixture_with(|_| {})
}

pub fn fixture_with(configure: impl FnOnce(&mut EmulatorConfig)) -> Fixture {
    let dir = TempDir::new("pkgs");
    let packages = dir.path().join("packages");
    fs::create_dir_all(&packages).unwrap();
    let put = |name: &str, body: &str, time: u64| {
        let path = packages.join(name);
        fs::write(&path, body).unwrap();
        let file = fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(UNIX_EPOCH + Duration::from_secs(time)).unwrap();
    };
    put(WHEEL_100, "wheel 1.0.0", PUBLISHED_100);
    put(SDIST_100, "sdist 1.0.0", PUBLISHED_100 + 1);
    put(WHEEL_110, "wheel 1.1.0", PUBLISHED_110);
    put("Other.Thing-2.0.tar.gz", "other", PUBLISHED_100);
    put("README.txt", "not a distribution", PUBLISHED_100);
    let mut config = EmulatorConfig::new(&packages);
    config.credentials.push(AwsKey::new(ACCESS_KEY, SECRET));
    config.htpasswd = Some(dir.path().join("htpasswd"));
    configure(&mut config);
    let emulator = Emulator::start(config).expect("start the emulator");
    Fixture { emulator, dir }
}

/// A CodeArtifact client of the real SDK, one attempt per call.
pub async fn client(emulator: &Emulator) -> Client {
    client_with(emulator, RetryConfig::standard().with_max_attempts(1)).await
}

/// A client with standard retries, fast backoff (the point of such tests is the
/// retry decision, not the wait).
pub async fn retrying_client(emulator: &Emulator, attempts: u32) -> Client {
    let retry = RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(10))
        .with_max_backoff(Duration::from_millis(50));
    client_with(emulator, retry).await
}

async fn client_with(emulator: &Emulator, retry: RetryConfig) -> Client {
    Client::new(&sdk_config(emulator, Credentials::new(ACCESS_KEY, SECRET, None, None, "contract"), retry).await)
}

/// SDK configuration for any client of the emulator (CodeArtifact or STS).
pub async fn sdk_config(emulator: &Emulator, credentials: Credentials, retry: RetryConfig) -> aws_config::SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(emulator.url())
        .http_client(http)
        .retry_config(retry)
        .load()
        .await
}

/// An STS client of the real SDK pointed at the emulator (as `AWS_ENDPOINT_URL_STS`
/// does), signing with `credentials`, one attempt per call.
pub async fn sts_client(emulator: &Emulator, credentials: Credentials) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::new(&sdk_config(emulator, credentials, RetryConfig::standard().with_max_attempts(1)).await)
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// An answer read by [`raw`].
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.body))
    }
}

/// Seconds since the epoch now: the signing time of [`signed_head`].
pub fn now() -> u64 {
    epoch(SystemTime::now())
}

/// The head (request line and headers, without the final empty line) of a request
/// signed as the SDK signs one: with `key`, for `service` in `region`, at `at`
/// (seconds since the epoch), over `body` and `extra` headers.
pub fn signed_head_with(
    emulator: &Emulator,
    (method, target, body): (&str, &str, &[u8]),
    extra: &[(&str, &str)],
    key: &AwsKey,
    (region, service, at): (&str, &str, u64),
) -> String {
    let mut headers = vec![("Host".to_owned(), emulator.addr().to_string())];
    headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    castack::sign_request((method, target, body), &mut headers, key, (region, service), at);
    let mut head = format!("{method} {target} HTTP/1.1\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head
}

/// [`signed_head_with`] the contract tests' key, now.
pub fn signed_head(
    emulator: &Emulator,
    request: (&str, &str, &[u8]),
    extra: &[(&str, &str)],
    (region, service): (&str, &str),
) -> String {
    signed_head_with(emulator, request, extra, &AwsKey::new(ACCESS_KEY, SECRET), (region, service, now()))
}

/// Sends exactly `head` (request line and headers, without the final empty line)
/// plus `body` on a new connection and reads one answer.
pub fn raw_bytes(emulator: &Emulator, head: &str, body: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(emulator.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut bytes = head.as_bytes().to_vec();
    bytes.extend_from_slice(b"Connection: close\r\n\r\n");
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    parse_answer(&answer)
}

/// A request signed for CodeArtifact in us-east-1 (if `signed`; else with only
/// `X-Amz-Date`), no body and no `Content-Length`, as the SDK sends its POSTs.
pub fn raw(emulator: &Emulator, method: &str, target: &str, signed: bool) -> Raw {
    let head = if signed {
        signed_head(emulator, (method, target, b""), &[], ("us-east-1", "codeartifact"))
    } else {
        let date = castack_amz_date(now());
        format!("{method} {target} HTTP/1.1\r\nHost: {}\r\nX-Amz-Date: {date}\r\n", emulator.addr())
    };
    raw_bytes(emulator, &head, b"")
}

/// `YYYYMMDDTHHMMSSZ` of `secs`, read back from a signature castack makes.
pub fn castack_amz_date(secs: u64) -> String {
    let mut headers = vec![("Host".to_owned(), "x".to_owned())];
    castack::sign_request(("GET", "/", b""), &mut headers, &AwsKey::new("A", "s"), ("r", "s"), secs);
    headers.into_iter().find(|(k, _)| k == "X-Amz-Date").unwrap().1
}

/// A control API call with an optional JSON body.
pub fn control(emulator: &Emulator, method: &str, path: &str, body: Option<serde_json::Value>) -> Raw {
    let body = body.map(|it| it.to_string()).unwrap_or_default();
    let head = format!(
        "{method} /_castack{path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        emulator.addr(),
        body.len()
    );
    raw_bytes(emulator, &head, body.as_bytes())
}

fn parse_answer(answer: &[u8]) -> Raw {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v == "chunked");
    assert!(!chunked, "raw() does not decode chunked bodies");
    Raw { status, headers, body: body.to_owned() }
}

/// A twine-style upload to `addr`: the form of `twine upload` (`:action`, `name`
/// and `version` as twine reads them from METADATA, `content`), with twine's
/// User-Agent and HTTP Basic user `aws`. `None` when the connection closed without
/// an answer.
pub fn twine_upload(
    addr: std::net::SocketAddr,
    password: Option<&str>,
    (file_name, name, version): (&str, &str, &str),
    content: &[u8],
) -> Option<Raw> {
    let boundary = "castackboundary0123456789";
    let mut body = Vec::new();
    let mut field = |key: &str, value: &str| {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{key}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    };
    field(":action", "file_upload");
    field("protocol_version", "1");
    field("name", name);
    field("version", version);
    field("sha256_digest", "ignored-the-emulator-hashes-the-content");
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{file_name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut head = format!(
        "POST /pypi/sandbox-repo/ HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: twine/6.2.0\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(password) = password {
        head.push_str(&format!("Authorization: Basic {}\r\n", crate::control::base64_basic("aws", password)));
    }
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes()).unwrap();
    stream.write_all(&body).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    (!answer.is_empty()).then(|| parse_answer(&answer))
}

/// The Python of the stack tools (pypiserver, moto, pip): `CASTACK_PYTHON` when
/// set, else the one `cargo xtask tools stack` provisions (and prints) in the
/// workspace's `target/pytools`, which the xtask tests share. Provisioning needs
/// python3 with venv and access to PyPI; when it fails the test fails and says so,
/// it is never skipped.
pub fn stack_python() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if let Some(python) = std::env::var_os("CASTACK_PYTHON").filter(|it| !it.is_empty()) {
                return PathBuf::from(python);
            }
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let out = std::process::Command::new(cargo)
                .args(["run", "--locked", "--quiet", "--package", "xtask", "--", "tools", "stack"])
                .current_dir(&root)
                .env("XTASK_TOOLS_DIR", root.join("target/pytools"))
                .output()
                .expect("run `cargo xtask tools stack`");
            assert!(
                out.status.success(),
                "provisioning the stack tools (pypiserver, moto) with `cargo xtask tools stack` failed; it needs \
                 python3 (3.10+) with venv and access to PyPI, or set CASTACK_PYTHON to an interpreter that has \
                 them:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
        })
        .clone()
}

pub fn epoch(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

//! `release --publish-only DIR` in the publish job (GitHub Actions, OIDC) against an
//! artifact whose archives were rewritten by whoever controlled the build job, with
//! a manifest to match: archives that two readers read differently, archives that
//! unpack without bound, a manifest that is a link or a FIFO, and archive faults
//! that once surfaced as Python tracebacks. Each is refused before Authenticate,
//! with the file, the member and the rule named, no request sent, and within a
//! bound of time and memory. The archives come from `hostile_dists.py`.

use std::{
    fs,
    io::Read,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::Stdio,
    sync::OnceLock,
    time::{Duration, Instant},
};

use castack::Stack;
use serde_json::Value;

use crate::{
    adversary::assert_refused_before_authenticate,
    support::{
        Creds, TempDir, copy_dir, copy_repo, git, release_env, repo_root, start_stack, text, tools_python, uploads,
        xtask, xtask_command,
    },
};

/// One `--build-only` of v1.0.0, made once for every test of this module (it is
/// only read: each test works on a copy of its output).
pub(crate) struct Built {
    repo: TempDir,
    pub(crate) dist: PathBuf,
    commit: String,
}

pub(crate) fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let repo = copy_repo("hostile-archives");
        git(repo.path(), &["tag", "v1.0.0"]);
        let out = xtask(repo.path(), &["release", "v1.0.0", "--build-only"], &[]);
        assert!(out.status.success(), "{}", text(&out));
        let commit = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_owned();
        let dist = repo.path().join("target/dist/1.0.0");
        Built { repo, dist, commit }
    })
}

/// A copy of the built artifact, and the environment of the publish job.
struct Artifact {
    _dir: TempDir,
    path: PathBuf,
    vars: Vec<(String, String)>,
}

fn artifact(stack: &Stack) -> Artifact {
    let built = built();
    let dir = TempDir::new("hostile-artifact");
    let path = dir.path().join("1.0.0");
    fs::create_dir(&path).unwrap();
    copy_dir(&built.dist, &path);
    let mut vars = release_env(stack, Creds::GithubOidc, "v1.0.0", &[]);
    vars.push(("GITHUB_SHA".to_owned(), built.commit.clone()));
    Artifact { _dir: dir, path, vars }
}

/// Rewrites one archive of `dir` as `case` of `hostile_dists.py` says, and the
/// manifest to match (as an attacker who controls the build job could).
fn make_hostile(dir: &Path, case: &str) -> String {
    let script = repo_root().join("xtask/tests/it/hostile_dists.py");
    let out = std::process::Command::new(tools_python("release")).arg(script).args([case]).arg(dir).output().unwrap();
    assert!(out.status.success(), "hostile_dists.py {case}: {}", text(&out));
    let file = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let data = fs::read(dir.join(&file)).unwrap();
    let (size, sha) = (data.len() as u64, crate::support::sha256_hex(&data));
    let path = dir.join("manifest.json");
    let mut manifest: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    for entry in manifest["files"].as_array_mut().unwrap() {
        if entry["file"] == file.as_str() {
            entry["size"] = size.into();
            entry["sha256"] = sha.clone().into();
        }
    }
    fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
    file
}

/// How long one refused `--publish-only` may take, start-up of Python included.
const BOUND: Duration = Duration::from_secs(60);

/// Runs `release --publish-only` on the artifact with a limit on its address space
/// (4 GiB: a run that reads without bound fails, instead of taking the machine's
/// memory), and stops it (its whole process group) when it outlives `BOUND`.
fn publish_only(artifact: &Artifact) -> (bool, String) {
    let repo = built().repo.path();
    let owned: Vec<(String, std::ffi::OsString)> = artifact.vars.iter().map(|(k, v)| (k.clone(), v.into())).collect();
    let envs: Vec<(&str, &std::ffi::OsStr)> = owned.iter().map(|(k, v)| (k.as_str(), v.as_os_str())).collect();
    let dir = artifact.path.to_str().unwrap();
    let mut cmd = xtask_command(repo, &["release", "--publish-only", dir], &envs);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: 4 << 30, rlim_max: 4 << 30 };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let read = |mut stream: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = stream.read_to_end(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > BOUND {
            let _ = std::process::Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            let _ = child.wait();
            panic!("`release --publish-only` did not end within {BOUND:?}:\n{}", stderr.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status.success(), format!("{}{}", stdout.join().unwrap(), stderr.join().unwrap()))
}

/// Refused before Authenticate, with every `wanted` text in the message, no Python
/// traceback and no advice about pyproject.toml (the archive is at fault).
fn assert_refused(stack: &Stack, case: &str, (ok, log): (bool, String), wanted: &[&str]) {
    assert_refused_before_authenticate(stack, case, ok, &log);
    for want in wanted {
        assert!(log.contains(want), "`{case}`: the message should say {want:?}:\n{log}");
    }
    assert!(!log.contains("Traceback"), "`{case}`: a traceback instead of a message:\n{log}");
    assert!(!log.contains("pyproject.toml"), "`{case}`: advice about pyproject.toml for a hostile archive:\n{log}");
}

/// The cases of one class, each on a fresh copy of the artifact; then the untouched
/// artifact publishes (the refusals were about the archives).
fn refuse_each(cases: &[(&str, &[&str])]) {
    let stack = start_stack();
    // Every case runs, and every one that fails is named.
    let mut failed = Vec::new();
    for (case, wanted) in cases {
        let run = std::panic::AssertUnwindSafe(|| {
            stack.emulator().reset();
            let artifact = artifact(&stack);
            let file = make_hostile(&artifact.path, case);
            let started = Instant::now();
            let result = publish_only(&artifact);
            let mut wanted = wanted.to_vec();
            wanted.push(&file);
            assert_refused(&stack, case, result, &wanted);
            eprintln!("{case}: refused in {:.2} s", started.elapsed().as_secs_f64());
        });
        if std::panic::catch_unwind(run).is_err() {
            failed.push(*case);
        }
    }
    assert!(failed.is_empty(), "not refused as they should be: {failed:?}");
    stack.emulator().reset();
    let (ok, log) = publish_only(&artifact(&stack));
    assert!(ok, "the untouched artifact does not publish:\n{log}");
    assert_eq!(uploads(&stack).len(), 2);
}

#[test]
fn archives_that_two_readers_read_differently_are_refused() {
    refuse_each(&[
        // twine would send the decoy's name and version.
        ("decoy-metadata", &["member \"METADATA\"", "twine"]),
        ("metadata-twice", &["member \"yamause-1.0.0.dist-info/METADATA\"", "more than once"]),
        ("unhashed-traversal", &["member \"yamause/zzz.py\"", "local header"]),
        ("foreign-dist-info", &["\"decoy-1.0.0.dist-info\"", "binary-distribution-format"]),
        ("pax-size", &["member \"yamause-1.0.0/cover.txt\"", "PAX", "size"]),
    ]);
}

#[test]
fn archives_that_unpack_without_bound_are_refused() {
    refuse_each(&[
        ("declared-bomb", &["member \"yamause/zeros.bin\"", "256 MiB"]),
        ("ratio-bomb", &["compression ratio", "100"]),
    ]);
}

#[test]
fn archive_faults_are_messages_not_tracebacks() {
    refuse_each(&[
        ("absolute-member", &["member \"/tmp/yamause-absolute.txt\"", "absolute"]),
        ("pax-dotdot", &["\"../../escape.txt\"", ".."]),
        ("two-versions", &["Version", "more than once", "core-metadata"]),
    ]);
}

#[test]
fn a_manifest_or_archive_that_is_no_regular_file_is_never_read() {
    let stack = start_stack();
    let fifo = |path: &Path| {
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo {}", path.display());
    };
    // The manifest as a link to /dev/zero (reading it would never end), and as a
    // FIFO (opening it for reading would block until someone writes).
    let linked = artifact(&stack);
    let manifest = linked.path.join("manifest.json");
    fs::remove_file(&manifest).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &manifest).unwrap();
    assert_refused(&stack, "manifest -> /dev/zero", publish_only(&linked), &["manifest.json", "symbolic link"]);
    fs::remove_file(&manifest).unwrap();
    fifo(&manifest);
    assert_refused(&stack, "manifest FIFO", publish_only(&linked), &["manifest.json", "not a regular file"]);
    // A wheel that is a FIFO.
    let piped = artifact(&stack);
    let wheel = piped.path.join("yamause-1.0.0-py3-none-any.whl");
    fs::remove_file(&wheel).unwrap();
    fifo(&wheel);
    assert_refused(&stack, "wheel FIFO", publish_only(&piped), &["yamause-1.0.0-py3-none-any.whl", "not a regular"]);
}

/// The uploader compares twine's own reading of each file (the package twine is
/// about to send) with what the inspection checked, and sends nothing when they
/// differ: a file that changed after the inspection, or a reader that disagrees.
/// The repository is a `.invalid` host: nothing could be sent anyway, and nothing is
/// tried (the refusal comes before any connection).
#[test]
fn twine_sends_only_what_the_inspection_checked() {
    let built = built();
    let wheel = built.dist.join("yamause-1.0.0-py3-none-any.whl");
    let sha = crate::support::sha256_file(&wheel);
    let upload = |version: &str, sha256: &str| -> Value {
        let line = serde_json::json!({ "path": wheel, "name": "yamause", "version": version, "sha256": sha256, "deadline": 20 });
        let mut child = std::process::Command::new(tools_python("release"))
            .arg(repo_root().join("xtask/src/release/publish/upload_dists.py"))
            .arg("--stdin")
            .env("TWINE_USERNAME", "aws")
            .env("TWINE_PASSWORD", "not-a-token-at-all")
            .env("TWINE_REPOSITORY_URL", "https://repository.invalid/pypi/r/")
            .env("XTASK_CONNECT_TIMEOUT", "2")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), format!("{line}\n").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("{}"))
            .unwrap_or_else(|_| panic!("no result line: {}", text(&out)))
    };
    let other_version = upload("9.9.9", &sha);
    assert_eq!(other_version["kind"], "mismatch", "{other_version}");
    assert!(other_version["reason"].as_str().unwrap().contains("twine read yamause 1.0.0"), "{other_version}");
    let other_content = upload("1.0.0", &"0".repeat(64));
    assert_eq!(other_content["kind"], "mismatch", "{other_content}");
    // What the inspection checked goes on to the network (and fails there: the
    // name does not resolve).
    let same = upload("1.0.0", &sha);
    assert_eq!(same["kind"], "name", "{same}");
}

/// Each rule of the strict reading, on an archive that breaks it and nothing else
/// (`RULES` of `hostile_dists.py`), straight through the inspector: refused, with
/// the member (when there is one) and the rule named.
#[test]
fn the_inspector_names_the_rule_of_each_refusal() {
    let cases: &[(&str, &str)] = &[
        ("zip-comment", "end-of-central-directory record"),
        ("zip-trailing", "end-of-central-directory record"),
        ("zip-prefix", "the central directory does not end where the end record begins"),
        ("zip-overlap", "member \"yamause/again.py\": its local header starts inside the member before it"),
        ("zip-symlink", "member \"yamause/link.py\": a symbolic link"),
        ("zip-encrypted", "member \"yamause/secret.py\": general purpose flags 0x0001"),
        ("zip-bzip2", "member \"yamause/b.py\": compression method 12"),
        ("zip-cp437", "a non-ASCII name without the UTF-8 flag"),
        ("zip-unicode-extra", "member \"yamause/u.py\": an extra field with a Unicode path"),
        ("zip-lying-size", "member \"yamause/lie.py\": it unpacks to more than the 10 bytes it declares"),
        ("zip-big-candidate", "member \"a/METADATA.bin\": twine reads this member whole"),
        ("zip-trailing-dot", "member \"yamause/x.py.\": a path part that ends in a dot"),
        ("zip-colon", "member \"yamause/x.py:stream\": a path part that ends in a dot or a space, or holds a colon"),
        ("version-trailing-blank", "the Version field ends in blanks"),
        ("pkg-info-alone", "every member is in \"yamause-1.0.0/PKG-INFO\""),
        ("zip-case", "member \"yamause/__ABOUT__.py\": the same name as member \"yamause/__about__.py\" but for case"),
        ("zip-file-folder", "member \"yamause/__init__.py\": a file where other members need a folder"),
        ("zip-dotdot-record", "member \"../outside.py\": an empty, `.` or `..` part"),
        ("record-missing", "member \"yamause/__init__.py\": not listed in RECORD"),
        ("record-wrong-hash", "member \"yamause/__init__.py\": its bytes do not match its RECORD row"),
        ("record-extra-row", "lists \"yamause/ghost.py\", which the archive does not hold"),
        ("record-unhashed-row", "member \"yamause/__init__.py\": its RECORD row has no hash"),
        ("wheel-version-2", "Wheel-Version \"2.0\": pip reads 1.x only"),
        ("two-dist-info", "2 .dist-info folders"),
        ("folded-name", "folds the name field over two lines"),
        ("metadata-bom", "a byte order mark"),
        ("tar-symlink", "member \"yamause-1.0.0/link.py\": a symbolic link"),
        ("tar-hardlink", "member \"yamause-1.0.0/hard.py\": a hard link"),
        ("tar-fifo", "member \"yamause-1.0.0/fifo\": a FIFO"),
        ("tar-global-pax", "a global PAX header"),
        ("tar-longname", "its GNU long name names it \"yamause-1.0.0/../../escape.py\""),
        ("tar-pax-linkpath", "member \"yamause-1.0.0/l.py\": a PAX record \"linkpath\""),
        ("tar-duplicate", "member \"yamause-1.0.0/PKG-INFO\": more than once"),
        ("tar-outside-top", "member \"other-1.0.0/x.py\": outside the top folder \"yamause-1.0.0\""),
        ("tar-base256", "member \"yamause-1.0.0/big.bin\": its size field"),
        ("gzip-two-members", "bytes after the gzip stream"),
        ("tar-after-end", "data after the end-of-archive block"),
        ("tar-bad-checksum", "checksum does not match"),
        ("pkg-info-two-names", "the field Name appears more than once"),
    ];
    let python = tools_python("release");
    let script = repo_root().join("xtask/tests/it/hostile_dists.py");
    let listed = std::process::Command::new(&python).arg(&script).arg("--rules").arg(&built().dist).output().unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    let mut rules: Vec<&str> = listed.lines().collect();
    let mut named: Vec<&str> = cases.iter().map(|(case, _)| *case).collect();
    rules.sort();
    named.sort();
    assert_eq!(rules, named, "every rule of hostile_dists.py has its case here");
    let mut wrong = Vec::new();
    for (case, want) in cases {
        let dir = TempDir::new("rule");
        copy_dir(&built().dist, dir.path());
        let out = std::process::Command::new(&python).arg(&script).arg(case).arg(dir.path()).output().unwrap();
        assert!(out.status.success(), "hostile_dists.py {case}: {}", text(&out));
        let file = dir.path().join(String::from_utf8(out.stdout).unwrap().trim());
        let out = std::process::Command::new(&python)
            .arg(repo_root().join("xtask/src/release/verify/inspect_dists.py"))
            .args(["--name", "yamause", "--version", "1.0.0"])
            .arg(&file)
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let problem = report["problems"][0].as_str().unwrap_or_default().to_owned();
        if !out.status.success() || !problem.contains(want) {
            wrong.push(format!("{case}: {problem:?} {}", text(&out)));
        }
    }
    assert!(wrong.is_empty(), "refused otherwise than expected:\n{}", wrong.join("\n"));
}

//! The values of flags that name a choice (`--format`, a benchmark's name, a tool
//! lock), parsed here so that the command line reads the same in every build, also in the release
//! workflow's, which leaves out the commands that take them (the `commands`
//! feature).

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            _ => Err(format!("unknown format {s:?}: use text or json")),
        }
    }
}

/// What `iam-policy --format` prints. Its own enum, because check-iam has no
/// templates to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyFormat {
    Text,
    Json,
    Cloudformation,
    Terraform,
}

impl std::str::FromStr for PolicyFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<PolicyFormat, String> {
        match s {
            "text" => Ok(PolicyFormat::Text),
            "json" => Ok(PolicyFormat::Json),
            "cloudformation" => Ok(PolicyFormat::Cloudformation),
            "terraform" => Ok(PolicyFormat::Terraform),
            _ => Err(format!("unknown format {s:?}: use text, json, cloudformation or terraform")),
        }
    }
}

/// One benchmark (`cargo xtask bench NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchName {
    Startup,
    Auth,
    Release,
    Rerun,
    Compile,
    Ci,
    Policy,
    Inspect,
    All,
    /// The measured side of `auth`, run as a process of its own (not for people).
    AuthProbe,
}

impl BenchName {
    pub const EACH: [BenchName; 8] = [
        BenchName::Startup,
        BenchName::Auth,
        BenchName::Release,
        BenchName::Rerun,
        BenchName::Compile,
        BenchName::Ci,
        BenchName::Policy,
        BenchName::Inspect,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BenchName::Startup => "startup",
            BenchName::Auth => "auth",
            BenchName::Release => "release",
            BenchName::Rerun => "rerun",
            BenchName::Compile => "compile",
            BenchName::Ci => "ci",
            BenchName::Policy => "policy",
            BenchName::Inspect => "inspect",
            BenchName::All => "all",
            BenchName::AuthProbe => "auth-probe",
        }
    }
}

impl std::str::FromStr for BenchName {
    type Err = String;

    fn from_str(s: &str) -> Result<BenchName, String> {
        let all = BenchName::EACH.into_iter().chain([BenchName::All, BenchName::AuthProbe]);
        all.clone().find(|it| it.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = BenchName::EACH.iter().map(|it| it.as_str()).collect();
            format!("unknown benchmark {s:?}: use one of {} or all", names.join(", "))
        })
    }
}

/// One lock file of pinned, hashed Python tools under `xtask/tools/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolLock {
    /// build, hatchling, twine, packaging: what a release runs.
    Release,
    /// twine and packaging alone: what `release --publish-only` runs (the publish
    /// job installs nothing that builds).
    Publish,
    /// pypiserver and moto_server: the local CodeArtifact-compatible stack.
    Stack,
    /// zizmor and uv: developer tools.
    Dev,
    /// The AWS CLI: the baseline of `cargo xtask bench`.
    Bench,
    /// cfn-lint, python-hcl2 and moto_server with CloudFormation: the checks of the
    /// templates `iam-policy` prints (tests only).
    Lint,
    /// uv alone: the resolver of `cargo xtask lock`.
    Lock,
    /// poetry: the test that runs the poetry instructions of `install-help` (tests only).
    Poetry,
}

impl ToolLock {
    const ALL: [ToolLock; 8] = [
        ToolLock::Release,
        ToolLock::Publish,
        ToolLock::Stack,
        ToolLock::Dev,
        ToolLock::Bench,
        ToolLock::Lint,
        ToolLock::Lock,
        ToolLock::Poetry,
    ];

    /// The lock file's name: `xtask/tools/NAME.txt`.
    pub fn name(self) -> &'static str {
        match self {
            ToolLock::Release => "release",
            ToolLock::Publish => "publish",
            ToolLock::Stack => "stack",
            ToolLock::Dev => "dev",
            ToolLock::Bench => "bench",
            ToolLock::Lint => "lint",
            ToolLock::Lock => "lock",
            ToolLock::Poetry => "poetry",
        }
    }
}

impl std::str::FromStr for ToolLock {
    type Err = String;

    fn from_str(s: &str) -> Result<ToolLock, String> {
        ToolLock::ALL.into_iter().find(|it| it.name() == s).ok_or_else(|| {
            let names: Vec<&str> = ToolLock::ALL.iter().map(|it| it.name()).collect();
            format!("unknown tool lock {s:?}: use one of {}", names.join(", "))
        })
    }
}

//! The command line: each subcommand is a struct, and that struct is the command
//! object whose `run` method lives in the module of the same name.

use std::path::PathBuf;

mod values;

pub use values::{BenchName, Format, PolicyFormat, ToolLock};

xflags::xflags! {
    src "./src/flags.rs"

    /// Release automation for the yamause Python package: build, verify and publish
    /// it to AWS CodeArtifact, the same way from a laptop and from GitHub Actions.
    cmd xtask {
        /// Release the package: version from TAG → stamp the version file → build →
        /// verify → publish to CodeArtifact.
        ///
        /// Without TAG: on a GitHub Actions tag push the pushed tag (GITHUB_REF_NAME) is
        /// released; otherwise the version already in the version file is.
        cmd release {
            /// The version tag to release, such as v1.0.0 (PEP 440; leading v optional).
            optional tag: String
            /// Run every step but upload nothing, and print what publishing would do.
            optional --dry-run
            /// Release even when the working tree has uncommitted changes (outside CI).
            optional --allow-dirty
            /// Stop after the verified build: the distributions and manifest.json are in
            /// target/dist/VERSION/ (the build job of a split workflow).
            optional --build-only
            /// Publish the distributions of an earlier --build-only run from DIR, after
            /// checking them against its manifest (the publish job of a split workflow).
            optional --publish-only dir: PathBuf
            /// Install the build requirements from the wheels in DIR (made by
            /// --fetch-build-deps), without network (the build job, with private
            /// build dependencies).
            optional --build-deps dir: PathBuf
            /// Only download the wheels of build-requirements.txt from the CodeArtifact
            /// repository into DIR, checked against their hashes (a job that runs no
            /// build code, with a read-only identity).
            optional --fetch-build-deps dir: PathBuf
            /// Release to a throwaway local stack (CodeArtifact emulator, pypiserver,
            /// moto) instead of AWS, then install the result from it with pip.
            optional --sandbox
            /// Print the output of every program the release runs, not only on failure.
            optional -v, --verbose
        }

        /// Lock the build requirements: resolve [build-system] requires of
        /// pyproject.toml (from PyPI, or with private-dependencies from the CodeArtifact
        /// repository) into build-requirements.txt, every one pinned and hashed, for
        /// every platform. Run it after changing [build-system] and commit the file.
        cmd lock {
            /// Resolve nothing: check that build-requirements.txt is made from today's
            /// [build-system] (as a release's Preflight does) and print
            /// `private-dependencies=true|false` (for the workflow's GITHUB_OUTPUT).
            optional --check
        }

        /// Run the local CodeArtifact-compatible stack in the foreground and print the
        /// `export` lines that point another shell at it. Ctrl-C stops it.
        cmd sandbox {}

        /// Diagnose the GitHub OIDC → IAM → CodeArtifact setup: settings, the job's
        /// token, identity, live CodeArtifact calls and (--inspect-role) the role's
        /// policies. With --trust-policy/--permission-policy: analyse documents offline.
        cmd check-iam {
            /// Output format: text (default) or json.
            optional --format format: Format
            /// Analyse this trust policy document (JSON; URL-encoded as IAM returns it is fine).
            optional --trust-policy file: PathBuf
            /// Analyse this permission policy document (repeatable: attached and inline).
            repeated --permission-policy file: PathBuf
            /// The GitHub repository, OWNER/REPO or OWNER@OWNER_ID/REPO@REPO_ID
            /// (default: GITHUB_REPOSITORY in Actions, else the `origin` remote).
            optional --github-repo repo: String
            /// The environment of the publishing job (default: release, or build-deps
            /// with --read-role; `none` for a tag push without one).
            optional --environment name: String
            /// Read the role's trust and permission policies and the OIDC provider from
            /// IAM (needs IAM read access).
            optional --inspect-role
            /// The role to inspect (default: AWS_ROLE_ARN).
            optional --role-arn arn: String
            /// Check the build-deps job's read role (private build dependencies), not
            /// the release role: trusted only in the build-deps environment, able to
            /// read the repository and to write nothing.
            optional --read-role
        }

        /// Print the trust policy and the least-privilege permission policy of the
        /// release role (and, with private-dependencies, of the build-deps job's read
        /// role), filled in from the settings and the git remote; or the same
        /// documents as a CloudFormation template or a Terraform configuration that
        /// creates the roles, their policies and (optionally) GitHub's OIDC provider.
        cmd iam-policy {
            /// Output format: text (default), json, cloudformation or terraform.
            optional --format format: PolicyFormat
            /// The GitHub repository, OWNER/REPO or OWNER@OWNER_ID/REPO@REPO_ID.
            optional --github-repo repo: String
            /// The environment of the publishing job (default: release; `none` for a
            /// tag push without one).
            optional --environment name: String
        }

        /// Set up the AWS and GitHub side of the release in the order of the setup guide:
        /// the GitHub OIDC provider, the release role and its trust policy, the
        /// permission policy and its attachment, then the `release` environment and its
        /// secrets (with private-dependencies also the build-deps job's read role and
        /// the `build-deps` environment). Prints the plan (what exists, what would
        /// change, a diff of each policy); changes nothing without --apply.
        cmd setup {
            /// The GitHub repository, OWNER/REPO or OWNER@OWNER_ID/REPO@REPO_ID
            /// (default: GITHUB_REPOSITORY in Actions, else the `origin` remote).
            optional --github-repo repo: String
            /// The environment of the publishing job (default: release).
            optional --environment name: String
            /// The release role's name (default: the name in AWS_ROLE_ARN, else
            /// GitHubActions-CodeArtifact).
            optional --role-name name: String
            /// Carry out the AWS part of the plan through the IAM API (never deletes anything).
            optional --apply
            /// Also replace what exists and differs: a trust policy that admits other
            /// repositories, a policy that allows more than the release needs, and
            /// GitHub secrets that exist (GitHub never shows their values).
            optional --force
            /// Carry out the GitHub part of the plan through GitHub's API (needs a token:
            /// GITHUB_TOKEN, GH_TOKEN or `gh auth login`).
            optional --apply-github
            /// A required reviewer of the environment (repeatable; default: the token's user).
            repeated --reviewer login: String
        }

        /// Print how to install a published version of the package from CodeArtifact
        /// with pip, uv and poetry, the token only ever in an environment variable
        /// (checks that the version is published to the repository; asks for no token).
        cmd install-help {
            /// The version (default: the one in the version file).
            optional version: String
        }

        /// Measure, side by side in one run: compile (cold build vs default features),
        /// startup, auth (token + endpoint vs the AWS CLI), release (vs the AWS CLI,
        /// build and twine steps of a single-job setup), rerun (vs the build alone) and
        /// ci (release.yml run cold vs those steps as one job), on the local stack; and
        /// policy (check-iam's trust analysis on worst-case documents up to IAM's size
        /// limit).
        cmd bench {
            /// One benchmark: compile, startup, auth, release, rerun, ci, policy, inspect or
            /// all (default).
            optional name: BenchName
            /// Runs per measurement (the median is reported); default 5.
            optional --runs n: usize
            /// Cold runs per side for `compile` and `ci`; default 1 (each takes minutes).
            optional --compile-runs n: usize
        }

        /// Check the GitHub workflows: no `${{ }}` inside `run:` scripts, zizmor
        /// (offline; default and auditor personas) and actionlint, all pinned.
        cmd lint {
            /// The folder of workflow files (default: .github/workflows).
            optional dir: PathBuf
        }

        /// Provision the pinned Python tools of one lock file under xtask/tools/
        /// and print the path of their Python interpreter.
        cmd tools {
            /// The lock file: release, publish, stack, dev, bench, lint, lock or poetry.
            required lock: ToolLock
        }
    }
}

// generated start
// The following code is generated by `xflags` macro.
// Run `env UPDATE_XFLAGS=1 cargo build` to regenerate.
#[derive(Debug)]
pub struct Xtask {
    pub subcommand: XtaskCmd,
}

#[derive(Debug)]
pub enum XtaskCmd {
    Release(Release),
    Lock(Lock),
    Sandbox(Sandbox),
    CheckIam(CheckIam),
    IamPolicy(IamPolicy),
    Setup(Setup),
    InstallHelp(InstallHelp),
    Bench(Bench),
    Lint(Lint),
    Tools(Tools),
}

#[derive(Debug)]
pub struct Release {
    pub tag: Option<String>,

    pub dry_run: bool,
    pub allow_dirty: bool,
    pub build_only: bool,
    pub publish_only: Option<PathBuf>,
    pub build_deps: Option<PathBuf>,
    pub fetch_build_deps: Option<PathBuf>,
    pub sandbox: bool,
    pub verbose: bool,
}

#[derive(Debug)]
pub struct Lock {
    pub check: bool,
}

#[derive(Debug)]
pub struct Sandbox;

#[derive(Debug)]
pub struct CheckIam {
    pub format: Option<Format>,
    pub trust_policy: Option<PathBuf>,
    pub permission_policy: Vec<PathBuf>,
    pub github_repo: Option<String>,
    pub environment: Option<String>,
    pub inspect_role: bool,
    pub role_arn: Option<String>,
    pub read_role: bool,
}

#[derive(Debug)]
pub struct IamPolicy {
    pub format: Option<PolicyFormat>,
    pub github_repo: Option<String>,
    pub environment: Option<String>,
}

#[derive(Debug)]
pub struct Setup {
    pub github_repo: Option<String>,
    pub environment: Option<String>,
    pub role_name: Option<String>,
    pub apply: bool,
    pub force: bool,
    pub apply_github: bool,
    pub reviewer: Vec<String>,
}

#[derive(Debug)]
pub struct InstallHelp {
    pub version: Option<String>,
}

#[derive(Debug)]
pub struct Bench {
    pub name: Option<BenchName>,

    pub runs: Option<usize>,
    pub compile_runs: Option<usize>,
}

#[derive(Debug)]
pub struct Lint {
    pub dir: Option<PathBuf>,
}

#[derive(Debug)]
pub struct Tools {
    pub lock: ToolLock,
}

impl Xtask {
    #[allow(dead_code)]
    pub fn from_env_or_exit() -> Self {
        Self::from_env_or_exit_()
    }

    #[allow(dead_code)]
    pub fn from_env() -> xflags::Result<Self> {
        Self::from_env_()
    }

    #[allow(dead_code)]
    pub fn from_vec(args: Vec<std::ffi::OsString>) -> xflags::Result<Self> {
        Self::from_vec_(args)
    }
}
// generated end

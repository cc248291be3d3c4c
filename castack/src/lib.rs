//! castack: a local, CodeArtifact-compatible test stack for the yamause release
//! tooling. It is used by tests and by the `castack` binary, never by the `xtask`
//! binary itself (the release tool must not compile server code).
//!
//! - [`Emulator`]: an in-process HTTP server on 127.0.0.1 that speaks the
//!   CodeArtifact control plane (REST-JSON, SigV4 signatures verified against the
//!   keys it knows), forwards the PyPI endpoint `/pypi/<repo>/` to pypiserver with
//!   CodeArtifact's re-upload rules and answer texts, files uploads by their upload
//!   form and publishes them with a latency, answers the index's project pages
//!   itself (HTML or PEP 691 JSON), keeps each package's origin controls as
//!   CodeArtifact does and ingests from an external connection (`public:pypi`, a
//!   second pypiserver standing in for PyPI), forwards STS (AWS query protocol) to
//!   moto_server with STS-shaped faults after checking signatures and web-identity
//!   tokens as STS does, plays GitHub's OIDC token endpoint and the
//!   parts of GitHub's REST API that `check-iam` reads and `setup --apply-github`
//!   writes (decrypting the secrets it is given, for tests), injects
//!   faults, logs requests and remembers the secrets it saw issued (for leak
//!   tests). Needs no Python: without pypiserver behind it, the control plane still
//!   answers from a package folder on disk.
//! - [`Stack`]: real pypiserver and real moto_server (STS, IAM) as child processes
//!   plus an emulator in front of pypiserver and of moto's STS, in a private
//!   temporary folder, with a session of the release role in the domain owner's
//!   account for its clients; everything stops when it is dropped.
//!
//! The OIDC JWTs are signed (HMAC-SHA256 with the emulator's key) and the emulator's
//! STS verifies them before moto, which accepts any token, sees one.

// Layers, top to bottom: the public API (the stack with its caller session, and
// the emulator), the router, the handlers (with the index pages the PyPI handler
// serves), then what the handlers share (the state and its parts, such as the
// store, and small helpers). A module uses only the layers below its own, or at the bottom its
// neighbours, so there are no import cycles: no handler knows the router.
mod emulator;
mod owner;
mod stack;
// A local runner of the project's GitHub Actions workflows (independent of the stack).
pub mod workflow;

mod router;

mod codeartifact;
mod control;
mod external;
mod github_api;
mod index;
mod oidc;
mod proxy;
mod sts;
mod web_identity;

mod clock;
mod config;
mod faults;
mod forward;
mod github_repo;
mod github_secrets;
mod http;
mod iam;
mod keyring;
mod operation;
pub mod pypi;
mod sigv4;
mod state;
mod store;
mod util;

pub use config::{ACCESS_KEY_ID, ExternalConnection, PUBLIC_PYPI, SECRET_ACCESS_KEY};
pub use emulator::{
    AwsKey, CodeArtifactOp, DEFAULT_ACCOUNT, DEFAULT_DOMAIN, DEFAULT_REGION, DEFAULT_REPOSITORY, DEFAULT_ROLE,
    Emulator, EmulatorConfig, LoggedRequest, OidcSigning, Operation, OriginRestrictions, PypiOp, Restriction, Token,
    default_oidc_claims,
};
pub use faults::{Fault, MAX_DELAY_MS, Rule, UploadFailure};
pub use github_repo::{
    Deployment, GithubEndpoint, GithubEnvironment, GithubRepo, GithubRuleset, GithubTeam, GithubUser, RefType, Reviewer,
};
pub use github_secrets::{GithubSecret, SecretScope, SecretValue};
pub use sigv4::sign_request;
pub use stack::{DEFAULT_STACK_LATENCY, Stack, StackConfig, UNSET_VARS};
pub use util::shell_quote;

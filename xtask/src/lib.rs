//! The modules of the xtask, as a library so that the integration tests in
//! `tests/it` can check the pure parts (PEP 440, stamping, policy analysis) directly.
//! The binary is `main.rs`.

pub mod arn;
pub mod aws;
pub mod bench;
pub mod check_iam;
pub mod ci;
pub mod dists;
pub mod exec;
pub mod flags;
pub mod fsutil;
pub mod git;
pub mod github;
pub mod iam_policy;
#[cfg(feature = "iam")]
pub mod iam_role;
pub mod interrupt;
pub mod limits;
pub mod lint;
pub mod manifest;
pub mod net;
pub mod policy;
pub mod private_build;
pub mod project;
pub mod publish;
pub mod python;
pub mod redact;
pub mod release;
pub mod report;
pub mod sandbox;
pub mod settings;
pub mod stamp;
pub mod version;

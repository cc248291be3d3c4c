//! Contract tests of the castack emulator, driven with the real AWS SDK for Rust
//! and raw HTTP. They need no Python: the emulator serves a package folder of
//! fixture files, with no pypiserver behind it. One test crate, one module per area.

mod binary;
mod control;
mod faults;
mod github_api;
mod oidc;
mod operations;
mod pypi_endpoint;
mod sts;
mod support;
mod wire;

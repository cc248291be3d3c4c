//! Contract tests of the castack emulator, driven with the real AWS SDK for Rust
//! and raw HTTP. Most need no Python: the emulator serves a package folder of
//! fixture files, with no pypiserver behind it. Those of `stack` need real
//! pypiserver, moto and pip (the stack tools, provisioned on first use; see
//! `support::stack_python`). One test crate, one module per area.

mod binary;
mod control;
mod descriptions;
mod fake_moto;
mod faults;
mod github_api;
mod github_writes;
mod oidc;
mod operations;
mod origin;
mod pypi_endpoint;
mod real_service;
mod stack;
mod sts;
mod sts_refusals;
mod support;
mod wire;

//! Integration tests of the xtask: one test crate (see "Delete Cargo Integration
//! Tests"), one module per area. The tests run the real `xtask` binary, real git,
//! Python, twine and pip; the tools come from the pinned lock files and are
//! provisioned on first use.

mod support;

mod adversary;
mod auth_refusals;
mod backends;
mod check_iam;
mod check_iam_limits;
mod deadlines;
mod faults;
mod github_facts;
mod hostile_archives;
mod iam_policy_formats;
mod leak;
mod origin;
mod private_deps;
mod proxy;
mod publish;
mod release_offline;
mod sandbox;
mod setup;
mod stack;
mod tidy;
mod tools;
mod version_diff;
mod workflow_run;
mod workflows;

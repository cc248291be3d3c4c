//! Nothing to run: this crate exists to be compiled by `cargo xtask bench compile`.

fn main() {
    let _ = (anyhow::Error::msg("x"), aws_config::BehaviorVersion::latest(), regex::Regex::new("x"));
}

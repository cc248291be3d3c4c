//! `cargo xtask`: the release tooling of the yamause Python package. Everything
//! happens in the library (`xtask::main`), so that its items can stay crate-private.

fn main() -> std::process::ExitCode {
    xtask::main()
}

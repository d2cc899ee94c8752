//! `cargo xtask bench-compare`: builds the `bench-compare` binary of dsm-bench in release and
//! runs it with the arguments unchanged.

use anyhow::{Context, Result, bail};

use crate::flags::BenchArgs;

/// Runs `cargo run --release -p dsm-bench --bin bench-compare -- ARGS`.
///
/// # Errors
/// Cargo cannot be started, or bench-compare exits with a failure.
pub fn run(args: &BenchArgs) -> Result<()> {
    let mut cmd =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args([
        "run",
        "--release",
        "--package",
        "dsm-bench",
        "--bin",
        "bench-compare",
        "--",
    ]);
    cmd.args(&args.args);
    let status = cmd.status().context("running bench-compare")?;
    if !status.success() {
        bail!("bench-compare failed");
    }
    Ok(())
}

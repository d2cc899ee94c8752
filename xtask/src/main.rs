//! `cargo xtask`: workspace automation for dsm, in the shape of rust-analyzer's xtask.
//!
//! This file only dispatches: the command line lives in [`flags`], `reproduce` in
//! [`reproduce`] (which runs the experiments of [`experiments`] and writes the figures, data,
//! `summary.json` and `REPORT.md`), `bench-compare` in [`bench_compare`], and `power` (size and power of the goodness-of-fit
//! tests) in [`power`].

mod bench_compare;
mod claims;
mod experiments;
mod flags;
mod plot;
mod power;
mod report;
mod reproduce;
mod student;

use anyhow::Result;
use clap::Parser;

fn main() -> Result<()> {
    match flags::Xtask::parse().command {
        flags::Command::Reproduce(settings) => reproduce::run(&settings),
        flags::Command::BenchCompare(args) => bench_compare::run(&args),
        flags::Command::Power(args) => power::run(&args),
    }
}

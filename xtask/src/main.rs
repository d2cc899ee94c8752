//! `cargo xtask`: workspace automation for dsm, in the shape of rust-analyzer's xtask.
//!
//! This file only dispatches: the command line lives in [`flags`], `reproduce` in
//! [`reproduce`] (which runs the experiments of [`experiments`] and writes the figures, data,
//! `summary.json` and `REPORT.md`), and `bench-compare` in [`bench_compare`].

mod bench_compare;
mod claims;
mod experiments;
mod flags;
mod plot;
mod report;
mod reproduce;
mod student;

use anyhow::Result;
use clap::Parser;

fn main() -> Result<()> {
    match flags::Xtask::parse().command {
        flags::Command::Reproduce(settings) => reproduce::run(&settings),
        flags::Command::BenchCompare(args) => bench_compare::run(&args),
    }
}

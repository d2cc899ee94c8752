//! `cargo xtask reproduce`: regenerates the paper's experiments into one output folder.
//!
//! Each experiment is a module with one entry function that writes its CSV data and returns
//! the claims it checked; `summary.json` collects every claim with its measured and expected
//! values and the settings used, so a script can read the outcome.

mod claims;
mod experiments;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use crate::claims::Claim;

#[derive(Parser)]
#[command(name = "xtask", about = "Workspace automation for dsm")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate the paper's experiments (CSV + summary.json) into the output folder.
    Reproduce(Settings),
}

/// Settings of a reproduction run. Defaults are MATH.md section 0, set B.
#[derive(Args, Debug, Clone, serde::Serialize)]
pub struct Settings {
    /// Run only the named experiment (repeatable). Known: student_t.
    #[arg(long = "only", value_name = "NAME")]
    pub only: Vec<String>,
    /// A coarser grid, for CI.
    #[arg(long)]
    pub quick: bool,
    /// Exit with an error when a claim fails.
    #[arg(long)]
    pub check: bool,
    /// Output folder (default: target/reproduce/ in the workspace).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed of the training sample.
    #[arg(long, default_value_t = 20_210_721)]
    pub seed: u64,
    /// Degrees of freedom ν of data and model (set B: 10).
    #[arg(long, default_value_t = 10.0)]
    pub nu: f64,
    /// Degrees of freedom ν₀ inside the manual-flow diffusion (set B: ν₀ = ν = 10).
    #[arg(long, default_value_t = 10.0)]
    pub nu0: f64,
    /// Common scale σ.
    #[arg(long, default_value_t = 1.0)]
    pub sigma: f64,
    /// Training-set size N.
    #[arg(long, default_value_t = 1000)]
    pub n: usize,
    /// Half-width R of the plotted range μ ∈ [−R, R] (in units of σ).
    #[arg(long, default_value_t = 50.0)]
    pub range: f64,
}

const EXPERIMENTS: &[&str] = &["student_t"];

fn main() -> Result<()> {
    let Cli {
        command: Command::Reproduce(settings),
    } = Cli::parse();
    for name in &settings.only {
        if !EXPERIMENTS.contains(&name.as_str()) {
            bail!(
                "unknown experiment `{name}`; known: {}",
                EXPERIMENTS.join(", ")
            );
        }
    }
    let out = settings
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/reproduce"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let selected = |name: &str| settings.only.is_empty() || settings.only.iter().any(|o| o == name);

    let mut claims: Vec<Claim> = Vec::new();
    if selected("student_t") {
        eprintln!("student_t: SM and manual-flow DSM over μ (MATH.md section 6.1)");
        claims.extend(experiments::student_t::run(&settings, &out)?);
    }

    let summary = serde_json::json!({ "claims": claims, "settings": settings });
    let path = out.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)?)
        .with_context(|| format!("writing {}", path.display()))?;
    claims::print_table(&claims);
    eprintln!(
        "wrote {}",
        out.canonicalize().unwrap_or(out.clone()).display()
    );
    let failed = claims.iter().filter(|c| !c.pass).count();
    if settings.check && failed > 0 {
        bail!("{failed} claim(s) failed");
    }
    Ok(())
}

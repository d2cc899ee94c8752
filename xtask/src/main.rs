//! `cargo xtask reproduce`: regenerates every figure and claim of the paper into one folder.
//!
//! Each experiment is a module with one entry function that writes `NAME.csv`, `NAME.png` and
//! `NAME.svg` and returns the claims it checked; `summary.json` collects every claim (name,
//! paper reference, measured, expected, pass) with the settings, and `REPORT.md` embeds the
//! figures and says, claim by claim, what was measured.

mod claims;
mod experiments;
mod plot;
mod report;
mod student;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::claims::Claim;

#[derive(Parser)]
#[command(name = "xtask", about = "Workspace automation for dsm")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate the paper's figures, data and checked claims into the output folder.
    Reproduce(Settings),
    /// Time dsm against numpy, JAX and PyTorch on identical data: target/bench/compare.{md,json}.
    BenchCompare(BenchArgs),
}

/// Arguments of `cargo xtask bench-compare`, forwarded unchanged to the release-built
/// `bench-compare` binary, which defines and documents them (`--quick`, `--setup`,
/// `--with-1e6`, `--rss-n N`, `--out DIR`; `cargo xtask bench-compare --help` shows them).
#[derive(Args, Debug, Clone)]
#[command(disable_help_flag = true)]
pub struct BenchArgs {
    /// Passed to bench-compare.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    args: Vec<String>,
}

fn bench_compare(args: &BenchArgs) -> Result<()> {
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

/// Settings of a reproduction run. Defaults: docs/math.md section 0, set B.
#[derive(Args, Debug, Clone, serde::Serialize)]
pub struct Settings {
    /// Run only the named experiment (repeatable): fig1, regions, descent, fig2, fig3, ode, identities.
    #[arg(long = "only", value_name = "NAME")]
    pub only: Vec<String>,
    /// Coarser grids and fewer samples, for CI (well under a minute).
    #[arg(long)]
    pub quick: bool,
    /// Exit with an error when a claim fails.
    #[arg(long)]
    pub check: bool,
    /// Output folder (default: target/reproduce/ in the workspace).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed of every random draw.
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
    /// Half-width R of the plotted range μ ∈ [−R, R], in units of σ.
    #[arg(long, default_value_t = 50.0)]
    pub range: f64,
    /// Gradient thresholds of the fast-convergence region (comma separated).
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.05, 0.1, 0.2, 0.5])]
    pub thresholds: Vec<f64>,
    /// Degrees of freedom of Appendix E (comma separated).
    #[arg(long, value_delimiter = ',', default_values_t = vec![2.0, 3.0, 5.0, 10.0])]
    pub dofs: Vec<f64>,
}

impl Settings {
    /// The default settings (as on the command line without options).
    #[cfg(test)]
    pub fn parse_from_defaults() -> Self {
        match Cli::parse_from(["xtask", "reproduce"]).command {
            Command::Reproduce(s) => s,
            Command::BenchCompare(_) => unreachable!("parsed `reproduce`"),
        }
    }

    /// Grid step in μ.
    pub fn step(&self) -> f64 {
        if self.quick { 0.5 } else { 0.1 }
    }

    /// Simpson intervals of the population quadrature.
    pub fn intervals(&self) -> usize {
        if self.quick { 1200 } else { 3000 }
    }

    fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("nu", self.nu),
            ("nu0", self.nu0),
            ("sigma", self.sigma),
            ("range", self.range),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                bail!("--{name} must be finite and positive, got {v}");
            }
        }
        if self.n < 2 {
            bail!("--n must be at least 2");
        }
        if self
            .thresholds
            .iter()
            .chain(&self.dofs)
            .any(|v| !(*v > 0.0))
        {
            bail!("--thresholds and --dofs must be positive");
        }
        Ok(())
    }
}

/// One experiment: name, what it reproduces, entry point.
type Entry = fn(&Settings, &std::path::Path) -> Result<Vec<Claim>>;

const EXPERIMENTS: &[(&str, &str, Entry)] = &[
    (
        "fig1",
        "Figure 1: SM and the two DSM surrogates against μ",
        experiments::fig1::run,
    ),
    (
        "regions",
        "Section 3.2: the fast-convergence regions",
        experiments::regions::run,
    ),
    (
        "descent",
        "Gradient descent from −50σ … 50σ",
        experiments::descent::run,
    ),
    (
        "fig2",
        "Figure 2 / Appendix D: densities before and after the manual flow",
        experiments::fig2::run,
    ),
    (
        "fig3",
        "Figure 3 / Appendix E: the surrogates across degrees of freedom",
        experiments::fig3::run,
    ),
    (
        "ode",
        "Proposition 3.2 along an Euler flow",
        experiments::ode::run,
    ),
    (
        "identities",
        "Theorems 3.1, 3.2, Propositions 3.1, 3.2 on random instances",
        experiments::identities::run,
    ),
];

fn main() -> Result<()> {
    let settings = match Cli::parse().command {
        Command::Reproduce(settings) => settings,
        Command::BenchCompare(args) => return bench_compare(&args),
    };
    settings.validate()?;
    for name in &settings.only {
        if !EXPERIMENTS.iter().any(|(n, _, _)| n == name) {
            let known: Vec<&str> = EXPERIMENTS.iter().map(|(n, _, _)| *n).collect();
            bail!("unknown experiment `{name}`; known: {}", known.join(", "));
        }
    }
    let out = settings
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/reproduce"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let selected: Vec<_> = EXPERIMENTS
        .iter()
        .filter(|(n, _, _)| settings.only.is_empty() || settings.only.iter().any(|o| o == n))
        .collect();

    let bar = ProgressBar::new(selected.len() as u64);
    bar.set_style(ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
    )?);
    let mut sections = Vec::new();
    let mut all = Vec::new();
    for (name, what, run) in selected {
        bar.set_message(format!("{name}: {what}"));
        let start = Instant::now();
        let claims = run(&settings, &out).with_context(|| format!("experiment {name}"))?;
        let line = format!(
            "{name:<11} {:>6.1} s  {what}",
            start.elapsed().as_secs_f64()
        );
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
        sections.push(report::Section {
            name,
            title: what,
            claims: claims.clone(),
        });
        all.extend(claims);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let summary = serde_json::json!({ "claims": all, "settings": settings });
    let path = out.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)?)
        .with_context(|| format!("writing {}", path.display()))?;
    report::write(&out.join("REPORT.md"), &settings, &sections)?;
    claims::print_table(&all);
    eprintln!(
        "wrote {}",
        out.canonicalize().unwrap_or(out.clone()).display()
    );
    let failed = all.iter().filter(|c| !c.pass).count();
    if settings.check && failed > 0 {
        bail!("{failed} claim(s) failed");
    }
    Ok(())
}

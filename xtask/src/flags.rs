//! The command line of `cargo xtask`: every subcommand and flag, and nothing else.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand};

/// `cargo xtask`.
#[derive(Parser)]
#[command(name = "xtask", about = "Workspace automation for dsm")]
pub struct Xtask {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Regenerate the paper's figures, data and checked claims into the output folder.
    Reproduce(Settings),
    /// Time dsm against numpy, JAX and PyTorch on identical data: target/bench/compare.{md,json}.
    BenchCompare(BenchArgs),
    /// Size and power of the goodness-of-fit tests on the standard benchmarks (Gamma, RBM,
    /// Student-t): target/power/{power.csv,png,svg,json, POWER.md}. Minutes; --quick for CI.
    Power(PowerArgs),
}

/// Arguments of `cargo xtask power`.
#[derive(Args, Debug, Clone)]
pub struct PowerArgs {
    /// The perturbation ends only (0 and the largest), 24 replications and n = 300 for the RBM:
    /// for CI (about a minute).
    #[arg(long)]
    pub quick: bool,
    /// Exit with an error when a claim fails.
    #[arg(long)]
    pub check: bool,
    /// Output folder (default: target/power/ in the workspace).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 20_261_206)]
    pub seed: u64,
    /// Replications per point (default 200, 24 with --quick).
    #[arg(long, value_name = "R")]
    pub replications: Option<usize>,
    /// Run only the named benchmark (repeatable): gamma, rbm, student.
    #[arg(long = "only", value_name = "NAME")]
    pub only: Vec<String>,
}

/// Arguments of `cargo xtask bench-compare`, forwarded unchanged to the release-built
/// `bench-compare` binary, which defines and documents them (`--quick`, `--setup`,
/// `--with-1e6`, `--rss-n N`, `--out DIR`; `cargo xtask bench-compare --help` shows them).
#[derive(Args, Debug, Clone)]
#[command(disable_help_flag = true)]
pub struct BenchArgs {
    /// Passed to bench-compare.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

/// Settings of a reproduction run. Defaults: docs/math.md section 0, set B.
#[derive(Args, Debug, Clone, serde::Serialize)]
pub struct Settings {
    /// Run only the named experiment (repeatable): fig1, regions, descent, estimation, learned, shapes, multivariate, thinning, fig2, fig3, ode, identities.
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
        match Xtask::parse_from(["xtask", "reproduce"]).command {
            Command::Reproduce(s) => s,
            Command::BenchCompare(_) | Command::Power(_) => unreachable!("parsed `reproduce`"),
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

    /// Rejects constants outside their domain.
    ///
    /// # Errors
    /// A non-positive or non-finite constant, `--n` below 2, a non-positive threshold or DoF.
    pub fn validate(&self) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_set_b_and_valid() {
        let s = Settings::parse_from_defaults();
        assert_eq!((s.nu, s.nu0, s.sigma, s.n), (10.0, 10.0, 1.0, 1000));
        assert!(s.validate().is_ok());
    }

    #[test]
    fn out_of_domain_constants_are_rejected() {
        let parse = |extra: &[&str]| match Xtask::parse_from(
            ["xtask", "reproduce"].iter().chain(extra).copied(),
        )
        .command
        {
            Command::Reproduce(s) => s,
            Command::BenchCompare(_) | Command::Power(_) => unreachable!(),
        };
        assert!(parse(&["--nu", "0"]).validate().is_err());
        assert!(parse(&["--n", "1"]).validate().is_err());
        assert!(parse(&["--dofs", "2,-1"]).validate().is_err());
    }

    #[test]
    fn bench_compare_forwards_its_arguments_untouched() {
        let cli = Xtask::parse_from(["xtask", "bench-compare", "--quick", "--rss-n", "5"]);
        match cli.command {
            Command::BenchCompare(a) => assert_eq!(a.args, ["--quick", "--rss-n", "5"]),
            Command::Reproduce(_) | Command::Power(_) => panic!("parsed as another command"),
        }
    }

    #[test]
    fn power_takes_its_flags() {
        let cli = Xtask::parse_from([
            "xtask",
            "power",
            "--quick",
            "--only",
            "rbm",
            "--replications",
            "7",
        ]);
        match cli.command {
            Command::Power(a) => {
                assert!(a.quick && !a.check);
                assert_eq!((a.only, a.replications), (vec!["rbm".to_string()], Some(7)));
            }
            _ => panic!("parsed as another command"),
        }
    }
}

//! The composite goodness-of-fit test: H₀: q ∈ {p_θ}, with θ estimated by minimising the
//! same KSD that tests it, re-estimated in every bootstrap replicate (Key, Fernandez, Gretton
//! & Briol 2023; docs/math.md eq. 14.4).

use std::fmt;
use std::time::{Duration, Instant};

use dsm_core::mc::{RandomPurpose, random_stream};
use dsm_core::stein::SteinKernel;
use dsm_core::{Error, Par, Result, Samples};
use rand::RngExt;
use rayon::prelude::*;

use crate::minimize::MinimizeOptions;
use crate::model::ParametricModel;
use crate::objective::Objective;

/// A test of H₀: the samples come from some member p_θ of a parametric family.
///
/// ```text
/// θ̂    = argmin_θ KSD̂²(p_θ; x)                      (the Stein kernel as the objective)
/// T    = n·KSD̂²(p_θ̂; x)
/// for b = 1 … B:   y⁽ᵇ⁾ ~ p_θ̂ (n draws),   θ̂_b = argmin_θ KSD̂²(p_θ; y⁽ᵇ⁾),
///                  T_b = n·KSD̂²(p_θ̂_b; y⁽ᵇ⁾)
/// p    = (1 + #{T_b ≥ T}) / (1 + B)
/// ```
/// Re-estimating inside every replicate is what makes T_b distributed like T: T is small
/// because θ̂ was fitted to x, and so is each T_b (plugging θ̂ in without refitting makes the
/// test conservative). The test is asymptotically valid (Key et al. 2023, for minimum-KSD
/// estimators); its finite-sample size is measured in the tests. One object is both the estimator's objective and the statistic, so they
/// cannot use different kernels or diffusions: [`Ksd`](dsm_core::Ksd) or
/// [`DiffusionKsd`](dsm_core::DiffusionKsd), U or V. The family has no sampler of its own:
/// `sampler(θ, n, seed)` draws n points from p_θ (a missing sampler cannot be expressed).
/// Replicate b's seed comes from `random_stream(seed, RandomPurpose::ParametricBootstrap, b)`;
/// the replicates run in parallel, each on one thread, and are bit-identical for any `par`.
///
/// # Examples
/// ```
/// use dsm_core::*;
/// use dsm_fit::{CompositeKsdTest, GaussianMeanFamily};
/// let family = GaussianMeanFamily::new(1, &[1.0])?;
/// let xs = Gaussian::new(vec![2.0], &[1.0])?.sample_n(60, 1, Par::Seq)?;
/// let ksd = Ksd::new(Imq::default(), Estimator::V);
/// let draw = |theta: &[f64], n: usize, seed: u64| Gaussian::new(theta.to_vec(), &[1.0])?.sample_n(n, seed, Par::Seq);
/// let r = CompositeKsdTest::new(3).with_replicates(39)?.run(&family, &ksd, draw, &[0.0], &xs, Par::rayon(2))?;
/// assert!((r.theta[0] - 2.0).abs() < 0.5);
/// println!("{r}");
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompositeKsdTest {
    seed: u64,
    replicates: usize,
    level: f64,
    options: MinimizeOptions,
}

/// The outcome of a [`CompositeKsdTest`].
#[derive(Debug, Clone, PartialEq)]
pub struct CompositeTestResult {
    /// T = n·KSD̂²(p_θ̂; x).
    pub statistic: f64,
    /// (1 + #{T_b ≥ T}) / (1 + B).
    pub p_value: f64,
    /// The (1 − α) empirical quantile of the T_b.
    pub critical_value: f64,
    /// The level α.
    pub level: f64,
    /// Whether H₀ is rejected (p ≤ α).
    pub reject: bool,
    /// The estimate θ̂ on the data.
    pub theta: Vec<f64>,
    /// Number of replicates B.
    pub replicates: usize,
    /// Whether the fit to the data reached its tolerance (a fit stopped early inflates T).
    pub converged: bool,
    /// Replicates whose re-estimation stopped before its tolerance (their θ̂_b is used).
    pub unconverged: usize,
    /// Number of samples n.
    pub n: usize,
    /// Wall time.
    pub elapsed: Duration,
}

impl fmt::Display for CompositeTestResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let decision = if self.reject {
            "H₀ rejected"
        } else {
            "H₀ not rejected"
        };
        write!(
            f,
            "composite KSD test: T = {:.4}, p-value = {:.3}: {decision} at α = {} (θ̂ = {:?}{}, critical value {:.4}; B = {}, n = {}, {} unconverged refits; {:.3} s)",
            self.statistic,
            self.p_value,
            self.level,
            self.theta,
            if self.converged {
                ""
            } else {
                ", not converged"
            },
            self.critical_value,
            self.replicates,
            self.n,
            self.unconverged,
            self.elapsed.as_secs_f64()
        )
    }
}

impl CompositeKsdTest {
    /// The test with the seed, B = 200, α = 0.05 and default minimiser options.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            replicates: 200,
            level: 0.05,
            options: MinimizeOptions::default(),
        }
    }

    /// Sets B.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for B = 0.
    pub fn with_replicates(mut self, replicates: usize) -> Result<Self> {
        self.replicates = dsm_core::validate::replicate_count(
            "CompositeKsdTest::with_replicates",
            "replicates",
            replicates,
        )?;
        Ok(self)
    }

    /// Sets the level α.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for α outside (0, 1).
    pub fn with_level(mut self, level: f64) -> Result<Self> {
        self.level = dsm_core::validate::level("CompositeKsdTest::with_level", level)?;
        Ok(self)
    }

    /// Sets the options of every minimisation.
    pub fn with_options(mut self, options: MinimizeOptions) -> Self {
        self.options = options;
        self
    }

    /// Runs the test from the starting point `start` (the data's fit; each replicate starts
    /// from θ̂).
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] for n < 2; [`Error::Unsupported`] for weighted samples (the
    /// null draws are unweighted); [`Error::DimensionMismatch`] when the sampler returns
    /// another number of points or another dimension; the errors of the minimiser, the
    /// sampler and the statistic (a replicate's error is returned as it is).
    pub fn run<M, S, G>(
        &self,
        family: &M,
        stein: &S,
        sampler: G,
        start: &[f64],
        samples: &Samples,
        par: Par,
    ) -> Result<CompositeTestResult>
    where
        M: ParametricModel,
        S: SteinKernel + Objective + Sync,
        G: Fn(&[f64], usize, u64) -> Result<Samples> + Sync,
    {
        let begin = Instant::now();
        let n = samples.n();
        if n < 2 {
            return Err(Error::TooFewSamples { needed: 2, got: n });
        }
        if samples.weights().is_some() {
            return Err(Error::Unsupported {
                what: "weighted samples in the composite test",
            });
        }
        let fit = stein.minimize(family, start, samples, par, self.options)?;
        let statistic = n as f64 * stein.estimate(&family.at(&fit.theta)?, samples, par)?.value;
        let one = |b: usize| -> Result<(f64, bool)> {
            let seed = random_stream(self.seed, RandomPurpose::ParametricBootstrap, b as u64)
                .random::<u64>();
            let draws = sampler(&fit.theta, n, seed)?;
            dsm_core::validate::same_dim(
                "points drawn by the sampler",
                draws.n(),
                "number of samples",
                n,
            )?;
            dsm_core::validate::same_dim(
                "dimension of the sampler's points",
                draws.dim(),
                "dimension of the samples",
                samples.dim(),
            )?;
            let refit = stein.minimize(family, &fit.theta, &draws, Par::Seq, self.options)?;
            let t = n as f64
                * stein
                    .estimate(&family.at(&refit.theta)?, &draws, Par::Seq)?
                    .value;
            Ok((t, refit.converged))
        };
        let runs: Result<Vec<(f64, bool)>> = match par {
            Par::Seq => (0..self.replicates).map(one).collect(),
            Par::Rayon(_) => {
                par.install(|| (0..self.replicates).into_par_iter().map(one).collect())?
            }
        };
        let runs = runs?;
        let replicates: Vec<f64> = runs.iter().map(|r| r.0).collect();
        let count = replicates.len();
        let decision =
            dsm_core::stein::Decision::from_replicates(statistic, &replicates, self.level);
        Ok(CompositeTestResult {
            statistic,
            p_value: decision.p_value,
            critical_value: decision.critical_value,
            level: self.level,
            reject: decision.reject,
            theta: fit.theta,
            converged: fit.converged,
            replicates: count,
            unconverged: runs.iter().filter(|r| !r.1).count(),
            n,
            elapsed: begin.elapsed(),
        })
    }
}

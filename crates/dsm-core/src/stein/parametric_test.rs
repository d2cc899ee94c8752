//! The parametric bootstrap: the null distribution of the KSD statistic from the model's own
//! draws (docs/math.md eq. 14.3).

use std::time::Instant;

use rand::RngExt;
use rayon::prelude::*;

use super::bootstrap::KsdTestResult;
use super::points::SteinKernel;
use crate::density::{Sampler, Score};
use crate::error::{Error, Result};
use crate::mc::{Par, RandomPurpose, random_stream};
use crate::samples::Samples;

/// A goodness-of-fit test of H₀: q = p whose null distribution is simulated from p itself:
///
/// ```text
/// T    = n·KSD̂²(p; x₁ … xₙ)                        (U or V, the Stein kernel's estimator)
/// T_b  = n·KSD̂²(p; y₁⁽ᵇ⁾ … yₙ⁽ᵇ⁾),  y⁽ᵇ⁾ ~ p i.i.d.  b = 1 … B
/// p    = (1 + #{T_b ≥ T}) / (1 + B)
/// ```
/// Exact at every n (up to the Monte Carlo error of B), for any kernel and diffusion, where
/// the wild bootstrap is asymptotic; it needs a sampler and B statistics of n points. The
/// null distribution does not depend on the data, so [`ParametricKsdTest::null_distribution`]
/// computes it once for many data sets of the same size (power studies, monitoring).
/// Replicate b draws from the seed `random_stream(seed, RandomPurpose::ParametricBootstrap,
/// b)`; the replicates run in parallel, each on one thread, so the result is bit-identical
/// for any thread count.
///
/// # Examples
/// ```
/// use dsm_core::*;
/// let model = Gaussian::standard(1)?;
/// let xs = StudentT::new(0.0, 1.0, 2.0)?.sample_n(300, 1, Par::Seq)?;
/// let test = ParametricKsdTest::new(9).with_replicates(99)?;
/// let r = test.run(&Ksd::new(Imq::default(), Estimator::V), &model, &xs, Par::rayon(2))?;
/// println!("{r}");
/// assert!(r.parametric);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParametricKsdTest {
    seed: u64,
    replicates: usize,
    level: f64,
}

/// The simulated null distribution of a [`ParametricKsdTest`] for one model, Stein kernel
/// and sample size.
#[derive(Debug, Clone, PartialEq)]
pub struct NullDistribution {
    /// The statistics T_b of the null draws, in replicate order.
    pub replicates: Vec<f64>,
    /// The sample size n of every draw.
    pub n: usize,
}

impl ParametricKsdTest {
    /// The test with the seed, B = 500 and α = 0.05.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            replicates: 500,
            level: 0.05,
        }
    }

    /// Sets B.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for B = 0.
    pub fn with_replicates(mut self, replicates: usize) -> Result<Self> {
        self.replicates = crate::validate::replicate_count(
            "ParametricKsdTest::with_replicates",
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
        self.level = crate::validate::level("ParametricKsdTest::with_level", level)?;
        Ok(self)
    }

    /// The statistics of B null draws of n points from `model`.
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] for n < 2; the errors of sampling and of the estimate (a
    /// non-finite score at a draw is [`Error::NonFiniteValue`]).
    pub fn null_distribution<S, P>(
        &self,
        stein: &S,
        model: &P,
        n: usize,
        par: Par,
    ) -> Result<NullDistribution>
    where
        S: SteinKernel + Sync,
        P: Score + Sampler + Sync,
    {
        if n < 2 {
            return Err(Error::TooFewSamples { needed: 2, got: n });
        }
        let one = |b: usize| -> Result<f64> {
            let seed = random_stream(self.seed, RandomPurpose::ParametricBootstrap, b as u64)
                .random::<u64>();
            let draws = model.sample_n(n, seed, Par::Seq)?;
            Ok(n as f64 * stein.estimate(model, &draws, Par::Seq)?.value)
        };
        let replicates: Result<Vec<f64>> = match par {
            Par::Seq => (0..self.replicates).map(one).collect(),
            Par::Rayon(_) => {
                par.install(|| (0..self.replicates).into_par_iter().map(one).collect())?
            }
        };
        Ok(NullDistribution {
            replicates: replicates?,
            n,
        })
    }

    /// Runs the test (simulating the null distribution).
    ///
    /// # Errors
    /// As [`ParametricKsdTest::null_distribution`] and [`SteinKernel::estimate`].
    pub fn run<S, P>(
        &self,
        stein: &S,
        model: &P,
        samples: &Samples,
        par: Par,
    ) -> Result<KsdTestResult>
    where
        S: SteinKernel + Sync,
        P: Score + Sampler + Sync,
    {
        let start = Instant::now();
        let null = self.null_distribution(stein, model, samples.n(), par)?;
        let mut result = self.run_with_null(&null, stein, model, samples, par)?;
        result.elapsed = start.elapsed();
        Ok(result)
    }

    /// The test against a null distribution computed before (by this test's seed or any
    /// other), for samples of its size.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when the sample size is not the null distribution's;
    /// [`Error::Unsupported`] for weighted samples (the null draws are unweighted); those of
    /// [`SteinKernel::estimate`].
    pub fn run_with_null<S, P>(
        &self,
        null: &NullDistribution,
        stein: &S,
        model: &P,
        samples: &Samples,
        par: Par,
    ) -> Result<KsdTestResult>
    where
        S: SteinKernel,
        P: Score + Sync,
    {
        let start = Instant::now();
        crate::validate::same_dim(
            "number of samples",
            samples.n(),
            "size of the null draws",
            null.n,
        )?;
        if null.replicates.is_empty() {
            return Err(Error::TooFewSamples { needed: 1, got: 0 });
        }
        if samples.weights().is_some() {
            // Weighted data and unweighted null draws are not exchangeable.
            return Err(Error::Unsupported {
                what: "weighted samples in the parametric bootstrap",
            });
        }
        let n = samples.n();
        let statistic = n as f64 * stein.estimate(model, samples, par)?.value;
        let decision = super::Decision::from_replicates(statistic, &null.replicates, self.level);
        Ok(KsdTestResult {
            statistic,
            p_value: decision.p_value,
            critical_value: decision.critical_value,
            level: self.level,
            reject: decision.reject,
            replicates: null.replicates.len(),
            n,
            estimator: stein.estimator(),
            flip_probability: None,
            autocorrelation_time: None,
            parametric: true,
            elapsed: start.elapsed(),
        })
    }
}

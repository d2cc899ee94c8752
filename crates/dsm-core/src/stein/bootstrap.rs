//! A goodness-of-fit test by the wild bootstrap of a kernel Stein discrepancy
//! (Chwialkowski, Strathmann & Gretton 2016; docs/math.md section 8).

use std::fmt;
use std::time::{Duration, Instant};

use rand::RngExt;
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::estimate::Estimator;
use faer::MatRef;

use super::points::{PairScratch, SteinKernel, SteinPoints};
use super::streaming::upper_quadratic_forms;
use crate::autocorrelation::integrated_autocorrelation_time;
use crate::density::Score;
use crate::error::{Error, Result};
use crate::mc::{Par, RandomPurpose, random_stream};
use crate::samples::Samples;

/// Default memory cap of the bootstrap: 1 GiB (B = 1000 replicates of n ≈ 130 000 points in
/// one pass).
pub const DEFAULT_MEMORY_CAP: u128 = 1 << 30;

/// The law of the wild-bootstrap weights W₁ … Wₙ.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum Bootstrap {
    /// I.i.d. Rademacher signs: for independent samples.
    Rademacher,
    /// The Markov chain of Chwialkowski et al. (2016) for dependent samples (MCMC output):
    /// W₁ is a Rademacher sign and Wₜ = −Wₜ₋₁ with probability `flip_probability`, else
    /// Wₜ = Wₜ₋₁. Choose it of the order of 1/(autocorrelation time) of the chain (smaller
    /// for more dependent samples); 0.5 gives back i.i.d. signs.
    MarkovChain {
        /// The sign-flip probability aₙ ∈ (0, 1).
        flip_probability: f64,
    },
    /// The Markov chain with the flip probability chosen from the data (recommended for MCMC
    /// output, section 8 of docs/math.md):
    /// ```text
    /// τ̂ = max(1, maxₖ τ̂ₖ),   a = min(½, 1/√(n τ̂))
    /// ```
    /// where τ̂ₖ is the [integrated autocorrelation time](crate::autocorrelation) of
    /// coordinate k of the per-point Stein vector (the score s_p(xₜ) for the Langevin
    /// kernel, mᵀs_p + ∇·m for a diffusion) along the sample order. The sign blocks, of mean
    /// length 1/a = √(n τ̂), grow with the dependence and with n (aₙ → 0, n aₙ → ∞, as the
    /// theory asks). Calibrated on AR(1) chains with ρ ∈ {0, 0.5, 0.9} at n ∈ {500, 2000}
    /// (crates/dsm-core/tests/stein.rs). The result reports τ̂ and a.
    MarkovChainAuto,
}

/// A wild-bootstrap goodness-of-fit test of H₀: q = p with a kernel Stein discrepancy.
///
/// ```text
/// statistic  T  = n·V = (1/n) Σ_{i,j} k⁰(xᵢ, xⱼ)              (a Stein kernel built with Estimator::V)
///               = n·U = (1/(n−1)) Σ_{i≠j} k⁰(xᵢ, xⱼ)          (Estimator::U)
/// replicate  T* = (1/n) Σ_{i,j} Wᵢ Wⱼ k⁰(xᵢ, xⱼ)              (V)
///               = (1/(n−1)) Σ_{i≠j} Wᵢ Wⱼ k⁰(xᵢ, xⱼ)          (U)
/// p-value       = (1 + #{T* ≥ T}) / (1 + B),   reject H₀ when p ≤ α
/// ```
/// The replicates are streamed tile by tile (docs/math.md eq. 14.1): every tile of the
/// upper triangle of the Stein Gram matrix is multiplied against the block of replicate
/// weights as soon as it is formed, so no n × n matrix exists, the work is the n²B/2
/// multiply-adds of one matrix product, and the memory is the weights, **8nB bytes**, plus
/// small per-thread buffers ([`KsdTest::memory_needed`]). When that exceeds the cap
/// ([`DEFAULT_MEMORY_CAP`], see [`KsdTest::with_memory_cap`]) the replicates are processed
/// in passes that fit (each pass recomputes the tiles); a cap too small for one replicate is
/// [`Error::MemoryCap`] before anything is allocated. Weights and replicates are seeded
/// (replicate b uses the stream
/// [`random_stream`]`(seed, RandomPurpose::BootstrapWeights, b)`), and the result is bit-identical
/// for any thread count.
///
/// # Examples
/// ```
/// use dsm_core::*;
/// let model = Gaussian::standard(2)?;
/// let xs = model.sample_n(200, 3, Par::Seq)?;
/// let test = KsdTest::new(Bootstrap::Rademacher, 42)?;
/// let result = test.run(&Ksd::new(Imq::default(), Estimator::V), &model, &xs, Par::rayon(2))?;
/// assert!(result.p_value > 0.0 && result.p_value <= 1.0);
/// println!("T = {:.4}, p = {:.3}, reject: {}", result.statistic, result.p_value, result.reject);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsdTest {
    bootstrap: Bootstrap,
    seed: u64,
    replicates: usize,
    level: f64,
    memory_cap: u128,
}

/// The outcome of a [`KsdTest`].
///
/// `Display` gives a one-line report: the statistic and critical value to four significant
/// digits, the p-value to three, the decision at the level, the estimator, the bootstrap
/// weights (with the flip probability and τ̂ when present), B, n and the wall time. A
/// precision in the format string (`{:.3}`) applies to the statistic, critical value and
/// p-value.
///
/// Equality (`==`) compares every field except [`elapsed`](KsdTestResult::elapsed), a
/// measurement of the run rather than of the test: the same test on the same data compares
/// equal whatever the thread count and the machine's load.
///
/// ```
/// use std::time::Duration;
/// use dsm_core::{Estimator, KsdTestResult};
/// let r = KsdTestResult {
///     statistic: 1.234_567,
///     p_value: 0.042,
///     critical_value: 0.987_654,
///     level: 0.05,
///     reject: true,
///     replicates: 1000,
///     n: 200,
///     estimator: Estimator::V,
///     flip_probability: None,
///     autocorrelation_time: None,
///     parametric: false,
///     elapsed: Duration::from_millis(15),
/// };
/// assert_eq!(
///     r.to_string(),
///     "T = 1.235, p-value = 0.0420: H₀ rejected at α = 0.05 \
///      (critical value 0.9877; V-statistic, Rademacher weights, B = 1000, n = 200; 0.0150 s)"
/// );
/// ```
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct KsdTestResult {
    /// The test statistic T (n·V or n·U).
    pub statistic: f64,
    /// The bootstrap p-value (1 + #{T* ≥ T}) / (1 + B).
    pub p_value: f64,
    /// The (1 − α) empirical quantile of the replicates.
    pub critical_value: f64,
    /// The level α.
    pub level: f64,
    /// Whether H₀: q = p is rejected at level α (p ≤ α).
    pub reject: bool,
    /// Number of bootstrap replicates B.
    pub replicates: usize,
    /// Number of samples n.
    pub n: usize,
    /// The estimator behind the statistic.
    pub estimator: Estimator,
    /// The sign-flip probability of the Markov-chain weights (`None` for Rademacher).
    pub flip_probability: Option<f64>,
    /// The estimated autocorrelation time τ̂ behind the flip probability
    /// ([`Bootstrap::MarkovChainAuto`] only).
    pub autocorrelation_time: Option<f64>,
    /// Whether the replicates are the statistics of null draws from the model's sampler
    /// (a [`ParametricKsdTest`](super::ParametricKsdTest)) rather than wild-bootstrap ones.
    #[cfg_attr(feature = "serde", serde(default))]
    pub parametric: bool,
    /// Wall time of the test, from the per-point quantities to the p-value (zero when
    /// read from data written before this field existed).
    #[cfg_attr(feature = "serde", serde(default))]
    pub elapsed: Duration,
}

impl PartialEq for KsdTestResult {
    fn eq(&self, other: &Self) -> bool {
        // Every field but `elapsed`, destructured so that a new field cannot be forgotten.
        let Self {
            statistic,
            p_value,
            critical_value,
            level,
            reject,
            replicates,
            n,
            estimator,
            flip_probability,
            autocorrelation_time,
            parametric,
            elapsed: _,
        } = self;
        *statistic == other.statistic
            && *p_value == other.p_value
            && *critical_value == other.critical_value
            && *level == other.level
            && *reject == other.reject
            && *replicates == other.replicates
            && *n == other.n
            && *estimator == other.estimator
            && *flip_probability == other.flip_probability
            && *autocorrelation_time == other.autocorrelation_time
            && *parametric == other.parametric
    }
}

impl fmt::Display for KsdTestResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::display::{number, significant};
        let decision = if self.reject {
            "H₀ rejected"
        } else {
            "H₀ not rejected"
        };
        let statistic = number(f, self.statistic, 4);
        let p_value = number(f, self.p_value, 3);
        let critical_value = number(f, self.critical_value, 4);
        write!(
            f,
            "T = {statistic}, p-value = {p_value}: {decision} at α = {} \
             (critical value {critical_value}; {}, ",
            self.level, self.estimator,
        )?;
        match self.flip_probability {
            None if self.parametric => f.write_str("parametric bootstrap")?,
            None => f.write_str("Rademacher weights")?,
            Some(a) => write!(
                f,
                "Markov-chain weights with flip probability {}",
                significant(a, 3)
            )?,
        }
        if let Some(tau) = self.autocorrelation_time {
            write!(f, ", τ̂ = {}", significant(tau, 3))?;
        }
        write!(
            f,
            ", B = {}, n = {}; {} s)",
            self.replicates,
            self.n,
            significant(self.elapsed.as_secs_f64(), 3)
        )
    }
}

impl KsdTest {
    /// A test with the given bootstrap and seed, B = 1000 replicates, level α = 0.05 and the
    /// default memory cap; the statistic (n·V or n·U) follows the Stein kernel passed to
    /// [`KsdTest::run`].
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a flip probability outside (0, 1).
    pub fn new(bootstrap: Bootstrap, seed: u64) -> Result<Self> {
        if let Bootstrap::MarkovChain { flip_probability } = bootstrap
            && !(flip_probability > 0.0 && flip_probability < 1.0)
        {
            return Err(Error::InvalidParameter {
                owner: "KsdTest",
                name: "flip_probability",
                value: flip_probability,
                constraint: "in (0, 1)",
            });
        }
        Ok(Self {
            bootstrap,
            seed,
            replicates: 1000,
            level: 0.05,
            memory_cap: DEFAULT_MEMORY_CAP,
        })
    }

    /// Sets the number of bootstrap replicates B.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for B < 1.
    pub fn with_replicates(mut self, replicates: usize) -> Result<Self> {
        self.replicates =
            crate::validate::replicate_count("KsdTest::with_replicates", "replicates", replicates)?;
        Ok(self)
    }

    /// Sets the level α.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for α outside (0, 1).
    pub fn with_level(mut self, level: f64) -> Result<Self> {
        self.level = crate::validate::level("KsdTest::with_level", level)?;
        Ok(self)
    }

    /// Sets the memory cap in bytes for the bootstrap weights and buffers; the replicates run
    /// in as many passes as the cap asks.
    pub fn with_memory_cap(mut self, bytes: u128) -> Self {
        self.memory_cap = bytes;
        self
    }

    /// Bytes the bootstrap holds for n samples with all B replicates in one pass:
    /// 8(B + 1)(n + 1024), a weight column of n per replicate and one for the statistic, with
    /// room per column for the row blocks' partial products and block sums in flight.
    pub fn memory_needed(&self, n: usize) -> u128 {
        (self.replicates as u128 + 1) * bytes_per_column(n)
    }

    /// Replicates per pass: as many as fit under the cap beside the statistic's column (the
    /// same for any thread count, so the passes, and the bits, are too), or the cap error
    /// when not even one does.
    fn replicates_per_pass(&self, n: usize) -> Result<usize> {
        let per = bytes_per_column(n);
        if 2 * per > self.memory_cap {
            return Err(Error::MemoryCap {
                what: "bootstrap weights of one replicate and the statistic",
                needed_bytes: 2 * per,
                cap_bytes: self.memory_cap,
                largest_n: crate::error::largest_fitting(self.memory_cap, |m| {
                    2 * bytes_per_column(usize::try_from(m).unwrap_or(usize::MAX))
                }),
                remedy: "raise the cap with KsdTest::with_memory_cap",
            });
        }
        let fit = (self.memory_cap / per - 1).min(self.replicates as u128);
        Ok(usize::try_from(fit).unwrap_or(usize::MAX).max(1))
    }

    /// Runs the test of H₀: the samples come from `model`, with the Stein kernel `stein`
    /// ([`Ksd`](super::Ksd) or [`DiffusionKsd`](super::DiffusionKsd)); the estimator (U or
    /// V) is the Stein kernel's.
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] for n < 2 (n < 3 for [`Bootstrap::MarkovChainAuto`]), or for
    /// weighted samples with fewer than two positive weights; [`Error::MemoryCap`] when one
    /// replicate does not fit the cap; the errors of [`SteinKernel::points`];
    /// [`Error::NonFiniteValue`] when k⁰ is not finite.
    pub fn run<S, P>(
        &self,
        stein: &S,
        model: &P,
        samples: &Samples,
        par: Par,
    ) -> Result<KsdTestResult>
    where
        S: SteinKernel,
        P: Score + Sync + ?Sized,
    {
        let start = Instant::now();
        self.check_size(samples)?;
        let points = stein.points(model, samples, par)?;
        self.run_on_points(stein.estimator(), &points, start, par)
            .map(|(result, _)| result)
    }

    /// [`KsdTest::run`] from samples with precomputed scores (an MCMC run's draws and
    /// gradients, no density): the same result, to the bit, when the scores are the model's.
    ///
    /// # Examples
    /// ```
    /// use dsm_core::*;
    /// let model = StudentT::new(0.0, 1.0, 5.0)?;
    /// let xs = model.sample_n(200, 4, Par::Seq)?;
    /// let scores: Vec<f64> = xs.rows().map(|x| model.try_score(x).map(|s| s[0])).collect::<Result<_>>()?;
    /// let scored = ScoredSamples::new(xs.clone(), scores)?;
    /// let test = KsdTest::new(Bootstrap::Rademacher, 7)?;
    /// let ksd = Ksd::new(Imq::default(), Estimator::V);
    /// let a = test.run_scored(&ksd, &scored, Par::Seq)?;
    /// let b = test.run(&ksd, &model, &xs, Par::Seq)?;
    /// assert_eq!((a.statistic, a.p_value), (b.statistic, b.p_value));
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`KsdTest::run`], with [`SteinKernel::points_scored`] for the points.
    pub fn run_scored<S: SteinKernel>(
        &self,
        stein: &S,
        scored: &crate::ScoredSamples,
        par: Par,
    ) -> Result<KsdTestResult> {
        let start = Instant::now();
        self.check_size(scored.samples())?;
        let points = stein.points_scored(scored, par)?;
        self.run_on_points(stein.estimator(), &points, start, par)
            .map(|(result, _)| result)
    }

    /// [`KsdTest::run_scored`] with the replicates T*_b (for the aggregated test).
    pub(crate) fn run_scored_with_replicates<S: SteinKernel>(
        &self,
        stein: &S,
        scored: &crate::ScoredSamples,
        par: Par,
    ) -> Result<(KsdTestResult, Vec<f64>)> {
        let start = Instant::now();
        self.check_size(scored.samples())?;
        let points = stein.points_scored(scored, par)?;
        self.run_on_points(stein.estimator(), &points, start, par)
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The bootstrap law.
    pub fn bootstrap(&self) -> Bootstrap {
        self.bootstrap
    }

    /// The number of replicates B.
    pub fn replicates(&self) -> usize {
        self.replicates
    }

    /// The level α.
    pub fn level(&self) -> f64 {
        self.level
    }

    /// The test on computed points: the bootstrap weights, the statistic and its replicates.
    fn run_on_points<K: crate::kernel::Kernel>(
        &self,
        estimator: Estimator,
        points: &SteinPoints<'_, K>,
        start: Instant,
        par: Par,
    ) -> Result<(KsdTestResult, Vec<f64>)> {
        let n = points.n();
        let (flip_probability, autocorrelation_time) = match self.bootstrap {
            Bootstrap::Rademacher => (None, None),
            Bootstrap::MarkovChain { flip_probability } => (Some(flip_probability), None),
            Bootstrap::MarkovChainAuto => {
                let tau = stein_vector_autocorrelation_time(points)?;
                (Some((1.0 / (n as f64 * tau).sqrt()).min(0.5)), Some(tau))
            }
        };
        let per_pass = self.replicates_per_pass(n)?;
        let weights =
            |first: usize, out: &mut [f64]| self.weights(n, first, out, flip_probability, par);
        let (mut result, replicates) =
            self.finish(estimator, points, self.replicates, per_pass, weights, par)?;
        result.flip_probability = flip_probability;
        result.autocorrelation_time = autocorrelation_time;
        result.elapsed = start.elapsed();
        Ok((result, replicates))
    }

    /// [`KsdTest::run`] with given bootstrap weights (B × n, replicate-major, B = len / n)
    /// instead of seeded ones; also returns the replicates T*_b. For checking the test
    /// against an independent implementation; the level and memory cap apply, the bootstrap
    /// law and the replicate count do not.
    ///
    /// # Errors
    /// Those of [`KsdTest::run`], and [`Error::DimensionMismatch`] when the weights are not
    /// a positive multiple of n long, [`Error::NonFiniteValue`] for a non-finite weight.
    #[doc(hidden)]
    pub fn run_with_weights<S, P>(
        &self,
        stein: &S,
        model: &P,
        samples: &Samples,
        weights: &[f64],
        par: Par,
    ) -> Result<(KsdTestResult, Vec<f64>)>
    where
        S: SteinKernel,
        P: Score + Sync + ?Sized,
    {
        let start = Instant::now();
        let n = samples.n();
        if n == 0 || weights.is_empty() || !weights.len().is_multiple_of(n) {
            return Err(Error::DimensionMismatch {
                what: "number of bootstrap weights",
                got: weights.len(),
                against: "a positive multiple of the number of samples",
                expected: n.max(1),
            });
        }
        if let Some(index) = weights.iter().position(|w| !w.is_finite()) {
            return Err(Error::NonFiniteValue {
                quantity: "bootstrap weight",
                index,
            });
        }
        self.check_size(samples)?;
        let points = stein.points(model, samples, par)?;
        let replicates = weights.len() / n;
        let per_pass = self.replicates_per_pass(n)?;
        let given = |first: usize, out: &mut [f64]| {
            out.copy_from_slice(&weights[first * n..first * n + out.len()]);
            Ok(())
        };
        let (mut result, replicates) =
            self.finish(stein.estimator(), &points, replicates, per_pass, given, par)?;
        result.elapsed = start.elapsed();
        Ok((result, replicates))
    }

    /// Sample-count, weighting and memory checks before any work.
    fn check_size(&self, samples: &Samples) -> Result<()> {
        let n = samples.n();
        let needed = if self.bootstrap == Bootstrap::MarkovChainAuto {
            3
        } else {
            2
        };
        if n < needed {
            return Err(Error::TooFewSamples { needed, got: n });
        }
        if let Some(w) = samples.weights() {
            let positive = w.iter().filter(|&&v| v > 0.0).count();
            if positive < 2 {
                return Err(Error::TooFewSamples {
                    needed: 2,
                    got: positive,
                });
            }
        }
        self.replicates_per_pass(n).map(|_| ())
    }

    /// The statistic, the replicates (streamed in passes of `per_pass`, `weights(first, out)`
    /// writing the signs of replicates first, first + 1, … replicate-major into `out`), the
    /// p-value and critical value.
    ///
    /// With sample weights wᵢ (W = Σwᵢ, all 1 when unweighted) and replicate signs εᵢ, uᵢ = εᵢwᵢ:
    /// ```text
    /// V:  T = (n/W²) Σ_{i,j} wᵢwⱼHᵢⱼ          T* = (n/W²) (2 Σ_{i<j} uᵢuⱼHᵢⱼ + Σᵢ uᵢ²Hᵢᵢ)
    /// U:  T = n Σ_{i≠j} wᵢwⱼHᵢⱼ / (W² − Σwᵢ²)   T* = 2n Σ_{i<j} uᵢuⱼHᵢⱼ / (W² − Σwᵢ²)
    /// ```
    fn finish<K, F>(
        &self,
        estimator: Estimator,
        points: &SteinPoints<'_, K>,
        replicate_count: usize,
        per_pass: usize,
        weights: F,
        par: Par,
    ) -> Result<(KsdTestResult, Vec<f64>)>
    where
        K: crate::kernel::Kernel,
        F: Fn(usize, &mut [f64]) -> Result<()>,
    {
        let n = points.n();
        if estimator == Estimator::U && n < 2 {
            return Err(Error::TooFewSamples { needed: 2, got: n });
        }
        let sample_weights = points.samples.weights();
        let w = |i: usize| sample_weights.map_or(1.0, |w| w[i]);
        let total: f64 = (0..n).map(w).sum();
        // W² − Σwᵢ² = Σᵢ wᵢ(W − wᵢ) from prefix and suffix sums, which do not cancel when one
        // weight dominates (as in the estimator); n(n − 1) exactly when unweighted.
        let pairs = match sample_weights {
            Some(_) => {
                let others = super::ksd::leave_one_out_totals(n, w);
                (0..n).map(|i| w(i) * others[i]).sum::<f64>()
            }
            None => n as f64 * (n as f64 - 1.0),
        };
        let diagonal: Vec<f64> = match estimator {
            Estimator::U => Vec::new(),
            Estimator::V => {
                let mut scratch = PairScratch::default();
                (0..n)
                    .map(|i| points.stein_kernel(i, i, &mut scratch))
                    .collect()
            }
        };
        // T from Q with uᵢ = wᵢ, T* from Q with uᵢ = εᵢwᵢ (the formulas above).
        let from_form = |q: f64, u: &[f64]| match estimator {
            Estimator::V => {
                let diag: f64 = u.iter().zip(&diagonal).map(|(ui, hii)| ui * ui * hii).sum();
                n as f64 * (2.0 * q + diag) / (total * total)
            }
            Estimator::U => 2.0 * n as f64 * q / pairs,
        };
        let mut statistic = f64::NAN;
        let mut replicates = Vec::with_capacity(replicate_count);
        let mut first = 0;
        while first < replicate_count {
            let count = per_pass.min(replicate_count - first);
            // The replicates' columns, then the statistic's (u = w): every pass has at least
            // two columns, so the products take the same path whatever the pass size.
            let mut u = vec![0.0; n * (count + 1)];
            let (signs, last) = u.split_at_mut(n * count);
            weights(first, signs)?;
            if sample_weights.is_some() {
                for column in signs.chunks_exact_mut(n) {
                    for (i, v) in column.iter_mut().enumerate() {
                        *v *= w(i);
                    }
                }
            }
            for (i, v) in last.iter_mut().enumerate() {
                *v = w(i);
            }
            let columns = count + 1;
            let forms = upper_quadratic_forms(
                points,
                MatRef::from_column_major_slice(&u, n, columns),
                par,
            )?;
            for (column, q) in u.chunks_exact(n).zip(&forms).take(count) {
                replicates.push(from_form(*q, column));
            }
            if first == 0 {
                statistic = from_form(forms[count], &u[count * n..]);
            }
            first += count;
        }
        if !statistic.is_finite() || replicates.iter().any(|t| !t.is_finite()) {
            return Err(Error::NonFiniteValue {
                quantity: "test statistic or replicate (sums beyond f64)",
                index: 0,
            });
        }
        let decision = super::Decision::from_replicates(statistic, &replicates, self.level);
        let result = KsdTestResult {
            statistic,
            p_value: decision.p_value,
            critical_value: decision.critical_value,
            level: self.level,
            reject: decision.reject,
            replicates: replicate_count,
            n,
            estimator,
            flip_probability: None,
            autocorrelation_time: None,
            parametric: false,
            elapsed: Duration::ZERO,
        };
        Ok((result, replicates))
    }

    /// Bootstrap weights of replicates first .. first + count, replicate-major (count × n):
    /// replicate b from the stream (seed, BootstrapWeights, b); Markov-chain signs when a
    /// flip probability is given.
    fn weights(
        &self,
        n: usize,
        first: usize,
        w: &mut [f64],
        flip_probability: Option<f64>,
        par: Par,
    ) -> Result<()> {
        let fill = |(c, row): (usize, &mut [f64])| {
            let b = first + c;
            let mut rng = random_stream(self.seed, RandomPurpose::BootstrapWeights, b as u64);
            let mut sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
            for (t, slot) in row.iter_mut().enumerate() {
                if t > 0 {
                    match flip_probability {
                        None => sign = if rng.random::<bool>() { 1.0 } else { -1.0 },
                        Some(a) => {
                            if rng.random::<f64>() < a {
                                sign = -sign;
                            }
                        }
                    }
                }
                *slot = sign;
            }
        };
        par.for_each_chunk_mut(w, n, fill)
    }
}

/// Bytes per weight column in a pass: 8(n + 1024), the column and an allowance for the
/// partial products (64 rows per task) and block sums (256 per wave) in flight.
fn bytes_per_column(n: usize) -> u128 {
    8 * (n as u128 + 1024)
}

/// τ̂ = max(1, maxₖ τ̂ₖ) over the coordinates k of the per-point Stein vector b (the first d
/// entries of each point's data), in sample order.
fn stein_vector_autocorrelation_time<K>(points: &SteinPoints<'_, K>) -> Result<f64> {
    let n = points.samples.n();
    let d = points.samples.dim();
    let mut series = vec![0.0; n];
    let mut tau = 1.0_f64;
    for k in 0..d {
        for (t, slot) in series.iter_mut().enumerate() {
            *slot = points.data[t * points.stride + k];
        }
        tau = tau.max(integrated_autocorrelation_time(&series)?);
    }
    Ok(tau)
}

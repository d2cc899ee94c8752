//! A goodness-of-fit test by the wild bootstrap of a kernel Stein discrepancy
//! (Chwialkowski, Strathmann & Gretton 2016; MATH.md section 8).

use rand::RngExt;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::estimate::Estimator;
use super::pairwise::gram;
use super::points::{PairScratch, SteinKernel};
use crate::density::Score;
use crate::error::{Error, Result};
use crate::mc::{Par, RandomPurpose, random_stream};
use crate::samples::Samples;

/// Default memory cap of the bootstrap: 1 GiB (the Stein Gram matrix of n ≈ 11 500 points).
pub const DEFAULT_MEMORY_CAP: u128 = 1 << 30;

/// Replicates processed together in one pass over the Gram matrix.
const REPLICATE_BLOCK: usize = 8;

/// The law of the wild-bootstrap weights W₁ … Wₙ.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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
}

/// A wild-bootstrap goodness-of-fit test of H₀: q = p with a kernel Stein discrepancy.
///
/// ```text
/// statistic  T  = n·V = (1/n) Σ_{i,j} k⁰(xᵢ, xⱼ)              (Estimator::V, default)
///               = n·U = (1/(n−1)) Σ_{i≠j} k⁰(xᵢ, xⱼ)          (Estimator::U)
/// replicate  T* = (1/n) Σ_{i,j} Wᵢ Wⱼ k⁰(xᵢ, xⱼ)              (diagonal removed for U)
/// p-value       = (1 + #{T* ≥ T}) / (1 + B),   reject H₀ when p ≤ α
/// ```
/// The replicates need the n × n Stein Gram matrix: **8n² bytes** (80 MB at n = 3 200,
/// 800 MB at n = 10 000) plus 8nB bytes of weights. A test that would need more than the cap
/// ([`DEFAULT_MEMORY_CAP`], see [`KsdTest::with_memory_cap`]) returns
/// [`Error::MemoryCap`] before allocating anything. Weights and replicates are seeded
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

impl KsdTest {
    /// A test with the given bootstrap and seed, B = 1000 replicates, level α = 0.05, the
    /// V-statistic, and the default memory cap.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a flip probability outside (0, 1).
    pub fn new(bootstrap: Bootstrap, seed: u64) -> Result<Self> {
        if let Bootstrap::MarkovChain { flip_probability } = bootstrap
            && !(flip_probability > 0.0 && flip_probability < 1.0)
        {
            return Err(Error::InvalidParameter {
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
        if replicates == 0 {
            return Err(Error::InvalidParameter {
                name: "replicates",
                value: 0.0,
                constraint: ">= 1",
            });
        }
        self.replicates = replicates;
        Ok(self)
    }

    /// Sets the level α.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for α outside (0, 1).
    pub fn with_level(mut self, level: f64) -> Result<Self> {
        if !(level > 0.0 && level < 1.0) {
            return Err(Error::InvalidParameter {
                name: "level",
                value: level,
                constraint: "in (0, 1)",
            });
        }
        self.level = level;
        Ok(self)
    }

    /// Sets the memory cap in bytes for the Gram matrix and the bootstrap weights.
    pub fn with_memory_cap(mut self, bytes: u128) -> Self {
        self.memory_cap = bytes;
        self
    }

    /// Bytes the test needs for n samples: 8n² (Gram matrix) + 8nB (weights).
    pub fn memory_needed(&self, n: usize) -> u128 {
        8 * (n as u128) * (n as u128) + 8 * (n as u128) * (self.replicates as u128)
    }

    /// Runs the test of H₀: the samples come from `model`, with the Stein kernel `stein`
    /// ([`Ksd`](super::Ksd) or [`DiffusionKsd`](super::DiffusionKsd)); the estimator (U or
    /// V) is the Stein kernel's.
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] for n < 2; [`Error::Unsupported`] for weighted samples;
    /// [`Error::MemoryCap`] when [`KsdTest::memory_needed`] exceeds the cap; the errors of
    /// [`SteinKernel::points`]; [`Error::NonFiniteValue`] when k⁰ is not finite.
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
        let n = samples.n();
        if n < 2 {
            return Err(Error::TooFewSamples { needed: 2, got: n });
        }
        if samples.weights().is_some() {
            return Err(Error::Unsupported {
                what: "weighted samples in the wild bootstrap",
            });
        }
        let needed = self.memory_needed(n);
        if needed > self.memory_cap {
            return Err(Error::MemoryCap {
                what: "bootstrap Gram matrix and weights",
                needed_bytes: needed,
                cap_bytes: self.memory_cap,
            });
        }
        let points = stein.points(model, samples, par)?;
        let h = gram(n, par, PairScratch::default, |s, i, j| {
            points.stein_kernel(i, j, s)
        })?;
        if let Some(pos) = h.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteValue {
                quantity: "Stein kernel",
                index: pos / n,
            });
        }
        let estimator = stein.estimator();
        let trace: f64 = (0..n).map(|i| h[i * n + i]).sum();
        let (scale, remove) = match estimator {
            Estimator::V => (1.0 / n as f64, 0.0),
            Estimator::U => (1.0 / (n as f64 - 1.0), trace),
        };
        let total: f64 = h.iter().sum();
        let statistic = scale * (total - remove);
        let weights = self.weights(n, par)?;
        let replicates = self.replicate_statistics(&h, &weights, n, par, scale, remove)?;
        let exceed = replicates.iter().filter(|&&t| t >= statistic).count();
        let p_value = (1 + exceed) as f64 / (1 + self.replicates) as f64;
        let mut sorted = replicates;
        sorted.sort_by(f64::total_cmp);
        let q = ((1.0 - self.level) * self.replicates as f64).ceil() as usize;
        let critical_value = sorted[q.clamp(1, self.replicates) - 1];
        Ok(KsdTestResult {
            statistic,
            p_value,
            critical_value,
            level: self.level,
            reject: p_value <= self.level,
            replicates: self.replicates,
            n,
            estimator,
        })
    }

    /// Bootstrap weights, replicate-major (B × n): replicate b from the stream (seed, b).
    fn weights(&self, n: usize, par: Par) -> Result<Vec<f64>> {
        let mut w = vec![0.0; n * self.replicates];
        let fill = |(b, row): (usize, &mut [f64])| {
            let mut rng = random_stream(self.seed, RandomPurpose::BootstrapWeights, b as u64);
            let mut sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
            for (t, slot) in row.iter_mut().enumerate() {
                match self.bootstrap {
                    Bootstrap::Rademacher => {
                        if t > 0 {
                            sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
                        }
                    }
                    Bootstrap::MarkovChain { flip_probability } => {
                        if t > 0 && rng.random::<f64>() < flip_probability {
                            sign = -sign;
                        }
                    }
                }
                *slot = sign;
            }
        };
        match par {
            Par::Seq => w.chunks_mut(n).enumerate().for_each(fill),
            Par::Rayon(_) => par.install(|| w.par_chunks_mut(n).enumerate().for_each(fill))?,
        }
        Ok(w)
    }

    /// T*_b = scale · (W_bᵀ H W_b − remove), blocks of replicates per pass over H.
    fn replicate_statistics(
        &self,
        h: &[f64],
        w: &[f64],
        n: usize,
        par: Par,
        scale: f64,
        remove: f64,
    ) -> Result<Vec<f64>> {
        let mut out = vec![0.0; self.replicates];
        let block = |(c, slots): (usize, &mut [f64])| {
            let first = c * REPLICATE_BLOCK;
            let count = slots.len();
            let mut quad = [0.0; REPLICATE_BLOCK];
            for i in 0..n {
                let row = &h[i * n..(i + 1) * n];
                let mut acc = [0.0; REPLICATE_BLOCK];
                for (j, hij) in row.iter().enumerate() {
                    for (b, a) in acc.iter_mut().enumerate().take(count) {
                        *a += hij * w[(first + b) * n + j];
                    }
                }
                for b in 0..count {
                    quad[b] += w[(first + b) * n + i] * acc[b];
                }
            }
            for (b, slot) in slots.iter_mut().enumerate() {
                *slot = scale * (quad[b] - remove);
            }
        };
        match par {
            Par::Seq => out.chunks_mut(REPLICATE_BLOCK).enumerate().for_each(block),
            Par::Rayon(_) => par.install(|| {
                out.par_chunks_mut(REPLICATE_BLOCK)
                    .enumerate()
                    .for_each(block)
            })?,
        }
        Ok(out)
    }
}

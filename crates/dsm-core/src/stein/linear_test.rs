//! A linear-time goodness-of-fit test: the incomplete U-statistic of a kernel Stein
//! discrepancy with its wild bootstrap (Schrab, Kim, Guedj & Gretton 2022; docs/math.md
//! eq. 14.2).

use std::fmt;
use std::time::{Duration, Instant};

use rand::Rng;
#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::points::{PairScratch, SteinKernel, SteinPoints};
use crate::density::Score;
use crate::error::{Error, Result};
use crate::kernel::Kernel;
use crate::mc::{Par, RandomPurpose, random_stream};
use crate::samples::Samples;
use crate::scored_samples::ScoredSamples;

/// Points per chunk of the pair table (fixed, so the statistic's sum has one order).
const CHUNK: usize = 4096;
/// Replicates sharing one pass over the pair table.
const LANES: usize = 8;

/// A KSD test in O(nL) time and memory: the incomplete U-statistic over the cyclic design
/// D = {(i, i + ℓ mod n) : i < n, 1 ≤ ℓ ≤ L} and its wild bootstrap.
///
/// ```text
/// Ū   = (1/nL) Σ_{(i,j)∈D} k⁰(xᵢ, xⱼ)
/// Ū*  = (1/nL) Σ_{(i,j)∈D} εᵢ εⱼ k⁰(xᵢ, xⱼ),     εᵢ i.i.d. Rademacher
/// p   = (1 + #{Ū* ≥ Ū}) / (1 + B)
/// ```
/// Under H₀ the pairs are degenerate, so Ū and Ū* share their limit law (Schrab et al. 2022,
/// KSD case); L trades time for power (L = 1 pairs each point with its successor only;
/// the full U-statistic is L = (n − 1)/2). The samples must be i.i.d.: the design pairs
/// neighbours in sample order, so for MCMC output use [`KsdTest`](super::KsdTest) with
/// Markov-chain weights. Cost: nL Stein-kernel evaluations and nLB multiply-adds; memory
/// 8nL bytes for the pair table plus 72n per thread for the signs. Seeded: replicate b's
/// signs come from [`random_stream`]`(seed, RandomPurpose::BootstrapWeights, b)`, 64 per
/// draw; bit-identical for any thread count.
///
/// # Examples
/// ```
/// use dsm_core::*;
/// let model = Gaussian::standard(3)?;
/// let xs = model.sample_n(2000, 1, Par::Seq)?;
/// let test = LinearKsdTest::new(10, 7)?;
/// let r = test.run(&Ksd::new(Imq::default(), Estimator::U), &model, &xs, Par::rayon(2))?;
/// assert!(r.p_value > 0.0 && r.p_value <= 1.0);
/// println!("{r}");
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearKsdTest {
    offsets: usize,
    seed: u64,
    replicates: usize,
    level: f64,
}

/// The outcome of a [`LinearKsdTest`]; `Display` gives a one-line report.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct LinearKsdTestResult {
    /// The incomplete U-statistic Ū (an unbiased estimate of KSD²).
    pub statistic: f64,
    /// The bootstrap p-value (1 + #{Ū* ≥ Ū}) / (1 + B).
    pub p_value: f64,
    /// The (1 − α) empirical quantile of the replicates.
    pub critical_value: f64,
    /// The level α.
    pub level: f64,
    /// Whether H₀ is rejected (p ≤ α).
    pub reject: bool,
    /// Number of bootstrap replicates B.
    pub replicates: usize,
    /// Number of samples n.
    pub n: usize,
    /// Offsets L of the design (nL pairs).
    pub offsets: usize,
    /// Wall time of the test.
    pub elapsed: Duration,
}

impl fmt::Display for LinearKsdTestResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::display::{number, significant};
        let decision = if self.reject {
            "H₀ rejected"
        } else {
            "H₀ not rejected"
        };
        write!(
            f,
            "Ū = {}, p-value = {}: {decision} at α = {} (critical value {}; incomplete \
             U-statistic, L = {}, B = {}, n = {}; {} s)",
            number(f, self.statistic, 4),
            number(f, self.p_value, 3),
            self.level,
            number(f, self.critical_value, 4),
            self.offsets,
            self.replicates,
            self.n,
            significant(self.elapsed.as_secs_f64(), 3)
        )
    }
}

impl LinearKsdTest {
    /// The test with L = `offsets` design offsets and the seed; B = 1000, α = 0.05.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for L = 0.
    pub fn new(offsets: usize, seed: u64) -> Result<Self> {
        if offsets == 0 {
            return Err(Error::InvalidParameter {
                owner: "LinearKsdTest",
                name: "offsets",
                value: 0.0,
                constraint: ">= 1",
            });
        }
        Ok(Self {
            offsets,
            seed,
            replicates: 1000,
            level: 0.05,
        })
    }

    /// Sets B.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for B = 0.
    pub fn with_replicates(mut self, replicates: usize) -> Result<Self> {
        self.replicates = crate::validate::replicate_count(
            "LinearKsdTest::with_replicates",
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
        self.level = crate::validate::level("LinearKsdTest::with_level", level)?;
        Ok(self)
    }

    /// Runs the test of H₀: the samples come from `model` (the Stein kernel's estimator is
    /// not used: the statistic is always the incomplete U-statistic).
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] for n ≤ 2L (the design needs distinct pairs);
    /// [`Error::Unsupported`] for weighted samples; [`Error::MemoryCap`] when the 8nL-byte
    /// pair table overflows; the errors of [`SteinKernel::points`];
    /// [`Error::NonFiniteValue`] naming the first point of a pair with a non-finite k⁰.
    pub fn run<S, P>(
        &self,
        stein: &S,
        model: &P,
        samples: &Samples,
        par: Par,
    ) -> Result<LinearKsdTestResult>
    where
        S: SteinKernel,
        P: Score + Sync + ?Sized,
    {
        let start = Instant::now();
        self.check(samples)?;
        let points = stein.points(model, samples, par)?;
        self.finish(&points, None, start, par)
    }

    /// [`LinearKsdTest::run`] from samples with precomputed scores (MCMC draws and gradients;
    /// thin or shuffle dependent draws first).
    ///
    /// # Errors
    /// As [`LinearKsdTest::run`], with [`SteinKernel::points_scored`] for the points.
    pub fn run_scored<S: SteinKernel>(
        &self,
        stein: &S,
        scored: &ScoredSamples,
        par: Par,
    ) -> Result<LinearKsdTestResult> {
        let start = Instant::now();
        self.check(scored.samples())?;
        let points = stein.points_scored(scored, par)?;
        self.finish(&points, None, start, par)
    }

    /// [`LinearKsdTest::run`] with given signs (B × n, replicate-major) instead of seeded
    /// ones; also returns the replicates Ū*_b. For checking against an independent
    /// implementation.
    ///
    /// # Errors
    /// Those of [`LinearKsdTest::run`]; [`Error::DimensionMismatch`] when the signs are not a
    /// positive multiple of n long; [`Error::NonFiniteValue`] for a non-finite sign.
    #[doc(hidden)]
    pub fn run_with_signs<S, P>(
        &self,
        stein: &S,
        model: &P,
        samples: &Samples,
        signs: &[f64],
        par: Par,
    ) -> Result<(LinearKsdTestResult, Vec<f64>)>
    where
        S: SteinKernel,
        P: Score + Sync + ?Sized,
    {
        let start = Instant::now();
        let n = samples.n();
        if n == 0 || signs.is_empty() || !signs.len().is_multiple_of(n) {
            return Err(Error::DimensionMismatch {
                what: "number of bootstrap signs",
                got: signs.len(),
                against: "a positive multiple of the number of samples",
                expected: n.max(1),
            });
        }
        if let Some(index) = signs.iter().position(|w| !w.is_finite()) {
            return Err(Error::NonFiniteValue {
                quantity: "bootstrap sign",
                index,
            });
        }
        self.check(samples)?;
        let points = stein.points(model, samples, par)?;
        let mut replicates = Vec::new();
        let result = self.finish(&points, Some((signs, &mut replicates)), start, par)?;
        Ok((result, replicates))
    }

    fn check(&self, samples: &Samples) -> Result<()> {
        let n = samples.n();
        let needed = self.offsets.saturating_mul(2).saturating_add(1);
        if n < needed {
            return Err(Error::TooFewSamples { needed, got: n });
        }
        if samples.weights().is_some() {
            return Err(Error::Unsupported {
                what: "weighted samples in the linear-time test",
            });
        }
        let bytes = 8 * n as u128 * self.offsets as u128;
        if bytes > isize::MAX as u128 {
            return Err(Error::MemoryCap {
                what: "pair table of the linear-time test",
                needed_bytes: bytes,
                cap_bytes: isize::MAX as u128,
                largest_n: isize::MAX as usize / (8 * self.offsets),
                remedy: "use fewer offsets",
            });
        }
        Ok(())
    }

    fn finish<K: Kernel>(
        &self,
        points: &SteinPoints<'_, K>,
        given: Option<(&[f64], &mut Vec<f64>)>,
        start: Instant,
        par: Par,
    ) -> Result<LinearKsdTestResult> {
        let n = points.n();
        let l = self.offsets;
        // The pair table hᵢₗ = k⁰(xᵢ, x_{i+ℓ mod n}), point-major, and per-chunk sums.
        let mut h = vec![0.0; n * l];
        let fill = |(c, chunk): (usize, &mut [f64])| {
            let mut scratch = PairScratch::default();
            for (a, row) in chunk.chunks_exact_mut(l).enumerate() {
                let i = c * CHUNK + a;
                for (offset, slot) in row.iter_mut().enumerate() {
                    *slot = points.stein_kernel(i, (i + offset + 1) % n, &mut scratch);
                }
            }
        };
        par.for_each_chunk_mut(&mut h, CHUNK * l, fill)?;
        if let Some(pos) = h.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteValue {
                quantity: "Stein kernel",
                index: pos / l,
            });
        }
        let pairs = (n * l) as f64;
        let statistic = h
            .chunks(CHUNK * l)
            .map(|c| c.iter().sum::<f64>())
            .sum::<f64>()
            / pairs;
        let (raw, count) = match given {
            Some((signs, _)) => {
                let count = signs.len() / n;
                let copy = |b: usize, lane: &mut [f64]| {
                    lane.copy_from_slice(&signs[b * n..(b + 1) * n]);
                };
                (self.replicates_from(&h, n, count, copy, par)?, count)
            }
            None => {
                let seed = self.seed;
                let draw = |b: usize, lane: &mut [f64]| {
                    let mut rng = random_stream(seed, RandomPurpose::BootstrapWeights, b as u64);
                    for block in lane.chunks_mut(64) {
                        let bits = rng.next_u64();
                        for (k, slot) in block.iter_mut().enumerate() {
                            *slot = if (bits >> k) & 1 == 1 { 1.0 } else { -1.0 };
                        }
                    }
                };
                (
                    self.replicates_from(&h, n, self.replicates, draw, par)?,
                    self.replicates,
                )
            }
        };
        let replicates: Vec<f64> = raw.iter().map(|q| q / pairs).collect();
        if !statistic.is_finite() || replicates.iter().any(|t| !t.is_finite()) {
            return Err(Error::NonFiniteValue {
                quantity: "linear-time statistic or replicate (sums beyond f64)",
                index: 0,
            });
        }
        if let Some((_, out)) = given {
            out.clone_from(&replicates);
        }
        let decision = super::Decision::from_replicates(statistic, &replicates, self.level);
        Ok(LinearKsdTestResult {
            statistic,
            p_value: decision.p_value,
            critical_value: decision.critical_value,
            level: self.level,
            reject: decision.reject,
            replicates: count,
            n,
            offsets: l,
            elapsed: start.elapsed(),
        })
    }

    /// Σ_{(i,j)∈D} εᵢεⱼhᵢⱼ for replicates 0..count, LANES replicates per pass over the pair
    /// table, the signs of replicate b written by `signs(b, lane)`.
    fn replicates_from<F>(
        &self,
        h: &[f64],
        n: usize,
        count: usize,
        signs: F,
        par: Par,
    ) -> Result<Vec<f64>>
    where
        F: Fn(usize, &mut [f64]) + Sync,
    {
        let l = self.offsets;
        let mut out = vec![0.0; count];
        let block = |(c, slots): (usize, &mut [f64])| {
            let first = c * LANES;
            // Signs point-major (n × LANES, zero-padded), the inner loop over lanes.
            let mut lane = vec![0.0; n];
            let mut eps = vec![0.0; n * LANES];
            for b in 0..slots.len() {
                signs(first + b, &mut lane);
                for (i, e) in lane.iter().enumerate() {
                    eps[i * LANES + b] = *e;
                }
            }
            let mut total = [0.0; LANES];
            for (i, row) in h.chunks_exact(l).enumerate() {
                let mut acc = [0.0; LANES];
                for (offset, hij) in row.iter().enumerate() {
                    let j = (i + offset + 1) % n;
                    let ej = &eps[j * LANES..(j + 1) * LANES];
                    for (a, e) in acc.iter_mut().zip(ej) {
                        *a += hij * e;
                    }
                }
                let ei = &eps[i * LANES..(i + 1) * LANES];
                for ((t, a), e) in total.iter_mut().zip(&acc).zip(ei) {
                    *t += e * a;
                }
            }
            slots.copy_from_slice(&total[..slots.len()]);
        };
        par.for_each_chunk_mut(&mut out, LANES, block)?;
        Ok(out)
    }
}

//! KSDAgg: one test aggregating KSD tests over a collection of kernels and diffusions, with
//! the level corrected by the bootstrap (Schrab, Guedj & Gretton 2022; docs/math.md
//! eq. 14.5).

use std::fmt;
use std::time::{Duration, Instant};

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::bootstrap::{Bootstrap, KsdTest};
use super::points::SteinKernel;
use crate::density::Score;
use crate::error::{Error, Result};
use crate::mc::Par;
use crate::samples::Samples;
use crate::scored_samples::ScoredSamples;

/// What the aggregated test needs of one candidate: its statistic and wild-bootstrap
/// replicates on samples with scores. Every [`SteinKernel`] ([`Ksd`](super::Ksd) with any
/// kernel, [`DiffusionKsd`](super::DiffusionKsd) with any diffusion) is one.
pub trait AggregationCandidate: Sync {
    /// T and T*_1 … T*_B of `test` on `scored`.
    ///
    /// # Errors
    /// Those of [`KsdTest::run_scored`].
    fn statistic_and_replicates(
        &self,
        test: &KsdTest,
        scored: &ScoredSamples,
        par: Par,
    ) -> Result<(f64, Vec<f64>)>;
}

impl<S: SteinKernel + Sync> AggregationCandidate for S {
    fn statistic_and_replicates(
        &self,
        test: &KsdTest,
        scored: &ScoredSamples,
        par: Par,
    ) -> Result<(f64, Vec<f64>)> {
        let (result, replicates) = test.run_scored_with_replicates(self, scored, par)?;
        Ok((result.statistic, replicates))
    }
}

/// One member of the collection: a label for reports, the Stein kernel and its weight.
pub struct Candidate<'a> {
    /// A name for the report ("IMQ c = 0.5", "tilted γ = 1", …).
    pub label: String,
    /// The Stein kernel.
    pub stein: &'a dyn AggregationCandidate,
    /// Its prior weight w_λ > 0 (normalised over the collection).
    pub weight: f64,
}

impl<'a> Candidate<'a> {
    /// A candidate of weight 1.
    pub fn new(label: impl Into<String>, stein: &'a dyn AggregationCandidate) -> Self {
        Candidate {
            label: label.into(),
            stein,
            weight: 1.0,
        }
    }
}

/// The aggregated wild-bootstrap test (KSDAgg). For candidates λ with weights w_λ (Σ = 1),
/// statistics T_λ, B₁ replicates for the quantiles and B₂ for the level, all from the same
/// signs:
///
/// ```text
/// q_λ(a)  = the ⌈(B₁+1)(1 − a)⌉-th smallest of {T*_λ,1 … T*_λ,B₁, T_λ}
/// P(u)    = (1/B₂) #{b : max_λ (T*_λ,B₁+b − q_λ(u w_λ)) > 0}
/// u_α     = sup{u ∈ (0, min_λ 1/w_λ) : P(u) ≤ α}             (bisection, `steps` halvings)
/// reject H₀  ⇔  T_λ > q_λ(u_α w_λ) for some λ
/// ```
/// The correction makes the whole collection one level-α test, less conservative than
/// Bonferroni (u = α, each candidate at level α w_λ) when the candidates' statistics are
/// dependent, as they are for neighbouring bandwidths. Candidates can mix
/// kernels (bandwidths around the median) and diffusions (the identity, a
/// [`TiltedDiffusion`](crate::TiltedDiffusion), a flow's diffusion). The scores are computed
/// once ([`AggregatedKsdTest::run`]) or given ([`AggregatedKsdTest::run_scored`]).
///
/// # Examples
/// ```
/// use dsm_core::*;
/// let model = Gaussian::standard(1)?;
/// let xs = StudentT::new(0.0, 1.0, 3.0)?.sample_n(300, 2, Par::Seq)?;
/// let med = Rbf::median_heuristic(&xs)?.bandwidth();
/// let kernels: Vec<Ksd<Imq>> = [0.25, 1.0, 4.0]
///     .iter()
///     .map(|f| Ok(Ksd::new(Imq::new(f * med, -0.5)?, Estimator::U)))
///     .collect::<Result<_>>()?;
/// let tilted = DiffusionKsd::new(Imq::default(), TiltedDiffusion::new(vec![0.0], 1.0)?, Estimator::U)?;
/// let mut candidates: Vec<Candidate> =
///     kernels.iter().enumerate().map(|(i, k)| Candidate::new(format!("IMQ {i}"), k)).collect();
/// candidates.push(Candidate::new("tilted", &tilted));
/// let r = AggregatedKsdTest::new(Bootstrap::Rademacher, 3)?.run(&candidates, &model, &xs, Par::rayon(2))?;
/// println!("{r}");
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AggregatedKsdTest {
    bootstrap: Bootstrap,
    seed: u64,
    quantile_replicates: usize,
    level_replicates: usize,
    steps: usize,
    level: f64,
}

/// One candidate's part of an [`AggregatedTestResult`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct CandidateOutcome {
    /// The candidate's label.
    pub label: String,
    /// Its normalised weight w_λ.
    pub weight: f64,
    /// Its statistic T_λ.
    pub statistic: f64,
    /// Its corrected threshold q_λ(u_α w_λ).
    pub threshold: f64,
    /// Whether T_λ exceeds the threshold.
    pub reject: bool,
}

/// The outcome of an [`AggregatedKsdTest`]; `Display` prints the decision and a line per
/// candidate.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct AggregatedTestResult {
    /// Whether H₀ is rejected (by at least one candidate).
    pub reject: bool,
    /// The level α.
    pub level: f64,
    /// The corrected u_α (α would be Bonferroni: each candidate at level α w_λ).
    pub u_alpha: f64,
    /// Per candidate, in the order given.
    pub candidates: Vec<CandidateOutcome>,
    /// B₁ and B₂.
    pub replicates: (usize, usize),
    /// Number of samples n.
    pub n: usize,
    /// Wall time.
    pub elapsed: Duration,
}

impl fmt::Display for AggregatedTestResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::display::significant;
        let decision = if self.reject {
            "H₀ rejected"
        } else {
            "H₀ not rejected"
        };
        write!(
            f,
            "aggregated KSD test: {decision} at α = {} over {} candidates (u_α = {}, B₁ = {}, B₂ = {}, n = {}; {} s)",
            self.level,
            self.candidates.len(),
            significant(self.u_alpha, 3),
            self.replicates.0,
            self.replicates.1,
            self.n,
            significant(self.elapsed.as_secs_f64(), 3)
        )?;
        for c in &self.candidates {
            write!(
                f,
                "\n  {}: T = {}, threshold {}{}",
                c.label,
                significant(c.statistic, 4),
                significant(c.threshold, 4),
                if c.reject { " (rejects)" } else { "" }
            )?;
        }
        Ok(())
    }
}

impl AggregatedKsdTest {
    /// The test with the bootstrap law and seed, B₁ = B₂ = 500, 50 bisection steps and
    /// α = 0.05.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for [`Bootstrap::MarkovChainAuto`] (the candidates must share
    /// one law of signs: give the flip probability); those of [`KsdTest::new`].
    pub fn new(bootstrap: Bootstrap, seed: u64) -> Result<Self> {
        if bootstrap == Bootstrap::MarkovChainAuto {
            return Err(Error::Unsupported {
                what: "MarkovChainAuto in the aggregated test (give the flip probability)",
            });
        }
        KsdTest::new(bootstrap, seed)?;
        Ok(Self {
            bootstrap,
            seed,
            quantile_replicates: 500,
            level_replicates: 500,
            steps: 50,
            level: 0.05,
        })
    }

    /// Sets B₁ (quantiles) and B₂ (level correction).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for B₁ = 0 or B₂ = 0.
    pub fn with_replicates(mut self, quantile: usize, level: usize) -> Result<Self> {
        let owner = "AggregatedKsdTest::with_replicates";
        self.quantile_replicates =
            crate::validate::replicate_count(owner, "quantile replicates", quantile)?;
        self.level_replicates = crate::validate::replicate_count(owner, "level replicates", level)?;
        Ok(self)
    }

    /// Sets the level α.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for α outside (0, 1).
    pub fn with_level(mut self, level: f64) -> Result<Self> {
        self.level = crate::validate::level("AggregatedKsdTest::with_level", level)?;
        Ok(self)
    }

    /// Runs the test with the model's scores (computed once for all candidates).
    ///
    /// # Errors
    /// As [`AggregatedKsdTest::run_scored`]; a non-finite score is [`Error::NonFiniteValue`]
    /// naming the sample.
    pub fn run<P: Score + Sync + ?Sized>(
        &self,
        candidates: &[Candidate<'_>],
        model: &P,
        samples: &Samples,
        par: Par,
    ) -> Result<AggregatedTestResult> {
        let scored = ScoredSamples::from_model(model, samples, par)?;
        self.run_scored(candidates, &scored, par)
    }

    /// Runs the test on samples with their scores.
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] for no candidates; [`Error::InvalidParameter`] for a weight
    /// that is not finite and positive; the errors of each candidate's test.
    pub fn run_scored(
        &self,
        candidates: &[Candidate<'_>],
        scored: &ScoredSamples,
        par: Par,
    ) -> Result<AggregatedTestResult> {
        let start = Instant::now();
        if candidates.is_empty() {
            return Err(Error::TooFewSamples { needed: 1, got: 0 });
        }
        if let Some(c) = candidates
            .iter()
            .find(|c| !(c.weight.is_finite() && c.weight > 0.0))
        {
            return Err(Error::InvalidParameter {
                owner: "AggregatedKsdTest",
                name: "candidate weight",
                value: c.weight,
                constraint: "finite and > 0",
            });
        }
        let total_weight: f64 = candidates.iter().map(|c| c.weight).sum();
        let (b1, b2) = (self.quantile_replicates, self.level_replicates);
        let test = KsdTest::new(self.bootstrap, self.seed)?.with_replicates(b1 + b2)?;
        // Per candidate: T, the sorted quantile set {T*_1..T*_B₁, T} and the level replicates.
        let mut runs = Vec::with_capacity(candidates.len());
        for c in candidates {
            let (statistic, replicates) = c.stein.statistic_and_replicates(&test, scored, par)?;
            let mut quantile_set = replicates[..b1].to_vec();
            quantile_set.push(statistic);
            quantile_set.sort_by(f64::total_cmp);
            runs.push((
                statistic,
                quantile_set,
                replicates[b1..].to_vec(),
                c.weight / total_weight,
            ));
        }
        let quantile = |set: &[f64], a: f64| {
            let k = ((b1 + 1) as f64 * (1.0 - a)).ceil() as usize;
            set[k.clamp(1, b1 + 1) - 1]
        };
        let exceed_fraction = |u: f64| {
            let thresholds: Vec<f64> = runs
                .iter()
                .map(|(_, set, _, w)| quantile(set, u * w))
                .collect();
            let hits = (0..b2)
                .filter(|&b| {
                    runs.iter()
                        .zip(&thresholds)
                        .any(|((_, _, level, _), q)| level[b] > *q)
                })
                .count();
            hits as f64 / b2 as f64
        };
        let (mut lo, mut hi) = (
            0.0,
            runs.iter().map(|r| 1.0 / r.3).fold(f64::INFINITY, f64::min),
        );
        for _ in 0..self.steps {
            let mid = 0.5 * (lo + hi);
            if exceed_fraction(mid) <= self.level {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let u_alpha = lo;
        let outcomes: Vec<CandidateOutcome> = candidates
            .iter()
            .zip(&runs)
            .map(|(c, (statistic, set, _, w))| {
                let threshold = quantile(set, u_alpha * w);
                CandidateOutcome {
                    label: c.label.clone(),
                    weight: *w,
                    statistic: *statistic,
                    threshold,
                    reject: *statistic > threshold,
                }
            })
            .collect();
        Ok(AggregatedTestResult {
            reject: outcomes.iter().any(|o| o.reject),
            level: self.level,
            u_alpha,
            candidates: outcomes,
            replicates: (b1, b2),
            n: scored.samples().n(),
            elapsed: start.elapsed(),
        })
    }
}

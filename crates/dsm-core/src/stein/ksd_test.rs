//! The one-call goodness-of-fit test with documented defaults.

use super::bootstrap::{Bootstrap, KsdTest, KsdTestResult};
use super::estimate::Estimator;
use super::ksd::Ksd;
use crate::density::Score;
use crate::error::Result;
use crate::kernel::Imq;
use crate::mc::Par;
use crate::samples::Samples;

/// Tests H₀: the samples come from `model`, with the defaults of the literature in one call.
///
/// The defaults (Chwialkowski, Strathmann & Gretton 2016; Gorham & Mackey 2017):
///
/// | setting | default |
/// |---|---|
/// | Stein kernel | Langevin ([`Ksd`]) |
/// | base kernel | IMQ k(x, y) = (c² + ‖x − y‖²)^β, c = 1, β = −½ ([`Imq::default`]) |
/// | statistic | T = n·V = (1/n) Σ_{i,j} k⁰(xᵢ, xⱼ) ([`Estimator::V`]) |
/// | bootstrap weights | i.i.d. Rademacher signs ([`Bootstrap::Rademacher`]) |
/// | replicates | B = 1000 |
/// | level | α = 0.05 |
/// | memory cap | [`DEFAULT_MEMORY_CAP`](super::DEFAULT_MEMORY_CAP) (n up to about 11 000) |
///
/// It is exactly
/// ```text
/// KsdTest::new(Bootstrap::Rademacher, seed)?
///     .run(&Ksd::new(Imq::default(), Estimator::V), model, samples, par)
/// ```
/// so the result (but for [`elapsed`](KsdTestResult::elapsed)) is bit-identical to it and
/// for any `par`. Use [`KsdTest`] directly for another kernel, a diffusion Stein kernel,
/// Markov-chain weights (MCMC output), B or α. The seed keys the bootstrap weights only.
///
/// # Errors
/// Those of [`KsdTest::run`]: [`Error::TooFewSamples`](crate::Error::TooFewSamples) for
/// n < 2 (or fewer than two positive weights), [`Error::MemoryCap`](crate::Error::MemoryCap)
/// when one replicate does not fit the cap, dimension mismatches
/// and non-finite scores or kernel values.
///
/// # Examples
/// ```
/// use dsm_core::*;
/// let model = StudentT::new(0.0, 1.0, 5.0)?;
/// let xs = model.sample_n(300, 1, Par::Seq)?;
/// let result = ksd_test(&model, &xs, 42, Par::rayon(2))?;
/// assert_eq!((result.replicates, result.level, result.n), (1000, 0.05, 300));
/// println!("{result}"); // T = …, p-value = …: H₀ not rejected at α = 0.05 (…)
///
/// // Samples from a shifted model are rejected.
/// let shifted = StudentT::new(1.0, 1.0, 5.0)?.sample_n(300, 2, Par::Seq)?;
/// assert!(ksd_test(&model, &shifted, 42, Par::rayon(2))?.reject);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn ksd_test<P>(model: &P, samples: &Samples, seed: u64, par: Par) -> Result<KsdTestResult>
where
    P: Score + Sync + ?Sized,
{
    KsdTest::new(Bootstrap::Rademacher, seed)?.run(
        &Ksd::new(Imq::default(), Estimator::V),
        model,
        samples,
        par,
    )
}

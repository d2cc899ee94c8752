//! The Fisher divergence F(q ‖ p), docs/math.md eq. 1.

use crate::density::Score;
use crate::error::{Result, check_finite, same_dim};
use crate::mc::{self, Estimate, Par};
use crate::samples::Samples;

/// Per-sample integrand of the Fisher divergence (docs/math.md eq. 1), for samples x ~ q:
///
/// ```text
/// h(x) = ‖ s_q(x) − s_p(x) ‖²
/// ```
///
/// # Errors
/// [`Error::DimensionMismatch`](crate::Error::DimensionMismatch) when q, p and the samples
/// differ in dimension; [`Error::NonFiniteValue`](crate::Error::NonFiniteValue) naming the
/// first sample where a score is not finite; [`Error::ThreadPool`](crate::Error::ThreadPool).
pub fn fisher_divergence_integrand<Q, P>(
    q: &Q,
    p: &P,
    samples: &Samples,
    par: Par,
) -> Result<Vec<f64>>
where
    Q: Score + Sync + ?Sized,
    P: Score + Sync + ?Sized,
{
    let d = samples.dim();
    same_dim("dimension of q", q.dim(), "dimension of the samples", d)?;
    same_dim("dimension of p", p.dim(), "dimension of the samples", d)?;
    mc::map_samples(
        samples,
        par,
        || (vec![0.0; d], vec![0.0; d]),
        |(sq, sp), i, x| {
            q.score_into(x, sq);
            check_finite(sq, "score of q", i)?;
            p.score_into(x, sp);
            check_finite(sp, "score of p", i)?;
            Ok(sq
                .iter()
                .zip(sp.iter())
                .map(|(a, b)| (a - b) * (a - b))
                .sum())
        },
    )
}

/// The Fisher divergence F(q ‖ p) = E_q ‖s_q − s_p‖² (docs/math.md eq. 1), estimated over
/// `samples` drawn from q (weighted if they carry weights).
///
/// # Errors
/// As [`fisher_divergence_integrand`].
///
/// # Examples
/// ```
/// use dsm_core::{fisher_divergence, Gaussian, Par, Sampler};
/// let q = Gaussian::isotropic(vec![0.0, 0.0], 1.0)?;
/// let p = Gaussian::isotropic(vec![1.0, 0.0], 1.0)?;
/// let xs = q.sample_n(2000, 7, Par::Seq)?;
/// // s_q − s_p = (μ_q − μ_p) for equal covariances: F = ‖μ_q − μ_p‖² = 1 exactly.
/// let f = fisher_divergence(&q, &p, &xs, Par::Seq)?;
/// assert!((f.value - 1.0).abs() < 1e-12);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn fisher_divergence<Q, P>(q: &Q, p: &P, samples: &Samples, par: Par) -> Result<Estimate>
where
    Q: Score + Sync + ?Sized,
    P: Score + Sync + ?Sized,
{
    let values = fisher_divergence_integrand(q, p, samples, par)?;
    Estimate::from_values(&values, samples.weights(), par)
}

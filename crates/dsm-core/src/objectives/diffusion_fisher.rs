//! The diffusion Fisher divergence D_m(q ‖ p), docs/math.md eq. 5.

use crate::density::Score;
use crate::diffusion::Diffusion;
use crate::error::{Result, check_finite, same_dim};
use crate::mc::{self, Estimate, Par};
use crate::samples::Samples;

/// Per-sample integrand of the diffusion Fisher divergence (docs/math.md eq. 5):
///
/// ```text
/// h(x) = ‖ m(x)ᵀ ( s_q(x) − s_p(x) ) ‖²
/// ```
///
/// # Errors
/// [`Error::DimensionMismatch`](crate::Error::DimensionMismatch) when q, p, the diffusion
/// and the samples differ in dimension; [`Error::NonFiniteValue`](crate::Error::NonFiniteValue)
/// naming the first sample where a score or m is not finite;
/// [`Error::ThreadPool`](crate::Error::ThreadPool).
pub fn diffusion_fisher_divergence_integrand<Q, P, M>(
    q: &Q,
    p: &P,
    diffusion: &M,
    samples: &Samples,
    par: Par,
) -> Result<Vec<f64>>
where
    Q: Score + Sync + ?Sized,
    P: Score + Sync + ?Sized,
    M: Diffusion + ?Sized,
{
    let d = samples.dim();
    same_dim("dimension of q", q.dim(), "dimension of the samples", d)?;
    same_dim("dimension of p", p.dim(), "dimension of the samples", d)?;
    same_dim(
        "dimension of the diffusion",
        diffusion.dim(),
        "dimension of the samples",
        d,
    )?;
    mc::map_samples(
        samples,
        par,
        || (vec![0.0; d], vec![0.0; d], vec![0.0; d * d]),
        |(sq, sp, m), i, x| {
            q.score_into(x, sq);
            check_finite(sq, "score of q", i)?;
            p.score_into(x, sp);
            check_finite(sp, "score of p", i)?;
            diffusion.matrix_into(x, m).map_err(|e| e.at_sample(i))?;
            check_finite(m, "diffusion matrix", i)?;
            // (mᵀ δ)_k = Σ_j m_jk δ_j
            let mut total = 0.0;
            for k in 0..d {
                let v: f64 = (0..d).map(|j| m[j * d + k] * (sq[j] - sp[j])).sum();
                total += v * v;
            }
            Ok(total)
        },
    )
}

/// The diffusion Fisher divergence D_m(q ‖ p) = E_q ‖mᵀ(s_q − s_p)‖² (docs/math.md eq. 5),
/// estimated over `samples` from q. A divergence when m(x) is invertible everywhere.
///
/// # Errors
/// As [`diffusion_fisher_divergence_integrand`].
///
/// # Examples
/// ```
/// use dsm_core::{diffusion_fisher_divergence, ConstantDiffusion, Gaussian, Par, Sampler};
/// let q = Gaussian::standard(2)?;
/// let p = Gaussian::isotropic(vec![1.0, 0.0], 1.0)?;
/// let m = ConstantDiffusion::new(2, vec![3.0, 0.0, 0.0, 1.0])?;
/// let xs = q.sample_n(100, 3, Par::Seq)?;
/// // mᵀ(s_q − s_p) = mᵀ(μ_q − μ_p) = (−3, 0): D = 9 at every sample.
/// let dm = diffusion_fisher_divergence(&q, &p, &m, &xs, Par::Seq)?;
/// assert!((dm.value - 9.0).abs() < 1e-12);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn diffusion_fisher_divergence<Q, P, M>(
    q: &Q,
    p: &P,
    diffusion: &M,
    samples: &Samples,
    par: Par,
) -> Result<Estimate>
where
    Q: Score + Sync + ?Sized,
    P: Score + Sync + ?Sized,
    M: Diffusion + ?Sized,
{
    let values = diffusion_fisher_divergence_integrand(q, p, diffusion, samples, par)?;
    Estimate::from_values(&values, samples.weights(), par)
}

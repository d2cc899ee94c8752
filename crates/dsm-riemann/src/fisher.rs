//! The Riemannian Fisher divergence, docs/math.md eqs. 13 and 33.

use crate::metric::Metric;
use dsm_core::validate::same_dim;
use dsm_core::{Error, Estimate, Par, Result, Samples, Score, mc};

/// Per-sample integrand of the Riemannian Fisher divergence (docs/math.md eq. 33):
///
/// ```text
/// h(x) = δᵀ G(x)⁻¹ δ,   δ = s_q(x) − s_p(x)
/// ```
/// computed by a Cholesky solve G z = δ (faer), without forming any square root m.
///
/// # Errors
/// [`Error::DimensionMismatch`]; [`Error::NonFiniteValue`] for non-finite scores;
/// [`Error::NotPositiveDefinite`] naming the first sample where G is not SPD (or outside its
/// domain); [`Error::ThreadPool`].
pub fn riemannian_fisher_divergence_integrand<Q, P, M>(
    q: &Q,
    p: &P,
    metric: &M,
    samples: &Samples,
    par: Par,
) -> Result<Vec<f64>>
where
    Q: Score + Sync + ?Sized,
    P: Score + Sync + ?Sized,
    M: Metric + ?Sized,
{
    let d = samples.dim();
    same_dim("dimension of q", q.dim(), "dimension of the samples", d)?;
    same_dim("dimension of p", p.dim(), "dimension of the samples", d)?;
    same_dim(
        "dimension of the metric",
        metric.dim(),
        "dimension of the samples",
        d,
    )?;
    mc::map_samples(
        samples,
        par,
        || {
            let scratch = vec![0.0; d * d + d];
            (
                vec![0.0; d],
                vec![0.0; d],
                vec![0.0; d * d],
                vec![0.0; d],
                scratch,
            )
        },
        |(sq, sp, g, delta, scratch), i, x| {
            q.score_into(x, sq);
            p.score_into(x, sp);
            if sq.iter().chain(sp.iter()).any(|v| !v.is_finite()) {
                return Err(Error::NonFiniteValue {
                    quantity: "score",
                    index: i,
                });
            }
            metric.metric_into(x, g).map_err(|e| e.at_sample(i))?;
            let not_spd = Error::NotPositiveDefinite {
                name: "metric",
                index: Some(i),
            };
            for (a, (q, p)) in sq.iter().zip(sp.iter()).enumerate() {
                delta[a] = q - p;
            }
            dsm_core::linalg::spd_inverse_quadratic_form_in_scratch("metric", g, d, delta, scratch)
                .map_err(|_| not_spd)
        },
    )
}

/// The Fisher divergence on a Riemannian manifold with metric G (Proposition 3.1,
/// docs/math.md eqs. 13 and 33), estimated over `samples` from q:
///
/// ```text
/// F_M(q_M ‖ p_M) = E_q[ (s_q − s_p)ᵀ G⁻¹ (s_q − s_p) ] = D_m(q ‖ p)  for any m with m mᵀ = G⁻¹
/// ```
///
/// # Errors
/// As [`riemannian_fisher_divergence_integrand`].
///
/// # Examples
/// ```
/// use dsm_core::{Gaussian, Par, Sampler};
/// use dsm_riemann::{riemannian_fisher_divergence, ConstantMetric};
/// let q = Gaussian::standard(2)?;
/// let p = Gaussian::isotropic(vec![1.0, 0.0], 1.0)?;
/// let xs = q.sample_n(50, 1, Par::Seq)?;
/// // δ = μ_p − μ_q = (−1, 0)… with G = 2I: δᵀG⁻¹δ = 1/2 at every sample.
/// let f = riemannian_fisher_divergence(&q, &p, &ConstantMetric::new(2, vec![2.0, 0.0, 0.0, 2.0])?, &xs, Par::Seq)?;
/// assert!((f.value - 0.5).abs() < 1e-12);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn riemannian_fisher_divergence<Q, P, M>(
    q: &Q,
    p: &P,
    metric: &M,
    samples: &Samples,
    par: Par,
) -> Result<Estimate>
where
    Q: Score + Sync + ?Sized,
    P: Score + Sync + ?Sized,
    M: Metric + ?Sized,
{
    let values = riemannian_fisher_divergence_integrand(q, p, metric, samples, par)?;
    Estimate::from_values(&values, samples.weights(), par)
}

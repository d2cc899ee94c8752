//! The diffusion score-matching loss, docs/math.md eq. 6.

use crate::density::Hessian;
use crate::diffusion::{Diffusion, DiffusionWork};
use crate::error::{Result, check_finite, same_dim};
use crate::mc::{self, Estimate, Par};
use crate::samples::Samples;

/// Per-sample integrand of the diffusion score-matching loss (docs/math.md eq. 6), with the
/// divergence term computed exactly from the diffusion's derivatives:
///
/// ```text
/// h(x) = ‖mᵀ s‖² + 2 ∇·(m mᵀ s)
///      = sᵀ A s + 2 [ (∇·A)ᵀ s + tr(A ∇² log p) ],      A = m mᵀ,  (∇·A)_j = Σ_i ∂_i A_ij
/// ```
///
/// # Errors
/// [`Error::DimensionMismatch`](crate::Error::DimensionMismatch) when p, the diffusion and
/// the samples differ in dimension; [`Error::NonFiniteValue`](crate::Error::NonFiniteValue)
/// naming the first sample where the score, Hessian, A or ∇·A is not finite;
/// [`Error::ThreadPool`](crate::Error::ThreadPool).
pub fn diffusion_score_matching_integrand<P, M>(
    p: &P,
    diffusion: &M,
    samples: &Samples,
    par: Par,
) -> Result<Vec<f64>>
where
    P: Hessian + Sync + ?Sized,
    M: Diffusion + ?Sized,
{
    let d = samples.dim();
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
        || Buffers::new(d),
        |b, i, x| {
            p.score_and_hessian_into(x, &mut b.s, &mut b.h);
            check_finite(&b.s, "score of p", i)?;
            check_finite(&b.h, "hessian of log p", i)?;
            diffusion
                .covariance_into(x, &mut b.work, &mut b.a, &mut b.div_a)
                .map_err(|e| e.at_sample(i))?;
            check_finite(&b.a, "diffusion covariance m mᵀ", i)?;
            check_finite(&b.div_a, "divergence of m mᵀ", i)?;
            Ok(integrand_at(&b.s, &b.h, &b.a, &b.div_a))
        },
    )
}

/// The DSM integrand at one point from s, ∇² log p, A = m mᵀ and ∇·A (row-major d × d):
/// sᵀAs + 2[(∇·A)ᵀs + tr(A ∇² log p)] (docs/math.md eq. 6).
pub(super) fn integrand_at(s: &[f64], h: &[f64], a: &[f64], div_a: &[f64]) -> f64 {
    let d = s.len();
    let mut quad = 0.0;
    let mut trace = 0.0;
    for j in 0..d {
        let arow = &a[j * d..(j + 1) * d];
        quad += s[j] * arow.iter().zip(s).map(|(aij, si)| aij * si).sum::<f64>();
        // tr(A H) = Σ_jk A_jk H_kj, and H is symmetric.
        trace += arow
            .iter()
            .zip(&h[j * d..(j + 1) * d])
            .map(|(x, y)| x * y)
            .sum::<f64>();
    }
    let div_term: f64 = div_a.iter().zip(s).map(|(x, y)| x * y).sum();
    quad + 2.0 * (div_term + trace)
}

/// Per-chunk buffers of the DSM integrand.
struct Buffers {
    s: Vec<f64>,
    h: Vec<f64>,
    a: Vec<f64>,
    div_a: Vec<f64>,
    work: DiffusionWork,
}

impl Buffers {
    fn new(d: usize) -> Self {
        Self {
            s: vec![0.0; d],
            h: vec![0.0; d * d],
            a: vec![0.0; d * d],
            div_a: vec![0.0; d],
            work: DiffusionWork::new(),
        }
    }
}

/// The diffusion score-matching loss L_DSM(p) = E_q[‖mᵀ s_p‖² + 2 ∇·(m mᵀ s_p)]
/// (docs/math.md eq. 6), which equals D_m(q ‖ p) − E_q‖mᵀ s_q‖², estimated over `samples` from q.
///
/// When m depends on the model's parameters (the paper's manual flow), this is the
/// *surrogate* of docs/math.md section 2.3: pass the diffusion built at the same parameters.
///
/// # Errors
/// As [`diffusion_score_matching_integrand`].
///
/// # Examples
/// With m = I the DSM loss is the SM loss:
/// ```
/// use dsm_core::*;
/// let p = StudentT::new(0.5, 1.0, 5.0)?;
/// let xs = StudentT::new(0.0, 1.0, 5.0)?.sample_n(500, 11, Par::Seq)?;
/// let dsm = diffusion_score_matching_loss(&p, &IdentityDiffusion::new(1), &xs, Par::Seq)?;
/// let sm = score_matching_loss(&p, &xs, Par::Seq)?;
/// assert_eq!(dsm.value, sm.value);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn diffusion_score_matching_loss<P, M>(
    p: &P,
    diffusion: &M,
    samples: &Samples,
    par: Par,
) -> Result<Estimate>
where
    P: Hessian + Sync + ?Sized,
    M: Diffusion + ?Sized,
{
    let values = diffusion_score_matching_integrand(p, diffusion, samples, par)?;
    Estimate::from_values(&values, samples.weights(), par)
}

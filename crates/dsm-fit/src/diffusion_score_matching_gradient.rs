//! The diffusion score-matching loss with a fixed diffusion and its exact gradient in θ.

use num_dual::HyperHyperDual64;

use crate::duals::with_duals;
use crate::model::ParametricModel;
use crate::objective_gradient::{
    ObjectiveGradient, add_gauss_newton, assemble, check_inputs, row_width,
};
use dsm_core::mc::{self, Par};
use dsm_core::{Diffusion, DiffusionWork, Error, Result, Samples};

/// Per-chunk scratch: A, ∇·A, and the model's s, H, ∂θs, ∂θH at one point.
struct Scratch {
    work: DiffusionWork,
    a: Vec<f64>,
    div_a: Vec<f64>,
    s: Vec<f64>,
    h: Vec<f64>,
    ds: Vec<f64>,
    dh: Vec<f64>,
}

/// The DSM loss of a [`ParametricModel`] with a diffusion m that does not depend on θ
/// (docs/math.md eq. 6) and its exact gradient in θ (docs/math.md eq. 11.5):
///
/// ```text
/// h(x; θ) = sᵀAs + 2[(∇·A)ᵀs + tr(A ∇ₓ²ℓ)],   A = m mᵀ,  s = ∇ₓℓ
/// ∂θₖ h = 2 (A s + ∇·A)ᵀ ∂θₖs + 2 tr(A ∂θₖ∇ₓ²ℓ)
/// ```
/// A and ∇·A are computed once per point by the diffusion; ℓ's mixed derivatives come from
/// one hyper-hyper-dual evaluation per (xᵢ, xⱼ, θₖ), i ≤ j: p·d(d+1)/2 per sample. With
/// m = I this is [`score_matching_gradient`](crate::score_matching_gradient).
///
/// # Errors
/// As [`score_matching_gradient`](crate::score_matching_gradient); the diffusion's errors
/// (a singular Jacobian, say) naming the sample; [`Error::DimensionMismatch`] for a
/// diffusion of another dimension.
///
/// # Examples
/// ```
/// use dsm_core::{IdentityDiffusion, Par, Sampler, Scalar, StudentT};
/// use dsm_fit::{ParametricModel, diffusion_score_matching_gradient, score_matching_gradient};
/// struct Location;
/// impl ParametricModel for Location {
///     fn dim(&self) -> usize { 1 }
///     fn n_params(&self) -> usize { 1 }
///     fn log_density_generic<D: Scalar>(&self, theta: &[D], x: &[D]) -> D {
///         let z = x[0] - theta[0];
///         -(z * z / 5.0 + 1.0).ln() * 3.0
///     }
/// }
/// let xs = StudentT::new(0.0, 1.0, 5.0)?.sample_n(500, 1, Par::Seq)?;
/// let dsm = diffusion_score_matching_gradient(&Location, &IdentityDiffusion::new(1), &[0.4], &xs, Par::Seq)?;
/// let sm = score_matching_gradient(&Location, &[0.4], &xs, Par::Seq)?;
/// assert!((dsm.gradient[0] - sm.gradient[0]).abs() < 1e-12);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn diffusion_score_matching_gradient<M: ParametricModel, A: Diffusion>(
    model: &M,
    diffusion: &A,
    theta: &[f64],
    samples: &Samples,
    par: Par,
) -> Result<ObjectiveGradient> {
    let p = check_inputs("diffusion_score_matching_gradient", model, theta, samples)?;
    let d = samples.dim();
    dsm_core::validate::same_dim(
        "dimension of the diffusion",
        diffusion.dim(),
        "dimension of the samples",
        d,
    )?;
    let rows = mc::map_rows(
        samples,
        row_width(p),
        par,
        || Scratch {
            work: DiffusionWork::new(),
            a: vec![0.0; d * d],
            div_a: vec![0.0; d],
            s: vec![0.0; d],
            h: vec![0.0; d * d],
            ds: vec![0.0; p * d],
            dh: vec![0.0; p * d * d],
        },
        |sc, n, x, row| {
            diffusion
                .covariance_into(x, &mut sc.work, &mut sc.a, &mut sc.div_a)
                .map_err(|e| e.at_sample(n))?;
            mixed_derivatives(model, theta, x, sc);
            let (value, rest) = row.split_at_mut(1);
            let (grad, hess) = rest.split_at_mut(p);
            value[0] = terms(d, sc, grad);
            hess.fill(0.0);
            add_gauss_newton(&sc.ds, Some(&sc.a), d, hess);
            if row.iter().all(|v| v.is_finite()) {
                Ok(())
            } else {
                Err(Error::NonFiniteValue {
                    quantity: "DSM integrand or its θ-gradient",
                    index: n,
                })
            }
        },
    )?;
    assemble(&rows, p, samples, par)
}

/// s, H = ∇ₓ²ℓ, ∂θₖs and ∂θₖH at x into the scratch.
fn mixed_derivatives<M: ParametricModel>(model: &M, theta: &[f64], x: &[f64], sc: &mut Scratch) {
    let d = x.len();
    with_duals(theta, x, HyperHyperDual64::from, |th, xs| {
        for i in 0..d {
            for j in i..d {
                xs[i].eps1 = 1.0;
                xs[j].eps2 = 1.0;
                for k in 0..th.len() {
                    th[k].eps3 = 1.0;
                    let l = model.log_density_generic(th, xs);
                    th[k].eps3 = 0.0;
                    if k == 0 {
                        sc.h[i * d + j] = l.eps1eps2;
                        sc.h[j * d + i] = l.eps1eps2;
                        if j == i {
                            sc.s[i] = l.eps1;
                        }
                    }
                    if j == i {
                        sc.ds[k * d + i] = l.eps1eps3;
                    }
                    sc.dh[(k * d + i) * d + j] = l.eps1eps2eps3;
                    sc.dh[(k * d + j) * d + i] = l.eps1eps2eps3;
                }
                xs[i].eps1 = 0.0;
                xs[j].eps2 = 0.0;
            }
        }
    });
}

/// h and ∂θh from the scratch (eq. 11.5).
fn terms(d: usize, sc: &Scratch, grad: &mut [f64]) -> f64 {
    let (a, div_a, s, h) = (&sc.a, &sc.div_a, &sc.s, &sc.h);
    let mut quad = 0.0;
    let mut trace = 0.0;
    let mut div_term = 0.0;
    // w = A s + ∇·A
    let mut w_buf = [0.0; crate::duals::STACK_LEN];
    let mut w_heap = Vec::new();
    let w: &mut [f64] = if d <= crate::duals::STACK_LEN {
        &mut w_buf[..d]
    } else {
        w_heap.resize(d, 0.0);
        &mut w_heap
    };
    for j in 0..d {
        let arow = &a[j * d..(j + 1) * d];
        let as_j: f64 = arow.iter().zip(s.iter()).map(|(x, y)| x * y).sum();
        quad += s[j] * as_j;
        trace += arow
            .iter()
            .zip(&h[j * d..(j + 1) * d])
            .map(|(x, y)| x * y)
            .sum::<f64>();
        div_term += div_a[j] * s[j];
        w[j] = as_j + div_a[j];
    }
    for (k, g) in grad.iter_mut().enumerate() {
        let ds = &sc.ds[k * d..(k + 1) * d];
        let dh = &sc.dh[k * d * d..(k + 1) * d * d];
        let lin: f64 = w.iter().zip(ds).map(|(x, y)| x * y).sum();
        let tr: f64 = a.iter().zip(dh).map(|(x, y)| x * y).sum();
        *g = 2.0 * lin + 2.0 * tr;
    }
    quad + 2.0 * (div_term + trace)
}

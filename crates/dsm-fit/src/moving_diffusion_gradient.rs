//! The DSM loss with a diffusion that moves with θ (the paper's §2.2) and its two
//! θ-gradients: the total derivative and the frozen-m surrogate.

use num_dual::HyperHyperDual64;

use crate::duals::with_duals;
use crate::model::ParametricModel;
use crate::objective_gradient::{ObjectiveGradient, assemble, check_inputs, row_width};
use crate::parametric_flow::ParametricFlow;
use crate::score_matching_gradient::DiagonalDerivatives;
use dsm_core::mc::{self, Par};
use dsm_core::{Error, Result, Samples};

/// Which derivative of the moving-diffusion DSM loss to take (the paper's §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Surrogate {
    /// d/dθ of L(θ) = DSM(p_θ, m_θ): the diffusion moves with θ (the plotted surrogate).
    #[default]
    Total,
    /// ∂/∂θ of DSM(p_θ, m_θ₀) at θ₀ = θ: m held at the current θ, a different loss after
    /// each step. Minimising it means the fixed point of "freeze m, minimise, repeat".
    Frozen,
}

/// Per-chunk scratch: the model's diagonal derivatives and the flow's T′, T″ and their
/// θ-derivatives.
struct Scratch {
    model: DiagonalDerivatives,
    t1: Vec<f64>,
    t2: Vec<f64>,
    dt1: Vec<f64>,
    dt2: Vec<f64>,
    /// ∂θₖ∂θₗTᵢ′ at (k·p + l)·d + i (total surrogate only, for its Hessian).
    ddt1: Vec<f64>,
}

/// The DSM loss with the diffusion of a flow that moves with θ, m(x; θ) = (∇ₓT(x; θ))⁻¹
/// (T elementwise, so A = diag(1/Tᵢ′²)), and its exact θ-gradient (docs/math.md eqs.
/// 11.5–11.7):
///
/// ```text
/// h = Σᵢ Aᵢsᵢ² + 2[(∇·A)ᵢsᵢ + Aᵢ∂ᵢ²ℓ],   Aᵢ = 1/Tᵢ′²,   (∇·A)ᵢ = −2Tᵢ″/Tᵢ′³
/// frozen:  ∂θₖh|_A = Σᵢ 2(Aᵢsᵢ + (∇·A)ᵢ)∂θₖsᵢ + 2Aᵢ∂θₖ∂ᵢ²ℓ
/// total:   ∂θₖh|_A + Σᵢ ∂θₖAᵢ(sᵢ² + 2∂ᵢ²ℓ) + 2∂θₖ(∇·A)ᵢsᵢ,
///          ∂θₖAᵢ = −2∂θₖTᵢ′/Tᵢ′³,   ∂θₖ(∇·A)ᵢ = −2∂θₖTᵢ″/Tᵢ′³ + 6Tᵢ″∂θₖTᵢ′/Tᵢ′⁴
/// ```
/// T′, T″, ∂θT′ and ∂θT″ come from one hyper-hyper-dual evaluation of the flow per θₖ
/// (directions x, x, θₖ), the model's terms from d·p evaluations of ℓ: exact, no finite
/// differences. The value is that of dsm-core's DSM with `FlowDiffusion` of T(·; θ).
///
/// # Errors
/// As [`score_matching_gradient`](crate::score_matching_gradient);
/// [`Error::Unsupported`] for a flow that is not elementwise; [`Error::DimensionMismatch`]
/// when the flow's dimension or parameter count differs from the model's;
/// [`Error::SingularJacobian`] naming the sample where Tᵢ′ vanishes or is not finite.
///
/// # Examples
/// ```
/// use dsm_core::{Par, Sampler, StudentT};
/// use dsm_fit::{StudentTFamily, Surrogate, moving_diffusion_score_matching_gradient};
/// let xs = StudentT::new(0.0, 1.0, 5.0)?.sample_n(1000, 1, Par::Seq)?;
/// let family = StudentTFamily::location(1.0, 5.0)?;
/// let flow = family.gaussian_flow()?;
/// let total = moving_diffusion_score_matching_gradient(&family, &flow, &[20.0], &xs, Surrogate::Total, Par::Seq)?;
/// assert!(total.gradient[0] > 0.0); // far from the truth, the loss still points back
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn moving_diffusion_score_matching_gradient<M: ParametricModel, F: ParametricFlow>(
    model: &M,
    flow: &F,
    theta: &[f64],
    samples: &Samples,
    surrogate: Surrogate,
    par: Par,
) -> Result<ObjectiveGradient> {
    gradient_with_flow_at(model, flow, theta, theta, samples, surrogate, par, true)
}

/// The moving-diffusion DSM at θ with the flow at `flow_theta` (equal to θ, or the frozen
/// point of [`Surrogate::Frozen`]'s outer iteration); without `hessian` the result's Hessian
/// is empty and the total surrogate's second flow pass is skipped.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gradient_with_flow_at<M: ParametricModel, F: ParametricFlow>(
    model: &M,
    flow: &F,
    theta: &[f64],
    flow_theta: &[f64],
    samples: &Samples,
    surrogate: Surrogate,
    par: Par,
    hessian: bool,
) -> Result<ObjectiveGradient> {
    let p = check_inputs(
        "moving_diffusion_score_matching_gradient",
        model,
        theta,
        samples,
    )?;
    let d = samples.dim();
    if !flow.is_elementwise() {
        return Err(Error::Unsupported {
            what: "a moving diffusion whose flow is not elementwise",
        });
    }
    dsm_core::validate::same_dim(
        "dimension of the flow",
        flow.dim(),
        "dimension of the samples",
        d,
    )?;
    dsm_core::validate::same_dim(
        "number of parameters of the flow",
        flow.n_params(),
        "number of parameters of the model",
        p,
    )?;
    model.check_params(flow_theta)?;
    let total = surrogate == Surrogate::Total;
    let curvature = total && hessian;
    let rows = mc::map_rows(
        samples,
        row_width(p),
        par,
        || Scratch {
            model: DiagonalDerivatives::new(d, p),
            t1: vec![0.0; d],
            t2: vec![0.0; d],
            dt1: vec![0.0; p * d],
            dt2: vec![0.0; p * d],
            ddt1: vec![0.0; if curvature { p * p * d } else { 0 }],
        },
        |sc, n, x, row| {
            flow_derivatives(flow, flow_theta, x, curvature, sc);
            if sc.t1.iter().any(|t| !(t.is_finite() && *t != 0.0)) {
                return Err(Error::SingularJacobian {
                    index: n,
                    rcond: 0.0,
                });
            }
            sc.model.compute(model, theta, x);
            let (value, rest) = row.split_at_mut(1);
            let (grad, hess) = rest.split_at_mut(p);
            value[0] = terms(sc, total, curvature, grad, hess);
            if row.iter().all(|v| v.is_finite()) {
                Ok(())
            } else {
                Err(Error::NonFiniteValue {
                    quantity: "moving-diffusion DSM integrand or its θ-gradient",
                    index: n,
                })
            }
        },
    )?;
    let mut result = assemble(&rows, p, samples, par)?;
    if !hessian {
        result.hessian.clear();
    }
    Ok(result)
}

/// Tᵢ′, Tᵢ″, ∂θₖTᵢ′ and ∂θₖTᵢ″ at x: every xᵢ carries the directions eps1 and eps2 at once
/// (T is elementwise, so yᵢ sees xᵢ alone), θₖ carries eps3. With `second`, also ∂θₖ∂θₗTᵢ′
/// (directions x, θₖ, θₗ).
fn flow_derivatives<F: ParametricFlow>(
    flow: &F,
    theta: &[f64],
    x: &[f64],
    second: bool,
    sc: &mut Scratch,
) {
    let d = x.len();
    let p = theta.len();
    with_duals(theta, x, HyperHyperDual64::from, |th, xs| {
        for xi in xs.iter_mut() {
            xi.eps1 = 1.0;
            xi.eps2 = 1.0;
        }
        let run = |th: &mut [HyperHyperDual64], k: usize, sc: &mut Scratch| {
            with_duals(&[], x, HyperHyperDual64::from, |_, ys| {
                flow.transform_generic(th, xs, ys);
                for (i, y) in ys.iter().enumerate() {
                    sc.t1[i] = y.eps1;
                    sc.t2[i] = y.eps1eps2;
                    sc.dt1[k * d + i] = y.eps1eps3;
                    sc.dt2[k * d + i] = y.eps1eps2eps3;
                }
            });
        };
        for k in 0..th.len() {
            th[k].eps3 = 1.0;
            run(th, k, sc);
            th[k].eps3 = 0.0;
        }
        if !second {
            return;
        }
        for xi in xs.iter_mut() {
            xi.eps2 = 0.0;
        }
        for k in 0..p {
            for l in k..p {
                th[k].eps2 = 1.0;
                th[l].eps3 = 1.0;
                with_duals(&[], x, HyperHyperDual64::from, |_, ys| {
                    flow.transform_generic(th, xs, ys);
                    for (i, y) in ys.iter().enumerate() {
                        sc.ddt1[(k * p + l) * d + i] = y.eps1eps2eps3;
                        sc.ddt1[(l * p + k) * d + i] = y.eps1eps2eps3;
                    }
                });
                th[k].eps2 = 0.0;
                th[l].eps3 = 0.0;
            }
        }
    });
}

/// h, its θ-gradient and its Hessian term from the scratch: the Gauss–Newton term
/// 2 Σᵢ Aᵢ ∂θₖsᵢ ∂θₗsᵢ, and for the total surrogate the curvature of the diffusion's own part
/// −Σᵢ sᵢ² ∂θₖ∂θₗAᵢ (docs/math.md eq. 11.10).
fn terms(sc: &Scratch, total: bool, curvature: bool, grad: &mut [f64], hess: &mut [f64]) -> f64 {
    let dd = &sc.model;
    let d = dd.s.len();
    let p = grad.len();
    let a = |i: usize| 1.0 / (sc.t1[i] * sc.t1[i]);
    let div_a = |i: usize| -2.0 * sc.t2[i] / (sc.t1[i] * sc.t1[i] * sc.t1[i]);
    let mut value = 0.0;
    for i in 0..d {
        value += a(i) * dd.s[i] * dd.s[i] + 2.0 * (div_a(i) * dd.s[i] + a(i) * dd.h[i]);
    }
    for (k, g) in grad.iter_mut().enumerate() {
        let mut v = 0.0;
        for i in 0..d {
            let (ai, di) = (a(i), div_a(i));
            v += 2.0 * (ai * dd.s[i] + di) * dd.ds[k * d + i] + 2.0 * ai * dd.dh[k * d + i];
            if total {
                let t1 = sc.t1[i];
                let t1_3 = t1 * t1 * t1;
                let da = -2.0 * sc.dt1[k * d + i] / t1_3;
                let ddiv = -2.0 * sc.dt2[k * d + i] / t1_3
                    + 6.0 * sc.t2[i] * sc.dt1[k * d + i] / (t1_3 * t1);
                v += da * (dd.s[i] * dd.s[i] + 2.0 * dd.h[i]) + 2.0 * ddiv * dd.s[i];
            }
        }
        *g = v;
    }
    for k in 0..p {
        for l in 0..p {
            hess[k * p + l] = 2.0
                * (0..d)
                    .map(|i| a(i) * dd.ds[k * d + i] * dd.ds[l * d + i])
                    .sum::<f64>();
            if curvature {
                for i in 0..d {
                    let t1 = sc.t1[i];
                    let t1_3 = t1 * t1 * t1;
                    let dda = 6.0 * sc.dt1[k * d + i] * sc.dt1[l * d + i] / (t1_3 * t1)
                        - 2.0 * sc.ddt1[(k * p + l) * d + i] / t1_3;
                    hess[k * p + l] -= dd.s[i] * dd.s[i] * dda;
                }
            }
        }
    }
    value
}

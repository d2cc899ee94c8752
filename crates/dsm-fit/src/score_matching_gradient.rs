//! The score-matching loss and its exact gradient in θ, per sample and averaged.

use num_dual::HyperHyperDual64;

use crate::duals::with_duals;
use crate::model::ParametricModel;
use crate::objective_gradient::{
    ObjectiveGradient, add_gauss_newton, assemble, check_inputs, row_width,
};
use dsm_core::mc::{self, Par};
use dsm_core::{Error, Result, Samples};

/// The score-matching loss L(θ) = E_q[‖s(x; θ)‖² + 2 Δₓ log p(x; θ)] (docs/math.md eq. 2) and
/// its gradient in θ, exact:
///
/// ```text
/// ∂θₖ h(x; θ) = Σᵢ 2 ∂ᵢℓ ∂ᵢ∂θₖℓ + 2 ∂ᵢ²∂θₖℓ,      ℓ = log p(x; θ)        (docs/math.md eq. 11.2)
/// ```
/// Each (i, k) takes one evaluation of ℓ in [`HyperHyperDual64`] with the directions
/// (xᵢ, xᵢ, θₖ), which carries ∂ᵢℓ, ∂ᵢ²ℓ, ∂ᵢ∂θₖℓ and ∂ᵢ²∂θₖℓ at once: d·p evaluations per
/// sample, no finite differences. Weighted samples give weighted means. Bit-identical for any
/// `par` (fixed chunks, ordered sums).
///
/// # Errors
/// [`Error::DimensionMismatch`] when the model and the samples differ in dimension; those of
/// [`ParametricModel::check_params`]; [`Error::InvalidParameter`] for a model without
/// parameters; [`Error::NonFiniteValue`] naming the first sample where the loss or its
/// gradient is not finite; [`Error::ThreadPool`].
///
/// # Examples
/// ```
/// use dsm_core::{Par, Sampler, Scalar, StudentT};
/// use dsm_fit::{ParametricModel, score_matching_gradient};
///
/// /// Student-t location at ν = 5.
/// struct Location;
/// impl ParametricModel for Location {
///     fn dim(&self) -> usize { 1 }
///     fn n_params(&self) -> usize { 1 }
///     fn log_density_generic<D: Scalar>(&self, theta: &[D], x: &[D]) -> D {
///         let z = x[0] - theta[0];
///         -(z * z / 5.0 + 1.0).ln() * 3.0
///     }
/// }
/// let xs = StudentT::new(0.0, 1.0, 5.0)?.sample_n(2000, 1, Par::Seq)?;
/// let g = score_matching_gradient(&Location, &[0.8], &xs, Par::Seq)?;
/// assert!(g.gradient[0] > 0.0); // the loss falls towards the truth at 0
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn score_matching_gradient<M: ParametricModel>(
    model: &M,
    theta: &[f64],
    samples: &Samples,
    par: Par,
) -> Result<ObjectiveGradient> {
    let p = check_inputs("score_matching_gradient", model, theta, samples)?;
    let d = samples.dim();
    // Per sample: [h, ∂θ₁h, …, ∂θₚh, Gauss–Newton term (p²)].
    let rows = mc::map_rows(
        samples,
        row_width(p),
        par,
        || DiagonalDerivatives::new(d, p),
        |dd, n, x, row| {
            let (value, rest) = row.split_at_mut(1);
            let (grad, hess) = rest.split_at_mut(p);
            dd.compute(model, theta, x);
            value[0] = sample_terms(dd, grad);
            hess.fill(0.0);
            add_gauss_newton(&dd.ds, None, d, hess);
            if row.iter().all(|v| v.is_finite()) {
                Ok(())
            } else {
                Err(Error::NonFiniteValue {
                    quantity: "score-matching integrand or its θ-gradient",
                    index: n,
                })
            }
        },
    )?;
    assemble(&rows, p, samples, par)
}

/// The x-derivatives of ℓ on the diagonal and their θ-derivatives at one point: sᵢ = ∂ᵢℓ,
/// Hᵢᵢ = ∂ᵢ²ℓ, ∂θₖsᵢ and ∂θₖHᵢᵢ (stored k·d + i), one hyper-hyper-dual evaluation per
/// (xᵢ, xᵢ, θₖ). What SM and the moving-diffusion DSM (a diagonal A) need.
#[derive(Debug, Clone)]
pub(crate) struct DiagonalDerivatives {
    pub(crate) s: Vec<f64>,
    pub(crate) h: Vec<f64>,
    pub(crate) ds: Vec<f64>,
    pub(crate) dh: Vec<f64>,
}

impl DiagonalDerivatives {
    pub(crate) fn new(d: usize, p: usize) -> Self {
        Self {
            s: vec![0.0; d],
            h: vec![0.0; d],
            ds: vec![0.0; p * d],
            dh: vec![0.0; p * d],
        }
    }

    /// Fills the derivatives at x.
    pub(crate) fn compute<M: ParametricModel>(&mut self, model: &M, theta: &[f64], x: &[f64]) {
        let d = x.len();
        with_duals(theta, x, HyperHyperDual64::from, |th, xs| {
            for i in 0..d {
                xs[i].eps1 = 1.0;
                xs[i].eps2 = 1.0;
                for k in 0..th.len() {
                    th[k].eps3 = 1.0;
                    let l = model.log_density_generic(th, xs);
                    th[k].eps3 = 0.0;
                    if k == 0 {
                        self.s[i] = l.eps1;
                        self.h[i] = l.eps1eps2;
                    }
                    self.ds[k * d + i] = l.eps1eps3;
                    self.dh[k * d + i] = l.eps1eps2eps3;
                }
                xs[i].eps1 = 0.0;
                xs[i].eps2 = 0.0;
            }
        });
    }
}

/// h(x; θ) = Σᵢ sᵢ² + 2Hᵢᵢ, with ∂θₖh = Σᵢ 2sᵢ∂θₖsᵢ + 2∂θₖHᵢᵢ written into `grad`.
fn sample_terms(dd: &DiagonalDerivatives, grad: &mut [f64]) -> f64 {
    let d = dd.s.len();
    for (k, g) in grad.iter_mut().enumerate() {
        *g = (0..d)
            .map(|i| 2.0 * dd.s[i] * dd.ds[k * d + i] + 2.0 * dd.dh[k * d + i])
            .sum();
    }
    dd.s.iter().zip(&dd.h).map(|(s, h)| s * s + 2.0 * h).sum()
}

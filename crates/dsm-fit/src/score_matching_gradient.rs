//! The score-matching loss and its exact gradient in θ, per sample and averaged.

use num_dual::HyperHyperDual64;

use crate::duals::with_duals;
use crate::model::ParametricModel;
use dsm_core::mc::{self, Par};
use dsm_core::{Error, Estimate, Result, Samples};

/// The score-matching loss of a [`ParametricModel`] at θ with its exact gradient in θ
/// (docs/math.md eq. 11.2): the value with its standard error, the mean gradient, and the
/// gradient of every sample (for sandwich standard errors and stochastic optimisers).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectiveGradient {
    /// L(θ) = mean of h(xₙ; θ), with its standard error.
    pub value: Estimate,
    /// ∇_θ L(θ), length p.
    pub gradient: Vec<f64>,
    /// ∇_θ h(xₙ; θ) for every sample, row-major n × p.
    pub per_sample: Vec<f64>,
}

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
    // Per sample: [h, ∂θ₁h, …, ∂θₚh].
    let rows = mc::map_rows(
        samples,
        1 + p,
        par,
        || (),
        |_, n, x, row| {
            let (value, grad) = row.split_at_mut(1);
            value[0] = sample_terms(model, theta, x, grad);
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

/// Checks a model, its parameters and the samples for a θ-gradient; returns p.
pub(crate) fn check_inputs<M: ParametricModel>(
    owner: &'static str,
    model: &M,
    theta: &[f64],
    samples: &Samples,
) -> Result<usize> {
    dsm_core::validate::same_dim(
        "dimension of the model",
        model.dim(),
        "dimension of the samples",
        samples.dim(),
    )?;
    model.check_params(theta)?;
    let p = model.n_params();
    if p == 0 {
        return Err(Error::InvalidParameter {
            owner,
            name: "number of parameters",
            value: 0.0,
            constraint: ">= 1",
        });
    }
    Ok(p)
}

/// The objective from per-sample rows [h, ∂θ₁h, …, ∂θₚh]: its estimate, the (weighted) mean
/// gradient and the per-sample gradients.
pub(crate) fn assemble(
    rows: &[f64],
    p: usize,
    samples: &Samples,
    par: Par,
) -> Result<ObjectiveGradient> {
    let values: Vec<f64> = rows.iter().step_by(1 + p).copied().collect();
    let value = Estimate::from_values(&values, samples.weights(), par)?;
    let mut per_sample = Vec::with_capacity(samples.n() * p);
    for row in rows.chunks_exact(1 + p) {
        per_sample.extend_from_slice(&row[1..]);
    }
    let gradient = weighted_column_means(&per_sample, p, samples.weights());
    Ok(ObjectiveGradient {
        value,
        gradient,
        per_sample,
    })
}

/// h(x; θ) = Σᵢ (∂ᵢℓ)² + 2∂ᵢ²ℓ, with ∂θₖh written into `grad`.
fn sample_terms<M: ParametricModel>(model: &M, theta: &[f64], x: &[f64], grad: &mut [f64]) -> f64 {
    grad.fill(0.0);
    with_duals(theta, x, HyperHyperDual64::from, |th, xs| {
        let mut value = 0.0;
        for i in 0..x.len() {
            xs[i].eps1 = 1.0;
            xs[i].eps2 = 1.0;
            for (k, g) in grad.iter_mut().enumerate() {
                th[k].eps3 = 1.0;
                let l = model.log_density_generic(th, xs);
                th[k].eps3 = 0.0;
                if k == 0 {
                    value += l.eps1 * l.eps1 + 2.0 * l.eps1eps2;
                }
                *g += 2.0 * l.eps1 * l.eps1eps3 + 2.0 * l.eps1eps2eps3;
            }
            xs[i].eps1 = 0.0;
            xs[i].eps2 = 0.0;
        }
        value
    })
}

/// Column means of a row-major n × p table, weighted when weights are given (ordered sums).
pub(crate) fn weighted_column_means(table: &[f64], p: usize, weights: Option<&[f64]>) -> Vec<f64> {
    let mut sums = vec![0.0; p];
    let mut total = 0.0;
    for (n, row) in table.chunks_exact(p).enumerate() {
        let w = weights.map_or(1.0, |w| w[n]);
        total += w;
        for (s, v) in sums.iter_mut().zip(row) {
            *s += w * v;
        }
    }
    sums.iter().map(|s| s / total).collect()
}

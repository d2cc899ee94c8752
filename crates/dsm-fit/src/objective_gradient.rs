//! An objective's value with its exact θ-gradient, per-sample gradients and Gauss–Newton
//! Hessian, and the sandwich covariance they give.

use dsm_core::mc::Par;
use dsm_core::{Error, Estimate, Result, Samples};

use crate::model::ParametricModel;

/// An objective L(θ) of a [`ParametricModel`] on a sample set, with its exact θ-gradient
/// (docs/math.md eqs. 11.2, 11.5–11.8): what every [`Objective`](crate::Objective) returns.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectiveGradient {
    /// L(θ) with its standard error.
    pub value: Estimate,
    /// ∇θL(θ), length p.
    pub gradient: Vec<f64>,
    /// The per-sample gradients, row-major n × p, whose (weighted) mean is
    /// [`ObjectiveGradient::gradient`]: ∇θh(xₙ; θ) for SM and DSM (sample means), and the
    /// Hoeffding projection (1/(n−1)) Σ_{m≠n} ∇θk⁰(xₙ, x_m) for the U-statistic KSD and DKSD
    /// (1/n Σ_m for V). For sandwich standard errors and stochastic optimisers.
    pub per_sample: Vec<f64>,
    /// The Gauss–Newton Hessian of L in θ (row-major p × p; docs/math.md eq. 11.9, plus eq.
    /// 11.10 for a diffusion moving with θ): exact for exponential families (the objectives are
    /// quadratic in θ), and a consistent estimate of the Hessian at the minimum when the model
    /// contains the data law. Empty from [`Objective::value_and_gradient`](crate::Objective::value_and_gradient)
    /// where it would cost extra.
    pub hessian: Vec<f64>,
    /// Cov(∇θL̂) ≈ `projection_factor` × Σₙ w̃ₙ² gₙgₙᵀ (w̃ the normalised weights, gₙ the
    /// per-sample gradients): 1 for sample means (SM, DSM), 4 for U- and V-statistics
    /// (the first-order Hoeffding variance).
    pub projection_factor: f64,
}

impl ObjectiveGradient {
    /// ‖∇θL‖₂.
    pub fn gradient_norm(&self) -> f64 {
        self.gradient.iter().map(|g| g * g).sum::<f64>().sqrt()
    }

    /// The Monte Carlo standard error of ∇θL̂: sqrt(tr V) with V the covariance of
    /// [`ObjectiveGradient::projection_factor`], centred (0 for fewer than two samples).
    pub fn gradient_std_err(&self, samples: &Samples) -> f64 {
        let p = self.gradient.len();
        if p == 0 || self.per_sample.len() != samples.n() * p || samples.n() < 2 {
            return 0.0;
        }
        let weights = samples.weights();
        let total: f64 = weights.map_or(samples.n() as f64, |w| w.iter().sum());
        let mut trace = 0.0;
        for (n, g) in self.per_sample.chunks_exact(p).enumerate() {
            let w = weights.map_or(1.0, |w| w[n]) / total;
            trace += w
                * w
                * g.iter()
                    .zip(&self.gradient)
                    .map(|(a, m)| (a - m) * (a - m))
                    .sum::<f64>();
        }
        (self.projection_factor * trace).sqrt()
    }

    /// The sandwich (Godambe) covariance of the minimiser, H⁻¹ V H⁻¹ with V = Cov(∇θL̂)
    /// as in [`ObjectiveGradient::projection_factor`] (docs/math.md eq. 11.4): for
    /// unweighted samples of a sample-mean objective, H⁻¹ J H⁻¹ / n with J = (1/n) Σ gₙgₙᵀ.
    /// Meaningful at a minimum θ̂, where the per-sample gradients have mean zero.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for samples that are not those the gradient came from, or
    /// an empty (not computed) Hessian;
    /// [`Error::Singular`] when the Hessian is singular (θ is not identified);
    /// [`Error::NonFiniteValue`] when the covariance is not finite.
    pub fn sandwich(&self, samples: &Samples) -> Result<Vec<f64>> {
        let p = self.gradient.len();
        dsm_core::validate::same_dim(
            "number of per-sample gradients",
            self.per_sample.len(),
            "n·p of the samples",
            samples.n().saturating_mul(p),
        )?;
        dsm_core::validate::same_dim("number of Hessian entries", self.hessian.len(), "p²", p * p)?;
        let mut h_inv = vec![0.0; p * p];
        dsm_core::linalg::invert_into(&self.hessian, p, &mut h_inv).map_err(|e| match e {
            Error::Singular { rcond, .. } => Error::Singular {
                name: "Hessian of the objective in θ (θ is not identified by these samples)",
                rcond,
            },
            other => other,
        })?;
        let weights = samples.weights();
        let total: f64 = weights.map_or(samples.n() as f64, |w| w.iter().sum());
        let mut v = vec![0.0; p * p];
        for (n, g) in self.per_sample.chunks_exact(p).enumerate() {
            let w = weights.map_or(1.0, |w| w[n]) / total;
            for a in 0..p {
                for b in 0..p {
                    v[a * p + b] += w * w * g[a] * g[b];
                }
            }
        }
        let mut hv = vec![0.0; p * p];
        for a in 0..p {
            for b in 0..p {
                hv[a * p + b] = (0..p).map(|c| h_inv[a * p + c] * v[c * p + b]).sum();
            }
        }
        let mut cov = vec![0.0; p * p];
        for a in 0..p {
            for b in 0..p {
                cov[a * p + b] = self.projection_factor
                    * (0..p)
                        .map(|c| hv[a * p + c] * h_inv[b * p + c])
                        .sum::<f64>();
            }
        }
        // Symmetrise the rounding.
        for a in 0..p {
            for b in 0..a {
                let m = 0.5 * (cov[a * p + b] + cov[b * p + a]);
                cov[a * p + b] = m;
                cov[b * p + a] = m;
            }
        }
        if cov.iter().all(|c| c.is_finite()) && (0..p).all(|k| cov[k * p + k] >= 0.0) {
            Ok(cov)
        } else {
            Err(Error::NonFiniteValue {
                quantity: "sandwich covariance",
                index: 0,
            })
        }
    }
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
    if samples.n() == 0 {
        return Err(Error::TooFewSamples { needed: 1, got: 0 });
    }
    Ok(p)
}

/// The width of a per-sample row [h, ∂θh (p), Gauss–Newton term (p²)].
pub(crate) fn row_width(p: usize) -> usize {
    1 + p + p * p
}

/// The objective from per-sample rows [h, ∂θh (p), Gauss–Newton term (p²)] of a sample-mean
/// objective: its estimate, the (weighted) mean gradient and Hessian, the per-sample
/// gradients.
pub(crate) fn assemble(
    rows: &[f64],
    p: usize,
    samples: &Samples,
    par: Par,
) -> Result<ObjectiveGradient> {
    assemble_rows(rows, p, row_width(p), samples, par)
}

/// [`assemble`] for rows of any width ≥ 1 + p: rows of width 1 + p (no Gauss–Newton term)
/// give an empty Hessian.
pub(crate) fn assemble_rows(
    rows: &[f64],
    p: usize,
    width: usize,
    samples: &Samples,
    par: Par,
) -> Result<ObjectiveGradient> {
    let values: Vec<f64> = rows.iter().step_by(width).copied().collect();
    let value = Estimate::from_values(&values, samples.weights(), par)?;
    let mut per_sample = Vec::with_capacity(samples.n() * p);
    for row in rows.chunks_exact(width) {
        per_sample.extend_from_slice(&row[1..1 + p]);
    }
    let means = weighted_column_means(rows, width, samples.weights());
    Ok(ObjectiveGradient {
        value,
        gradient: means[1..1 + p].to_vec(),
        per_sample,
        hessian: means[1 + p..].to_vec(),
        projection_factor: 1.0,
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

/// Adds 2 Bᵀ A B to the p × p `out`, with B the d × p matrix of ∂θs (stored p × d, row k =
/// ∂θₖs) and A the d × d covariance (`None` for the identity): the Gauss–Newton term of one
/// sample (docs/math.md eq. 11.9).
pub(crate) fn add_gauss_newton(ds: &[f64], a: Option<&[f64]>, d: usize, out: &mut [f64]) {
    let p = ds.len() / d;
    for k in 0..p {
        let bk = &ds[k * d..(k + 1) * d];
        for l in k..p {
            let bl = &ds[l * d..(l + 1) * d];
            let v: f64 = match a {
                None => bk.iter().zip(bl).map(|(x, y)| x * y).sum(),
                Some(a) => (0..d)
                    .map(|i| {
                        bk[i]
                            * a[i * d..(i + 1) * d]
                                .iter()
                                .zip(bl)
                                .map(|(x, y)| x * y)
                                .sum::<f64>()
                    })
                    .sum(),
            };
            out[k * p + l] += 2.0 * v;
            if l != k {
                out[l * p + k] += 2.0 * v;
            }
        }
    }
}

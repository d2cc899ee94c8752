//! Exponential families p(x; θ) ∝ exp(θᵀt(x) + b(x)), whose score-matching loss is quadratic
//! in θ, and their closed-form estimator.

use num_dual::HyperDual64;

use crate::fit::Fit;
use crate::model::ParametricModel;
use dsm_core::mc::{self, Par};
use dsm_core::{Error, Estimate, Result, Samples, Scalar};

/// The sufficient statistic t(x) ∈ ℝᵖ and base measure b(x) of an exponential family,
/// written once over the [`Scalar`] type (their x-derivatives are taken exactly).
pub trait SufficientStatistic: Sync {
    /// The dimension d of x.
    fn dim(&self) -> usize;

    /// The number of statistics p (the number of natural parameters).
    fn n_params(&self) -> usize;

    /// Writes t(x) (p values).
    fn statistic_generic<D: Scalar>(&self, x: &[D], t: &mut [D]);

    /// The base log-measure b(x); the default is 0.
    fn base_generic<D: Scalar>(&self, x: &[D]) -> D {
        let _ = x;
        D::from(0.0)
    }
}

/// The exponential family log p(x; θ) = θᵀt(x) + b(x) − A(θ) of a [`SufficientStatistic`].
///
/// Its score-matching loss is quadratic in θ (docs/math.md eq. 11.3):
///
/// ```text
/// h(x; θ) = θᵀ Γ(x) θ + 2 θᵀ g(x) + c(x),   Γ = Σᵢ ∂ᵢt ∂ᵢtᵀ,   g = Σᵢ (∂ᵢt ∂ᵢb + ∂ᵢ²t),
///           c = Σᵢ (∂ᵢb)² + 2∂ᵢ²b
/// θ̂ = −Γ̄⁻¹ ḡ      (Γ̄, ḡ the sample means; Hyvärinen 2007)
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ExponentialFamily<T> {
    statistic: T,
}

impl<T: SufficientStatistic> ExponentialFamily<T> {
    /// The family of `statistic`.
    pub fn new(statistic: T) -> Self {
        Self { statistic }
    }

    /// The sufficient statistic.
    pub fn statistic(&self) -> &T {
        &self.statistic
    }

    /// Γ(x) (p², row-major) and g(x) (p) at one point, from one [`HyperDual64`] evaluation of
    /// t and b per coordinate (directions xᵢ, xᵢ), written into `gamma` and `g`; returns the
    /// part of h free of θ, c(x) = Σᵢ (∂ᵢb)² + 2∂ᵢ²b. `t` is scratch of p dual numbers.
    fn quadratic_terms(
        &self,
        x: &[f64],
        t: &mut [HyperDual64],
        gamma: &mut [f64],
        g: &mut [f64],
    ) -> f64 {
        let p = self.statistic.n_params();
        gamma.fill(0.0);
        g.fill(0.0);
        let mut c = 0.0;
        crate::duals::with_duals(&[], x, HyperDual64::from, |_, xs| {
            for i in 0..x.len() {
                xs[i].eps1 = 1.0;
                xs[i].eps2 = 1.0;
                self.statistic.statistic_generic(xs, t);
                let b = self.statistic.base_generic(xs);
                xs[i].eps1 = 0.0;
                xs[i].eps2 = 0.0;
                c += b.eps1 * b.eps1 + 2.0 * b.eps1eps2;
                for a in 0..p {
                    g[a] += t[a].eps1 * b.eps1 + t[a].eps1eps2;
                    for c in 0..p {
                        gamma[a * p + c] += t[a].eps1 * t[c].eps1;
                    }
                }
            }
        });
        c
    }

    /// The score-matching estimate θ̂ = −Γ̄⁻¹ḡ in closed form, with its sandwich standard
    /// errors (docs/math.md eq. 11.4):
    ///
    /// ```text
    /// ∇θ hₙ = 2(Γₙ θ̂ + gₙ),   H = 2Γ̄,   J = (1/n) Σ (∇θ hₙ)(∇θ hₙ)ᵀ,   Cov θ̂ ≈ H⁻¹ J H⁻¹ / n
    /// ```
    /// Unweighted samples only.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when the statistic and the samples differ in dimension;
    /// [`Error::Unsupported`] for weighted samples; [`Error::TooFewSamples`] for n < 2;
    /// [`Error::Singular`] when Γ̄ is singular (the statistic does not identify θ from these
    /// samples); [`Error::NonFiniteValue`] naming the first sample where t or b or their
    /// derivatives are not finite; [`Error::ThreadPool`].
    ///
    /// # Examples
    /// ```
    /// use dsm_core::{Gaussian, Par, Sampler};
    /// use dsm_fit::{ExponentialFamily, GaussianStatistic};
    /// let xs = Gaussian::isotropic(vec![3.0], 4.0)?.sample_n(20_000, 1, Par::Seq)?;
    /// let fit = ExponentialFamily::new(GaussianStatistic::new(1)?).fit_score_matching(&xs, Par::Seq)?;
    /// // θ = (μ/σ², 1/σ²) for N(3, 4): (0.75, 0.25).
    /// assert!((fit.theta[0] - 0.75).abs() < 4.0 * fit.std_err[0]);
    /// assert!((fit.theta[1] - 0.25).abs() < 4.0 * fit.std_err[1]);
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    pub fn fit_score_matching(&self, samples: &Samples, par: Par) -> Result<Fit> {
        let (d, p) = (samples.dim(), self.statistic.n_params());
        dsm_core::validate::same_dim(
            "dimension of the sufficient statistic",
            self.statistic.dim(),
            "dimension of the samples",
            d,
        )?;
        if samples.weights().is_some() {
            return Err(Error::Unsupported {
                what: "weighted samples in ExponentialFamily::fit_score_matching",
            });
        }
        let n = samples.n();
        if n < 2 {
            return Err(Error::TooFewSamples { needed: 2, got: n });
        }
        if p == 0 || p > dsm_core::linalg::MAX_DIM {
            return Err(Error::InvalidParameter {
                owner: "ExponentialFamily",
                name: "number of statistics",
                value: p as f64,
                constraint: "in 1..=16384",
            });
        }
        // Per sample: [Γ (p²) | g (p) | c].
        let width = p * p + p + 1;
        let rows = mc::map_rows(
            samples,
            width,
            par,
            || vec![HyperDual64::from(0.0); p],
            |t, i, x, row| {
                let (gamma, rest) = row.split_at_mut(p * p);
                let (g, c) = rest.split_at_mut(p);
                c[0] = self.quadratic_terms(x, t, gamma, g);
                if row.iter().all(|v| v.is_finite()) {
                    Ok(())
                } else {
                    Err(Error::NonFiniteValue {
                        quantity: "sufficient statistic or its derivatives",
                        index: i,
                    })
                }
            },
        )?;
        let means = crate::score_matching_gradient::weighted_column_means(&rows, width, None);
        let (gamma, rest) = means.split_at(p * p);
        let g = &rest[..p];
        let mut gamma_inv = vec![0.0; p * p];
        dsm_core::linalg::invert_into(gamma, p, &mut gamma_inv).map_err(|e| match e {
            Error::Singular { rcond, .. } => Error::Singular {
                name: "Γ̄ = mean of Σᵢ ∂ᵢt ∂ᵢtᵀ (the statistic does not identify θ)",
                rcond,
            },
            other => other,
        })?;
        let theta: Vec<f64> = (0..p)
            .map(|a| -(0..p).map(|c| gamma_inv[a * p + c] * g[c]).sum::<f64>())
            .collect();
        // Per-sample gradients at θ̂, the loss values, and J.
        let mut per_sample = vec![0.0; n * p];
        let mut values = vec![0.0; n];
        for (k, row) in rows.chunks_exact(width).enumerate() {
            let (gamma_n, rest) = row.split_at(p * p);
            let (g_n, c_n) = rest.split_at(p);
            let grad = &mut per_sample[k * p..(k + 1) * p];
            let mut quad = 0.0;
            for a in 0..p {
                let ga: f64 = (0..p).map(|c| gamma_n[a * p + c] * theta[c]).sum();
                grad[a] = 2.0 * (ga + g_n[a]);
                quad += theta[a] * (ga + 2.0 * g_n[a]);
            }
            values[k] = quad + c_n[0];
        }
        let objective = Estimate::from_values(&values, None, par)?;
        let mut j = vec![0.0; p * p];
        for row in per_sample.chunks_exact(p) {
            for a in 0..p {
                for c in 0..p {
                    j[a * p + c] += row[a] * row[c];
                }
            }
        }
        // Cov = H⁻¹ J H⁻¹ / n with H = 2Γ̄, J = Σ gₙgₙᵀ / n: Γ̄⁻¹ (Σ gₙgₙᵀ) Γ̄⁻¹ / (4n²).
        let scale = 1.0 / (4.0 * (n as f64) * (n as f64));
        let mut covariance = vec![0.0; p * p];
        for a in 0..p {
            for c in 0..p {
                let mut acc = 0.0;
                for u in 0..p {
                    for v in 0..p {
                        acc += gamma_inv[a * p + u] * j[u * p + v] * gamma_inv[v * p + c];
                    }
                }
                covariance[a * p + c] = acc * scale;
            }
        }
        Fit::new(theta, objective, covariance, n)
    }
}

impl<T: SufficientStatistic> ParametricModel for ExponentialFamily<T> {
    fn dim(&self) -> usize {
        self.statistic.dim()
    }
    fn n_params(&self) -> usize {
        self.statistic.n_params()
    }
    /// θᵀt(x) + b(x) (the log-partition function does not depend on x and is left out).
    fn log_density_generic<D: Scalar>(&self, theta: &[D], x: &[D]) -> D {
        let p = self.statistic.n_params();
        let eval = |t: &mut [D]| {
            self.statistic.statistic_generic(x, t);
            t.iter()
                .zip(theta)
                .fold(self.statistic.base_generic(x), |acc, (ti, th)| {
                    acc + *ti * *th
                })
        };
        if p <= crate::duals::STACK_LEN {
            eval(&mut [D::from(0.0); crate::duals::STACK_LEN][..p])
        } else {
            eval(&mut vec![D::from(0.0); p])
        }
    }
}

/// The Gaussian N(μ, P⁻¹) in d dimensions as an exponential family with natural parameters
/// θ = (h = Pμ, P₁₁, …, P_dd, then P_ij for i < j in row order): t(x) = (x, −½xᵢ²,
/// −xᵢxⱼ). Its score-matching estimate is the sample mean and the inverse of the biased
/// sample covariance (Hyvärinen 2005).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GaussianStatistic {
    dim: usize,
}

impl GaussianStatistic {
    /// The statistic in dimension `dim`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `dim` 0 or above 180 (p = d + d(d+1)/2 natural
    /// parameters, whose p × p system must fit [`dsm_core::linalg::MAX_DIM`]).
    pub fn new(dim: usize) -> Result<Self> {
        if dim == 0 || dim > 180 {
            return Err(Error::InvalidParameter {
                owner: "GaussianStatistic",
                name: "dim",
                value: dim as f64,
                constraint: "in 1..=180",
            });
        }
        Ok(Self { dim })
    }

    /// (μ, P) from natural parameters θ: P row-major, μ = P⁻¹h.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for θ of another length; [`Error::Singular`] when P is.
    pub fn mean_and_precision(&self, theta: &[f64]) -> Result<(Vec<f64>, Vec<f64>)> {
        let d = self.dim;
        dsm_core::validate::same_dim(
            "number of parameters given",
            theta.len(),
            "d + d(d+1)/2",
            self.n_params(),
        )?;
        let mut precision = vec![0.0; d * d];
        for i in 0..d {
            precision[i * d + i] = theta[d + i];
        }
        let mut k = 2 * d;
        for i in 0..d {
            for j in i + 1..d {
                precision[i * d + j] = theta[k];
                precision[j * d + i] = theta[k];
                k += 1;
            }
        }
        let mut inv = vec![0.0; d * d];
        dsm_core::linalg::invert_into(&precision, d, &mut inv)?;
        let mean = (0..d)
            .map(|i| (0..d).map(|j| inv[i * d + j] * theta[j]).sum())
            .collect();
        Ok((mean, precision))
    }
}

impl SufficientStatistic for GaussianStatistic {
    fn dim(&self) -> usize {
        self.dim
    }
    fn n_params(&self) -> usize {
        self.dim + self.dim * (self.dim + 1) / 2
    }
    fn statistic_generic<D: Scalar>(&self, x: &[D], t: &mut [D]) {
        let d = self.dim;
        t[..d].copy_from_slice(x);
        for i in 0..d {
            t[d + i] = x[i] * x[i] * (-0.5);
        }
        let mut k = 2 * d;
        for i in 0..d {
            for j in i + 1..d {
                t[k] = -(x[i] * x[j]);
                k += 1;
            }
        }
    }
}

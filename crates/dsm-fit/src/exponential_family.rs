//! Exponential families p(x; θ) ∝ exp(θᵀt(x) + b(x)), whose score-matching loss is quadratic
//! in θ, and their closed-form estimator.

use crate::fit::Fit;
use crate::model::ParametricModel;
use crate::objective::{Objective, ScoreMatching};
use dsm_core::mc::Par;
use dsm_core::{Error, Result, Samples, Scalar};

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

    /// The minimiser of any objective quadratic in the score (SM, DSM with a fixed
    /// diffusion, KSD and DKSD, U or V) in closed form, with its sandwich standard errors.
    /// The objective is exactly quadratic in θ, L(θ) = θᵀMθ + 2θᵀv + c, and its
    /// Gauss–Newton Hessian is exact (H = 2M), so the minimum is one Newton step from 0
    /// (docs/math.md eq. 11.3; Hyvärinen 2007, Barp et al. 2019, Matsubara et al. 2022):
    ///
    /// ```text
    /// θ̂ = −H⁻¹ ∇L(0)      (= −½ M⁻¹ (2v))
    /// ```
    /// then evaluated at θ̂ for the objective, the per-sample gradients and the sandwich
    /// covariance (eq. 11.4).
    ///
    /// # Errors
    /// [`Error::Unsupported`] for an objective that is not quadratic in the score (the
    /// moving diffusion); [`Error::TooFewSamples`] for n < 2; [`Error::Singular`] when H is singular (the statistic does not
    /// identify θ from these samples); those of [`Objective::evaluate`] and
    /// [`ObjectiveGradient::sandwich`](crate::ObjectiveGradient::sandwich).
    ///
    /// # Examples
    /// ```
    /// use dsm_core::{Estimator, Gaussian, Imq, Ksd, Par, Sampler};
    /// use dsm_fit::{ExponentialFamily, GaussianStatistic};
    /// let xs = Gaussian::isotropic(vec![3.0], 4.0)?.sample_n(2000, 1, Par::Seq)?;
    /// let family = ExponentialFamily::new(GaussianStatistic::new(1)?);
    /// let fit = family.fit(&Ksd::new(Imq::default(), Estimator::U), &xs, Par::rayon(2))?;
    /// // θ = (μ/σ², 1/σ²) for N(3, 4): (0.75, 0.25).
    /// assert!((fit.theta[0] - 0.75).abs() < 4.0 * fit.std_err[0]);
    /// assert!((fit.theta[1] - 0.25).abs() < 4.0 * fit.std_err[1]);
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    pub fn fit<O: Objective>(&self, objective: &O, samples: &Samples, par: Par) -> Result<Fit> {
        if !objective.is_quadratic_in_the_score() {
            return Err(Error::Unsupported {
                what: "a closed-form fit by an objective that is not quadratic in the score",
            });
        }
        let p = self.statistic.n_params();
        dsm_core::validate::same_dim(
            "dimension of the sufficient statistic",
            self.statistic.dim(),
            "dimension of the samples",
            samples.dim(),
        )?;
        if samples.n() < 2 {
            return Err(Error::TooFewSamples {
                needed: 2,
                got: samples.n(),
            });
        }
        if p == 0 || p > dsm_core::linalg::MAX_DIM {
            return Err(Error::InvalidParameter {
                owner: "ExponentialFamily",
                name: "number of statistics",
                value: p as f64,
                constraint: "in 1..=16384",
            });
        }
        let origin = objective.evaluate(self, &vec![0.0; p], samples, par)?;
        let mut h_inv = vec![0.0; p * p];
        dsm_core::linalg::invert_into(&origin.hessian, p, &mut h_inv).map_err(|e| match e {
            Error::Singular { rcond, .. } => Error::Singular {
                name: "Hessian of the objective in θ (the statistic does not identify θ)",
                rcond,
            },
            other => other,
        })?;
        let theta: Vec<f64> = (0..p)
            .map(|a| {
                -(0..p)
                    .map(|c| h_inv[a * p + c] * origin.gradient[c])
                    .sum::<f64>()
            })
            .collect();
        let at = objective.evaluate(self, &theta, samples, par)?;
        let covariance = at.sandwich(samples)?;
        Fit::new(theta, at.value, covariance, samples.n())
    }

    /// The score-matching estimate in closed form: [`ExponentialFamily::fit`] with
    /// [`ScoreMatching`]. For the loss h = θᵀΓθ + 2θᵀg + c of eq. 11.3 the Hessian is 2Γ̄ and
    /// the estimate θ̂ = −Γ̄⁻¹ḡ (Hyvärinen 2007).
    ///
    /// # Errors
    /// As [`ExponentialFamily::fit`].
    ///
    /// # Examples
    /// ```
    /// use dsm_core::{Gaussian, Par, Sampler};
    /// use dsm_fit::{ExponentialFamily, GaussianStatistic};
    /// let xs = Gaussian::isotropic(vec![3.0], 4.0)?.sample_n(20_000, 1, Par::Seq)?;
    /// let fit = ExponentialFamily::new(GaussianStatistic::new(1)?).fit_score_matching(&xs, Par::Seq)?;
    /// assert!((fit.theta[0] - 0.75).abs() < 4.0 * fit.std_err[0]);
    /// assert!((fit.theta[1] - 0.25).abs() < 4.0 * fit.std_err[1]);
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    pub fn fit_score_matching(&self, samples: &Samples, par: Par) -> Result<Fit> {
        self.fit(&ScoreMatching, samples, par)
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

//! Parametric log-densities written once over the scalar type, in both x and θ.

use num_dual::{Dual64, HyperDual64};

use crate::duals::with_duals;
use dsm_core::{Error, Hessian, LogDensity, Result, Scalar, Score};

/// An unnormalised parametric log-density log p(x; θ), written once for any [`Scalar`] `D`
/// in **both** arguments: f64 for values, dual numbers for exact derivatives in x, in θ, and
/// mixed (docs/math.md section 11). Constants are `D::from(c)`.
///
/// The library derives everything the objectives need from it: the score and Hessian in x
/// at a fixed θ ([`ParametricModel::at`]) and the gradients of the objectives in θ
/// ([`score_matching_gradient`](crate::score_matching_gradient)).
///
/// # Examples
/// ```
/// use dsm_core::{Hessian, Scalar, Score};
/// use dsm_fit::ParametricModel;
///
/// /// Student-t location and log-scale at ν = 5: θ = (μ, log σ).
/// struct LocationScaleT;
/// impl ParametricModel for LocationScaleT {
///     fn dim(&self) -> usize { 1 }
///     fn n_params(&self) -> usize { 2 }
///     fn log_density_generic<D: Scalar>(&self, theta: &[D], x: &[D]) -> D {
///         let z = (x[0] - theta[0]) / theta[1].exp();
///         -(z * z / 5.0 + 1.0).ln() * 3.0
///     }
/// }
/// let at = LocationScaleT.at(&[0.5, 0.0])?;
/// assert!((at.try_score(&[0.5])?[0]).abs() < 1e-15);
/// assert!((at.try_hessian(&[0.5])?[0] + 6.0 / 5.0).abs() < 1e-15);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub trait ParametricModel: Sync {
    /// The dimension d of x.
    fn dim(&self) -> usize;

    /// The number of parameters p.
    fn n_params(&self) -> usize;

    /// log p(x; θ) up to a constant independent of x, in the scalar type `D`.
    fn log_density_generic<D: Scalar>(&self, theta: &[D], x: &[D]) -> D;

    /// Checks a parameter vector: the default requires p finite entries. Families with a
    /// constrained domain override it.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for a vector of another length; [`Error::InvalidParameter`]
    /// naming the first non-finite entry.
    fn check_params(&self, theta: &[f64]) -> Result<()> {
        dsm_core::validate::same_dim(
            "number of parameters given",
            theta.len(),
            "number of parameters of the model",
            self.n_params(),
        )?;
        match theta.iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(_) => Err(Error::InvalidParameter {
                owner: "ParametricModel",
                name: "theta",
                value: theta
                    .iter()
                    .copied()
                    .find(|v| !v.is_finite())
                    .unwrap_or(f64::NAN),
                constraint: "finite in every entry",
            }),
        }
    }

    /// The model at a fixed θ, as a density every dsm-core objective accepts.
    ///
    /// # Errors
    /// As [`ParametricModel::check_params`].
    fn at(&self, theta: &[f64]) -> Result<At<'_, Self>>
    where
        Self: Sized,
    {
        self.check_params(theta)?;
        Ok(At {
            model: self,
            theta: theta.to_vec(),
        })
    }
}

/// A [`ParametricModel`] at a fixed θ: [`LogDensity`], [`Score`] and [`Hessian`] in x,
/// exact by dual numbers (d passes of [`Dual64`] for the score, d(d+1)/2 of [`HyperDual64`]
/// for the Hessian).
#[derive(Debug, Clone)]
pub struct At<'a, M> {
    model: &'a M,
    theta: Vec<f64>,
}

impl<M> At<'_, M> {
    /// The parameters.
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }
}

impl<M: ParametricModel> LogDensity for At<'_, M> {
    fn dim(&self) -> usize {
        self.model.dim()
    }
    fn log_density(&self, x: &[f64]) -> f64 {
        self.model.log_density_generic(&self.theta, x)
    }
}

impl<M: ParametricModel> Score for At<'_, M> {
    fn score_into(&self, x: &[f64], out: &mut [f64]) {
        with_duals(&self.theta, x, Dual64::from, |theta, xs| {
            for (k, o) in out.iter_mut().enumerate() {
                xs[k].eps = 1.0;
                *o = self.model.log_density_generic(theta, xs).eps;
                xs[k].eps = 0.0;
            }
        });
    }
}

impl<M: ParametricModel> Hessian for At<'_, M> {
    fn hessian_into(&self, x: &[f64], out: &mut [f64]) {
        let d = x.len();
        with_duals(&self.theta, x, HyperDual64::from, |theta, xs| {
            for i in 0..d {
                for j in i..d {
                    xs[i].eps1 = 1.0;
                    xs[j].eps2 = 1.0;
                    let v = self.model.log_density_generic(theta, xs).eps1eps2;
                    xs[i].eps1 = 0.0;
                    xs[j].eps2 = 0.0;
                    out[i * d + j] = v;
                    out[j * d + i] = v;
                }
            }
        });
    }
}

//! The `Flow` trait: an invertible map T on ℝᵈ, written once over the scalar type, with exact
//! Jacobians and derivatives from forward-mode automatic differentiation.

use num_dual::{Dual64, HyperDual64, HyperHyperDual64};

use dsm_core::{Error, Result, Scalar};

/// An invertible map y = T(x) on ℝᵈ (docs/math.md section 1: J = ∂T/∂x, row i = component,
/// column j = input).
///
/// A layer implements [`Flow::transform`] once, generic over [`Scalar`]; evaluating it in
/// dual numbers gives the full Jacobian ([`Flow::jacobian_into`]), its derivatives
/// ([`Flow::jacobian_gradient_into`], the second derivatives of T that DSM's divergence term
/// needs) and third derivatives (for pushforward Hessians), all exact. The inverse and the
/// log-determinant are given in closed form (or by safeguarded root finding) by each layer.
///
/// Buffers follow the usual dsm contract: slices of the documented lengths (the `_into`
/// methods may panic otherwise).
pub trait Flow: Sync {
    /// The dimension d.
    fn dim(&self) -> usize;

    /// y = T(x), in any scalar type.
    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]);

    /// x = T⁻¹(y).
    ///
    /// # Errors
    /// [`Error::InverseFailed`] when an iterative inverse does not converge;
    /// [`Error::SingularJacobian`] when T is not invertible at that point.
    fn inverse_into(&self, y: &[f64], x: &mut [f64]) -> Result<()>;

    /// log |det J(x)|.
    ///
    /// The default factorises the full Jacobian (LU through faer); layers override it with
    /// their closed form, which is cheaper and accurate where J under- or overflows.
    ///
    /// # Errors
    /// [`Error::SingularJacobian`] for a singular Jacobian.
    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        crate::flow::check_point(self.dim(), x, self.dim())?;
        let d = self.dim();
        let mut j = vec![0.0; d * d];
        self.jacobian_into(x, &mut j);
        log_abs_det(&j, d)
    }

    /// y = T(x) with its input and output checked: the library's own paths call this, never
    /// an unchecked [`Flow::transform`] on values.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when x or y has not d entries; [`Error::NonFiniteSample`]
    /// for a non-finite x; [`Error::NonFiniteLayerOutput`] when T(x) is not finite (a
    /// [`Chain`](crate::Chain) names the layer).
    fn try_transform_into(&self, x: &[f64], y: &mut [f64]) -> Result<()> {
        check_point(self.dim(), x, y.len())?;
        self.transform(x, y);
        match y.iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(coordinate) => Err(Error::NonFiniteLayerOutput {
                layer: 0,
                index: 0,
                coordinate,
            }),
        }
    }

    /// x = T⁻¹(y) with its input and output checked.
    ///
    /// # Errors
    /// As [`Flow::inverse_into`]; [`Error::DimensionMismatch`], [`Error::NonFiniteSample`] for
    /// a non-finite y; [`Error::InverseFailed`] when the inverse is not finite.
    fn try_inverse_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        check_point(self.dim(), y, x.len())?;
        self.inverse_into(y, x)?;
        if x.iter().all(|v| v.is_finite()) {
            Ok(())
        } else {
            Err(Error::InverseFailed {
                index: 0,
                iterations: 0,
            })
        }
    }

    /// y = T(x); returns log |det J(x)|.
    ///
    /// # Errors
    /// As [`Flow::try_transform_into`] and [`Flow::log_abs_det_jacobian`].
    fn forward_into(&self, x: &[f64], y: &mut [f64]) -> Result<f64> {
        self.try_transform_into(x, y)?;
        self.log_abs_det_jacobian(x)
    }

    /// x = T⁻¹(y); returns log |det ∂T⁻¹/∂y| = −log |det J(x)|.
    ///
    /// # Errors
    /// As [`Flow::inverse_into`] and [`Flow::log_abs_det_jacobian`].
    fn inverse_with_log_det(&self, y: &[f64], x: &mut [f64]) -> Result<f64> {
        self.try_inverse_into(y, x)?;
        Ok(-self.log_abs_det_jacobian(x)?)
    }

    /// The Jacobian J_jk = ∂T_j/∂x_k, row-major (d²), by d [`Dual64`] passes.
    fn jacobian_into(&self, x: &[f64], jac: &mut [f64]) {
        let d = self.dim();
        let mut xs: Vec<Dual64> = x.iter().map(|&v| Dual64::from_re(v)).collect();
        let mut ys = vec![Dual64::from_re(0.0); d];
        for k in 0..d {
            xs[k].eps = 1.0;
            self.transform(&xs, &mut ys);
            xs[k].eps = 0.0;
            for j in 0..d {
                jac[j * d + k] = ys[j].eps;
            }
        }
    }

    /// The derivatives of the Jacobian, ∂_i J_jk = ∂_i∂_k T_j at `dj[(i·d + j)·d + k]` (d³),
    /// by d(d+1)/2 [`HyperDual64`] passes.
    fn jacobian_gradient_into(&self, x: &[f64], dj: &mut [f64]) {
        let d = self.dim();
        let mut xs: Vec<HyperDual64> = x.iter().map(|&v| HyperDual64::from_re(v)).collect();
        let mut ys = vec![HyperDual64::from_re(0.0); d];
        for i in 0..d {
            for k in i..d {
                xs[i].eps1 = 1.0;
                xs[k].eps2 = 1.0;
                self.transform(&xs, &mut ys);
                xs[i].eps1 = 0.0;
                xs[k].eps2 = 0.0;
                for j in 0..d {
                    let v = ys[j].eps1eps2;
                    dj[(i * d + j) * d + k] = v;
                    dj[(k * d + j) * d + i] = v;
                }
            }
        }
    }

    /// Third derivatives ∂_i∂_l J_jk = ∂_i∂_l∂_k T_j at `t3[((i·d + l)·d + j)·d + k]` (d⁴),
    /// by d(d+1)(d+2)/6 [`HyperHyperDual64`] passes.
    fn third_derivatives_into(&self, x: &[f64], t3: &mut [f64]) {
        let d = self.dim();
        let mut xs: Vec<HyperHyperDual64> =
            x.iter().map(|&v| HyperHyperDual64::from_re(v)).collect();
        let mut ys = vec![HyperHyperDual64::from_re(0.0); d];
        for i in 0..d {
            for l in i..d {
                for k in l..d {
                    xs[i].eps1 = 1.0;
                    xs[l].eps2 = 1.0;
                    xs[k].eps3 = 1.0;
                    self.transform(&xs, &mut ys);
                    xs[i].eps1 = 0.0;
                    xs[l].eps2 = 0.0;
                    xs[k].eps3 = 0.0;
                    for j in 0..d {
                        let v = ys[j].eps1eps2eps3;
                        for (a, b, c) in [
                            (i, l, k),
                            (i, k, l),
                            (l, i, k),
                            (l, k, i),
                            (k, i, l),
                            (k, l, i),
                        ] {
                            t3[((a * d + b) * d + j) * d + c] = v;
                        }
                    }
                }
            }
        }
    }
}

/// Checks a point of a d-dimensional flow: d finite entries in, room for d out.
pub(crate) fn check_point(d: usize, input: &[f64], out_len: usize) -> Result<()> {
    dsm_core::validate::same_dim("flow input", d, input.len())?;
    dsm_core::validate::same_dim("flow output", d, out_len)?;
    match input.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(coordinate) => Err(Error::NonFiniteSample {
            index: 0,
            coordinate,
        }),
    }
}

/// The flow's reading of a linear-algebra error: a singular matrix is a singular Jacobian,
/// a non-finite one a non-finite Jacobian (both at sample 0, re-indexed by the engines).
fn jacobian_error(e: Error) -> Error {
    match e {
        Error::Singular { .. } => Error::SingularJacobian { index: 0 },
        Error::NonFiniteMatrix { .. } => Error::NonFiniteValue {
            quantity: "Jacobian",
            index: 0,
        },
        other => other,
    }
}

/// log |det A| of a row-major d × d Jacobian ([`dsm_core::linalg::log_abs_det`]: equilibrated
/// LU, one conditioning rule).
///
/// # Errors
/// [`Error::SingularJacobian`] when A is singular to working precision (equilibrated rcond
/// below [`dsm_core::linalg::MIN_RCOND`]); [`Error::NonFiniteValue`] for non-finite entries;
/// [`Error::DimensionMismatch`] when `a` does not hold d² entries.
pub fn log_abs_det(a: &[f64], d: usize) -> Result<f64> {
    dsm_core::linalg::log_abs_det(a, d).map_err(jacobian_error)
}

/// A⁻¹ of a row-major d × d Jacobian into `inv` ([`dsm_core::linalg::invert_into`]).
///
/// # Errors
/// As [`log_abs_det`], and [`Error::DimensionMismatch`] when `inv` does not hold d² entries.
pub fn invert_into(a: &[f64], d: usize, inv: &mut [f64]) -> Result<()> {
    dsm_core::linalg::invert_into(a, d, inv)
        .map(|_| ())
        .map_err(jacobian_error)
}

impl<F: Flow> Flow for &F {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        (**self).transform(x, y)
    }
    fn inverse_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        (**self).inverse_into(y, x)
    }
    fn try_transform_into(&self, x: &[f64], y: &mut [f64]) -> Result<()> {
        (**self).try_transform_into(x, y)
    }
    fn try_inverse_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        (**self).try_inverse_into(y, x)
    }
    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        (**self).log_abs_det_jacobian(x)
    }
    fn jacobian_into(&self, x: &[f64], jac: &mut [f64]) {
        (**self).jacobian_into(x, jac)
    }
    fn jacobian_gradient_into(&self, x: &[f64], dj: &mut [f64]) {
        (**self).jacobian_gradient_into(x, dj)
    }
    fn third_derivatives_into(&self, x: &[f64], t3: &mut [f64]) {
        (**self).third_derivatives_into(x, t3)
    }
}

//! The affine flow y = A x + c.

use crate::flow::{Flow, invert_into, log_abs_det};
use dsm_core::validate::same_dim;
use dsm_core::{Error, Result, Scalar};

/// y = A x + c with A invertible: J = A, log |det J| = log |det A|, T⁻¹(y) = A⁻¹(y − c).
///
/// # Examples
/// ```
/// use dsm_flows::{Affine, Flow};
/// let t = Affine::new(2, vec![2.0, 1.0, 0.0, 0.5], vec![1.0, -1.0])?;
/// let mut y = [0.0; 2];
/// let log_det = t.forward_into(&[1.0, 2.0], &mut y)?;
/// assert_eq!(y, [5.0, 0.0]);
/// assert!((log_det - 0.0f64).abs() < 1e-15); // det A = 1
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Affine {
    dim: usize,
    a: Vec<f64>,
    a_inv: Vec<f64>,
    shift: Vec<f64>,
    log_det: f64,
}

impl Affine {
    /// The affine map with row-major d × d matrix `a` and shift `shift`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for d = 0; [`Error::DimensionMismatch`] for wrong sizes;
    /// [`Error::NonFiniteMatrix`] for a non-finite entry; [`Error::Singular`] (with its
    /// reciprocal condition number) when A is singular (the map would not be invertible).
    pub fn new(dim: usize, a: Vec<f64>, shift: Vec<f64>) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidParameter {
                owner: "Affine",
                name: "dim",
                value: 0.0,
                constraint: ">= 1",
            });
        }
        same_dim("number of entries of a", a.len(), "dim²", dim * dim)?;
        same_dim("length of shift", shift.len(), "dim", dim)?;
        if let Some(pos) = a.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteMatrix {
                name: "a",
                row: pos / dim,
                col: pos % dim,
            });
        }
        if let Some(pos) = shift.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteMatrix {
                name: "shift",
                row: pos,
                col: 0,
            });
        }
        let log_det = log_abs_det(&a, dim)?;
        let mut a_inv = vec![0.0; dim * dim];
        invert_into(&a, dim, &mut a_inv)?;
        Ok(Self {
            dim,
            a,
            a_inv,
            shift,
            log_det,
        })
    }
}

impl Flow for Affine {
    fn dim(&self) -> usize {
        self.dim
    }

    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        let d = self.dim;
        for (j, yj) in y.iter_mut().enumerate() {
            let mut acc = D::from(self.shift[j]);
            for (xk, a) in x.iter().zip(&self.a[j * d..(j + 1) * d]) {
                acc += *xk * *a;
            }
            *yj = acc;
        }
    }

    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        crate::flow::check_point(self.dim(), y, x.len())?;
        let d = self.dim;
        for (j, xj) in x.iter_mut().enumerate() {
            *xj = (0..d)
                .map(|k| self.a_inv[j * d + k] * (y[k] - self.shift[k]))
                .sum();
        }
        Ok(())
    }

    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        crate::flow::check_point(self.dim(), x, self.dim())?;
        Ok(self.log_det)
    }

    fn jacobian_into(&self, _x: &[f64], jac: &mut [f64]) {
        jac.copy_from_slice(&self.a);
    }

    fn jacobian_gradient_into(&self, _x: &[f64], dj: &mut [f64]) {
        dj.fill(0.0);
    }

    fn third_derivatives_into(&self, _x: &[f64], t3: &mut [f64]) {
        t3.fill(0.0);
    }
}

//! A constant, invertible diffusion matrix.

use super::{Diffusion, DiffusionWork};
use crate::error::{Error, Result};
use crate::linalg;

/// m(x) = M for a fixed invertible d × d matrix M; A = M Mᵀ, ∇·m = 0, ∇·A = 0.
///
/// # Examples
/// ```
/// use dsm_core::{ConstantDiffusion, Diffusion};
/// let m = ConstantDiffusion::new(2, vec![2.0, 0.0, 1.0, 1.0])?;
/// let mut out = [0.0; 4];
/// m.matrix_into(&[0.0, 0.0], &mut out);
/// assert_eq!(out, [2.0, 0.0, 1.0, 1.0]);
/// assert!(ConstantDiffusion::new(2, vec![1.0, 2.0, 2.0, 4.0]).is_err()); // singular
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ConstantDiffusion {
    dim: usize,
    m: Vec<f64>,
    a: Vec<f64>,
}

impl ConstantDiffusion {
    /// The constant diffusion with row-major matrix `m` of size `dim` × `dim`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `dim == 0`;
    /// [`Error::DimensionMismatch`] when `m.len() != dim²`; [`Error::NonFiniteMatrix`];
    /// [`Error::Singular`] when its equilibrated reciprocal condition number is below
    /// [`linalg::MIN_RCOND`](crate::linalg::MIN_RCOND) (a diffusion that is not invertible
    /// does not define a divergence).
    pub fn new(dim: usize, m: Vec<f64>) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidParameter {
                owner: "ConstantDiffusion",
                name: "dim",
                value: 0.0,
                constraint: ">= 1",
            });
        }
        linalg::check_square("m", &m, dim)?;
        let rcond = linalg::reciprocal_condition(&m, dim)?;
        if !(rcond >= linalg::MIN_RCOND) {
            return Err(Error::Singular { name: "m", rcond });
        }
        let mut a = vec![0.0; dim * dim];
        for i in 0..dim {
            for j in 0..dim {
                a[i * dim + j] = (0..dim).map(|k| m[i * dim + k] * m[j * dim + k]).sum();
            }
        }
        Ok(Self { dim, m, a })
    }

    /// The matrix M, row-major.
    pub fn matrix(&self) -> &[f64] {
        &self.m
    }
}

impl Diffusion for ConstantDiffusion {
    fn dim(&self) -> usize {
        self.dim
    }
    fn matrix_into(&self, _x: &[f64], m: &mut [f64]) -> crate::Result<()> {
        m.copy_from_slice(&self.m);
        Ok(())
    }
    fn matrix_gradient_into(&self, _x: &[f64], dm: &mut [f64]) -> crate::Result<()> {
        dm.fill(0.0);
        Ok(())
    }
    fn divergence_into(
        &self,
        _x: &[f64],
        _work: &mut DiffusionWork,
        div: &mut [f64],
    ) -> crate::Result<()> {
        div.fill(0.0);
        Ok(())
    }
    fn covariance_into(
        &self,
        _x: &[f64],
        _work: &mut DiffusionWork,
        a: &mut [f64],
        div_a: &mut [f64],
    ) -> crate::Result<()> {
        a.copy_from_slice(&self.a);
        div_a.fill(0.0);
        Ok(())
    }
    fn is_diagonal(&self) -> bool {
        let d = self.dim();
        let m = self.matrix();
        (0..d * d).all(|k| k / d == k % d || m[k] == 0.0)
    }
}

//! A validated symmetric positive-definite matrix and what the models need of it.

use crate::error::{Error, Result};

/// Relative tolerance for the symmetry check of a user matrix.
const SYMMETRY_TOL: f64 = 1e-12;

/// A d × d SPD matrix Σ with its Cholesky factor L (Σ = L Lᵀ), its inverse and log det.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spd {
    pub(crate) dim: usize,
    /// Σ, row-major (symmetrised).
    pub(crate) matrix: Vec<f64>,
    /// Lower Cholesky factor, row-major.
    pub(crate) chol: Vec<f64>,
    /// Σ⁻¹, row-major, symmetric.
    pub(crate) inverse: Vec<f64>,
    /// log det Σ = 2 Σᵢ log Lᵢᵢ.
    pub(crate) log_det: f64,
}

impl Spd {
    /// Validates `matrix` (row-major d × d): finite, symmetric to 1e-12 relative, and
    /// positive definite (Cholesky through faer).
    pub(crate) fn new(name: &'static str, dim: usize, matrix: &[f64]) -> Result<Self> {
        crate::linalg::check_square(name, matrix, dim)?;
        let scale = matrix.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut sym = matrix.to_vec();
        for i in 0..dim {
            for j in 0..i {
                let (a, b) = (matrix[i * dim + j], matrix[j * dim + i]);
                if (a - b).abs() > SYMMETRY_TOL * scale {
                    return Err(Error::NotSymmetric {
                        name,
                        row: i,
                        col: j,
                    });
                }
                let mean = 0.5 * (a + b);
                sym[i * dim + j] = mean;
                sym[j * dim + i] = mean;
            }
        }
        let mut chol = vec![0.0; dim * dim];
        let mut inverse = vec![0.0; dim * dim];
        let log_det = crate::linalg::cholesky_into(name, &sym, dim, &mut chol, Some(&mut inverse))?;
        Ok(Self {
            dim,
            matrix: sym,
            chol,
            inverse,
            log_det,
        })
    }

    /// The quadratic form rᵀ Σ⁻¹ r with r = x − μ, computed without allocation.
    #[inline]
    pub(crate) fn mahalanobis_sq(&self, x: &[f64], mu: &[f64]) -> f64 {
        let d = self.dim;
        let mut q = 0.0;
        for i in 0..d {
            let ri = x[i] - mu[i];
            let row = &self.inverse[i * d..(i + 1) * d];
            let mut acc = 0.0;
            for j in 0..d {
                acc += row[j] * (x[j] - mu[j]);
            }
            q += ri * acc;
        }
        q
    }

    /// out = Σ⁻¹ (x − μ).
    #[inline]
    pub(crate) fn precision_times(&self, x: &[f64], mu: &[f64], out: &mut [f64]) {
        let d = self.dim;
        for (i, o) in out.iter_mut().enumerate() {
            let row = &self.inverse[i * d..(i + 1) * d];
            *o = (0..d).map(|j| row[j] * (x[j] - mu[j])).sum();
        }
    }

    /// out = μ + L z (a draw of N(μ, Σ) from standard normal z held in `out`).
    #[inline]
    pub(crate) fn affine_from_standard(&self, mu: &[f64], out: &mut [f64]) {
        let d = self.dim;
        // Lower-triangular product in place, from the last row up (row i uses z_0..=z_i).
        for i in (0..d).rev() {
            let row = &self.chol[i * d..(i + 1) * d];
            let v: f64 = (0..=i).map(|j| row[j] * out[j]).sum();
            out[i] = mu[i] + v;
        }
    }
}

/// Validates a location vector.
pub(crate) fn check_location(owner: &'static str, name: &'static str, mu: &[f64]) -> Result<()> {
    if mu.is_empty() {
        return Err(Error::InvalidParameter {
            owner,
            name,
            value: 0.0,
            constraint: "of dimension >= 1",
        });
    }
    match mu.iter().position(|v| !v.is_finite()) {
        Some(pos) => Err(Error::NonFiniteMatrix {
            name,
            row: pos,
            col: 0,
        }),
        None => Ok(()),
    }
}

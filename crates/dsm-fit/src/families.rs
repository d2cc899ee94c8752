//! Built-in parametric families: Student-t location and log-scale (optionally log-dof), the
//! Gaussian mean, the multivariate Student-t location. Each is written once over the scalar
//! type, so its x- and θ-derivatives are exact; parameters that must be positive are taken on
//! the log scale, so that any finite θ is valid.

use dsm_core::{Error, Result, Scalar};

use crate::model::ParametricModel;

/// St(μ, σ, ν) in one dimension with θ = (μ, log σ), ν fixed, or θ = (μ, log σ, log ν) with
/// [`StudentTFamily::with_free_dof`]:
///
/// ```text
/// ℓ(x; θ) = −((ν + 1)/2) ln(1 + z²/ν) − ln σ,   z = (x − μ)/σ      (+ terms in ν alone)
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudentTFamily {
    dof: Option<f64>,
}

impl StudentTFamily {
    /// Location and log-scale at a fixed ν.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless ν is finite and positive.
    pub fn new(dof: f64) -> Result<Self> {
        dsm_core::validate::positive("StudentTFamily", "dof", dof)?;
        Ok(Self { dof: Some(dof) })
    }

    /// Location, log-scale and log-dof: θ = (μ, log σ, log ν).
    pub fn with_free_dof() -> Self {
        Self { dof: None }
    }
}

impl ParametricModel for StudentTFamily {
    fn dim(&self) -> usize {
        1
    }
    fn n_params(&self) -> usize {
        if self.dof.is_some() { 2 } else { 3 }
    }
    fn log_density_generic<D: Scalar>(&self, theta: &[D], x: &[D]) -> D {
        let nu = match self.dof {
            Some(nu) => D::from(nu),
            None => theta[2].exp(),
        };
        let z = (x[0] - theta[0]) / theta[1].exp();
        -((nu + 1.0) * 0.5) * (z * z / nu).ln_1p() - theta[1]
    }
}

/// N(μ, Σ) with θ = μ and Σ fixed: ℓ(x; μ) = −½ (x − μ)ᵀ Σ⁻¹ (x − μ).
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMeanFamily {
    dim: usize,
    precision: Vec<f64>,
}

impl GaussianMeanFamily {
    /// The family of means for covariance Σ (row-major d × d, symmetric positive definite).
    ///
    /// # Errors
    /// The matrix errors of [`dsm_core::linalg::cholesky_into`] naming "covariance".
    pub fn new(dim: usize, covariance: &[f64]) -> Result<Self> {
        let precision = precision_of("covariance", dim, covariance)?;
        Ok(Self { dim, precision })
    }
}

impl ParametricModel for GaussianMeanFamily {
    fn dim(&self) -> usize {
        self.dim
    }
    fn n_params(&self) -> usize {
        self.dim
    }
    fn log_density_generic<D: Scalar>(&self, theta: &[D], x: &[D]) -> D {
        -quadratic_form(&self.precision, theta, x) * 0.5
    }
}

/// The multivariate Student-t with θ = μ, scale Σ and ν fixed:
/// ℓ(x; μ) = −((ν + d)/2) ln(1 + (x − μ)ᵀΣ⁻¹(x − μ)/ν).
#[derive(Debug, Clone, PartialEq)]
pub struct MultivariateStudentTFamily {
    dim: usize,
    precision: Vec<f64>,
    dof: f64,
}

impl MultivariateStudentTFamily {
    /// The family of locations for scale Σ and ν.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless ν is finite and positive; the matrix errors of
    /// [`dsm_core::linalg::cholesky_into`] naming "scale".
    pub fn new(dim: usize, scale: &[f64], dof: f64) -> Result<Self> {
        dsm_core::validate::positive("MultivariateStudentTFamily", "dof", dof)?;
        let precision = precision_of("scale", dim, scale)?;
        Ok(Self {
            dim,
            precision,
            dof,
        })
    }
}

impl ParametricModel for MultivariateStudentTFamily {
    fn dim(&self) -> usize {
        self.dim
    }
    fn n_params(&self) -> usize {
        self.dim
    }
    fn log_density_generic<D: Scalar>(&self, theta: &[D], x: &[D]) -> D {
        let q = quadratic_form(&self.precision, theta, x);
        -(q / self.dof).ln_1p() * ((self.dof + self.dim as f64) * 0.5)
    }
}

/// Σ⁻¹ of a symmetric positive-definite matrix, checked (through its Cholesky factor).
fn precision_of(name: &'static str, dim: usize, matrix: &[f64]) -> Result<Vec<f64>> {
    dsm_core::linalg::check_dim("dsm-fit family", "dim", dim)?;
    dsm_core::linalg::check_square(name, matrix, dim)?;
    for i in 0..dim {
        for j in 0..i {
            let (a, b) = (matrix[i * dim + j], matrix[j * dim + i]);
            if (a - b).abs() > 1e-12 * a.abs().max(b.abs()) {
                return Err(Error::NotSymmetric {
                    name,
                    row: i,
                    col: j,
                });
            }
        }
    }
    let (mut chol, mut inv) = (vec![0.0; dim * dim], vec![0.0; dim * dim]);
    dsm_core::linalg::cholesky_into(name, matrix, dim, &mut chol, Some(&mut inv))?;
    Ok(inv)
}

/// (x − μ)ᵀ P (x − μ) in the scalar type.
fn quadratic_form<D: Scalar>(precision: &[f64], mu: &[D], x: &[D]) -> D {
    let d = x.len();
    let mut q = D::from(0.0);
    for i in 0..d {
        let zi = x[i] - mu[i];
        let mut row = D::from(0.0);
        for j in 0..d {
            row += (x[j] - mu[j]) * precision[i * d + j];
        }
        q += zi * row;
    }
    q
}

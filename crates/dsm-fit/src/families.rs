//! Built-in parametric families: Student-t location and log-scale (optionally log-dof), the
//! Gaussian mean, the multivariate Student-t location. Each is written once over the scalar
//! type, so its x- and θ-derivatives are exact; parameters that must be positive are taken on
//! the log scale, so that any finite θ is valid.

use dsm_core::{Error, Result, Scalar};
use dsm_flows::{GaussianFlow, ManualFlow};

use crate::model::ParametricModel;
use crate::parametric_flow::{LocationScaleFlow, Output, Scale};

/// St(μ, σ, ν) in one dimension with θ = (μ, log σ) at a fixed ν ([`StudentTFamily::new`]),
/// θ = (μ, log σ, log ν) ([`StudentTFamily::with_free_dof`]), or θ = μ at a fixed σ and ν
/// ([`StudentTFamily::location`]):
///
/// ```text
/// ℓ(x; θ) = −((ν + 1)/2) ln(1 + z²/ν) − ln σ,   z = (x − μ)/σ      (+ terms in ν alone)
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudentTFamily {
    scale: Option<f64>,
    dof: Option<f64>,
}

impl StudentTFamily {
    /// Location and log-scale at a fixed ν.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless ν is finite and positive.
    pub fn new(dof: f64) -> Result<Self> {
        dsm_core::validate::positive("StudentTFamily", "dof", dof)?;
        Ok(Self {
            scale: None,
            dof: Some(dof),
        })
    }

    /// Location alone, at a fixed scale σ and ν: θ = μ (the paper's example).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless σ and ν are finite and positive.
    pub fn location(scale: f64, dof: f64) -> Result<Self> {
        dsm_core::validate::positive("StudentTFamily", "scale", scale)?;
        dsm_core::validate::positive("StudentTFamily", "dof", dof)?;
        Ok(Self {
            scale: Some(scale),
            dof: Some(dof),
        })
    }

    /// Location, log-scale and log-dof: θ = (μ, log σ, log ν).
    pub fn with_free_dof() -> Self {
        Self {
            scale: None,
            dof: None,
        }
    }

    /// The Gaussian flow Φ⁻¹∘F of St(μ, σ, ν) moving with θ (docs/math.md eq. 12): the
    /// diffusion of the paper's §2.2 surrogate, for
    /// [`MovingDiffusionScoreMatching`](crate::MovingDiffusionScoreMatching).
    ///
    /// # Errors
    /// [`Error::Unsupported`] for the family with a free ν (the flow would need the
    /// Student-t CDF's derivative in ν).
    pub fn gaussian_flow(&self) -> Result<LocationScaleFlow<GaussianFlow>> {
        let dof = self.dof.ok_or(Error::Unsupported {
            what: "the moving Gaussian flow of a Student-t family with a free dof",
        })?;
        LocationScaleFlow::new(
            GaussianFlow::new(0.0, 1.0, dof)?,
            self.n_params(),
            0,
            self.scale_of_flow(),
            Output::Standard,
        )
    }

    /// The manual flow of docs/math.md eq. 40 with dof ν₀, moving with θ (location and
    /// scale): m(x; θ) = sqrt(1 + (x − μ)²/(ν₀σ²)).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless ν₀ is finite and positive.
    pub fn manual_flow(&self, nu0: f64) -> Result<LocationScaleFlow<ManualFlow>> {
        LocationScaleFlow::new(
            ManualFlow::new(0.0, 1.0, nu0)?,
            self.n_params(),
            0,
            self.scale_of_flow(),
            Output::Scaled,
        )
    }

    fn scale_of_flow(&self) -> Scale {
        match self.scale {
            Some(s) => Scale::Fixed(s),
            None => Scale::LogParameter(1),
        }
    }
}

impl ParametricModel for StudentTFamily {
    fn dim(&self) -> usize {
        1
    }
    fn n_params(&self) -> usize {
        match (self.scale, self.dof) {
            (Some(_), _) => 1,
            (None, Some(_)) => 2,
            (None, None) => 3,
        }
    }
    fn log_density_generic<D: Scalar>(&self, theta: &[D], x: &[D]) -> D {
        let nu = match self.dof {
            Some(nu) => D::from(nu),
            None => theta[2].exp(),
        };
        let log_sigma = match self.scale {
            Some(s) => D::from(s.ln()),
            None => theta[1],
        };
        let z = (x[0] - theta[0]) / log_sigma.exp();
        -((nu + 1.0) * 0.5) * (z * z / nu).ln_1p() - log_sigma
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

/// The multivariate Student-t St(μ, Σ, ν) at a fixed ν, with θ = μ and Σ fixed
/// ([`MultivariateStudentTFamily::new`]) or θ = (μ, L) with Σ⁻¹ = LLᵀ in the Cholesky
/// parameterisation of [`GaussianFamily`] ([`MultivariateStudentTFamily::with_free_scale`]):
///
/// ```text
/// ℓ(x; θ) = −((ν + d)/2) ln(1 + q/ν),   q = (x − μ)ᵀΣ⁻¹(x − μ)
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MultivariateStudentTFamily {
    dim: usize,
    precision: Option<Vec<f64>>,
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
            precision: Some(precision),
            dof,
        })
    }

    /// Location and scale: θ = (μ, L), p = d + d(d+1)/2, with the layout of
    /// [`GaussianFamily`].
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless ν is finite and positive and 1 ≤ d ≤ the
    /// workspace's largest dimension.
    pub fn with_free_scale(dim: usize, dof: f64) -> Result<Self> {
        dsm_core::validate::positive("MultivariateStudentTFamily", "dof", dof)?;
        dsm_core::linalg::check_dim("MultivariateStudentTFamily", "dim", dim)?;
        Ok(Self {
            dim,
            precision: None,
            dof,
        })
    }
}

impl ParametricModel for MultivariateStudentTFamily {
    fn dim(&self) -> usize {
        self.dim
    }
    fn n_params(&self) -> usize {
        match self.precision {
            Some(_) => self.dim,
            None => self.dim + self.dim * (self.dim + 1) / 2,
        }
    }
    fn log_density_generic<D: Scalar>(&self, theta: &[D], x: &[D]) -> D {
        let q = match &self.precision {
            Some(p) => quadratic_form(p, theta, x),
            None => cholesky_quadratic_form(theta, x),
        };
        -(q / self.dof).ln_1p() * ((self.dof + self.dim as f64) * 0.5)
    }
}

/// N(μ, Σ) with mean and precision free: θ = (μ, L) with Σ⁻¹ = LLᵀ, L lower triangular with
/// a positive diagonal, stored row by row as (log L₁₁, L₂₁, log L₂₂, L₃₁, L₃₂, log L₃₃, …):
/// every finite θ is a valid Gaussian, so an optimiser cannot leave the domain.
///
/// ```text
/// ℓ(x; θ) = −½ ‖Lᵀ(x − μ)‖²,   p = d + d(d+1)/2
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GaussianFamily {
    dim: usize,
}

impl GaussianFamily {
    /// The Gaussian family of dimension `dim`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless 1 ≤ d ≤ the workspace's largest dimension.
    pub fn new(dim: usize) -> Result<Self> {
        dsm_core::linalg::check_dim("GaussianFamily", "dim", dim)?;
        Ok(Self { dim })
    }

    /// θ of N(μ, Σ): μ followed by the Cholesky factor of Σ⁻¹ in the layout above.
    ///
    /// # Errors
    /// Dimension and matrix errors of [`dsm_core::linalg::cholesky_into`] naming
    /// "covariance".
    pub fn theta_of(&self, mean: &[f64], covariance: &[f64]) -> Result<Vec<f64>> {
        let d = self.dim;
        dsm_core::validate::same_dim("length of the mean", mean.len(), "dimension", d)?;
        let precision = precision_of("covariance", d, covariance)?;
        let mut chol = vec![0.0; d * d];
        dsm_core::linalg::cholesky_into("precision", &precision, d, &mut chol, None)?;
        let mut theta = mean.to_vec();
        for i in 0..d {
            for j in 0..=i {
                let l = chol[i * d + j];
                theta.push(if i == j { l.ln() } else { l });
            }
        }
        Ok(theta)
    }

    /// The mean and the precision Σ⁻¹ = LLᵀ (row-major) of θ.
    ///
    /// # Errors
    /// As [`ParametricModel::check_params`].
    pub fn mean_and_precision(&self, theta: &[f64]) -> Result<(Vec<f64>, Vec<f64>)> {
        self.check_params(theta)?;
        let d = self.dim;
        let l = lower_factor(&theta[d..], d);
        let mut precision = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                precision[i * d + j] = (0..=i.min(j)).map(|k| l[i * d + k] * l[j * d + k]).sum();
            }
        }
        Ok((theta[..d].to_vec(), precision))
    }
}

impl ParametricModel for GaussianFamily {
    fn dim(&self) -> usize {
        self.dim
    }
    fn n_params(&self) -> usize {
        self.dim + self.dim * (self.dim + 1) / 2
    }
    fn log_density_generic<D: Scalar>(&self, theta: &[D], x: &[D]) -> D {
        -cholesky_quadratic_form(theta, x) * 0.5
    }
}

/// L (row-major, lower) from its packed entries (log diagonal).
fn lower_factor(packed: &[f64], d: usize) -> Vec<f64> {
    let mut l = vec![0.0; d * d];
    let mut k = 0;
    for i in 0..d {
        for j in 0..=i {
            l[i * d + j] = if i == j { packed[k].exp() } else { packed[k] };
            k += 1;
        }
    }
    l
}

/// ‖Lᵀ(x − μ)‖² for θ = (μ, packed L) in the scalar type: (Lᵀz)ⱼ = Σ_{i ≥ j} Lᵢⱼ zᵢ.
fn cholesky_quadratic_form<D: Scalar>(theta: &[D], x: &[D]) -> D {
    let d = x.len();
    let packed = &theta[d..];
    let mut q = D::from(0.0);
    for j in 0..d {
        let mut v = D::from(0.0);
        for i in j..d {
            let k = i * (i + 1) / 2 + j;
            let lij = if i == j { packed[k].exp() } else { packed[k] };
            v += lij * (x[i] - theta[i]);
        }
        q += v * v;
    }
    q
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

//! The Gaussian flow of the multivariate Student-t (docs/math.md eq. 13.3): a radial map that
//! sends the t's radius law to the χ_d radius law, so that the pushforward of
//! `MultivariateStudentT` is exactly N(0, I).

use dsm_core::special_functions::incomplete::{
    Tail, gamma_inc_inverse, ln_gamma_difference, log_beta_inc,
};
use dsm_core::{Error, MultivariateStudentT, Result, Scalar};
use special::Gamma;

use crate::flow::Flow;

/// T(x) = ρ(r) z / r, z = L⁻¹(x − μ), r = ‖z‖, for t_ν(μ, Σ = LLᵀ) in d dimensions, where ρ
/// matches the radius laws: P(‖Z‖ > r) = P(χ_d > ρ), that is
///
/// ```text
/// ρ(r) = √(2 Q⁻¹(d/2, I_{ν/(ν+r²)}(ν/2, d/2)))      (the smaller tail of each, in logs)
/// ρ′(r) = f_R(r)/f_χ(ρ),  ln f_R(r) = ln 2 + (d−1) ln r − (d/2) ln ν − ((d+ν)/2) ln(1 + r²/ν) − ln B(d/2, ν/2)
///                          ln f_χ(ρ) = (d−1) ln ρ − ρ²/2 − (d/2 − 1) ln 2 − ln Γ(d/2)
/// ln |det ∇T| = (d − 1) ln(ρ/r) + ln ρ′ − ln |L|
/// ```
/// ρ″ and ρ‴ follow from ρ′ by the chain rule, so the Jacobian, its derivative and the third
/// derivatives DSM and `Pushforward` need are exact. Near r = 0, ρ(r) = c r (1 + O(r²)) with
/// c = √(2/ν) (Γ((d+ν)/2)/Γ(ν/2))^(1/d); below r = 1e-7 the map is c z (relative error below
/// 1e-14). For d = 1 it is the Gaussian flow Φ⁻¹∘F_t of eq. 12 (up to the sign convention,
/// which agrees: T is odd and increasing).
///
/// # Examples
/// ```
/// use dsm_core::MultivariateStudentT;
/// use dsm_flows::{Flow, RadialGaussianFlow};
/// let t = MultivariateStudentT::new(vec![0.0, 0.0], &[1.0, 0.0, 0.0, 1.0], 5.0)?;
/// let flow = RadialGaussianFlow::new(&t)?;
/// let (y, _) = flow.forward(&[3.0, 4.0])?;
/// // The direction is kept; the radius 5 of a t₅ in 2-D goes to the χ₂ radius with the same tail.
/// assert!((y[0] / y[1] - 0.75).abs() < 1e-14);
/// let (x, _) = flow.inverse(&y)?;
/// assert!((x[0] - 3.0).abs() < 1e-10 && (x[1] - 4.0).abs() < 1e-10);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RadialGaussianFlow {
    location: Vec<f64>,
    /// The Cholesky factor L of Σ, row-major lower triangular.
    chol: Vec<f64>,
    /// L⁻¹, row-major.
    chol_inv: Vec<f64>,
    /// G = L⁻ᵀL⁻¹ = Σ⁻¹, row-major.
    precision: Vec<f64>,
    log_det_chol: f64,
    dof: f64,
    /// ln f_R(r) − (d − 1) ln r + ((d+ν)/2) ln(1 + r²/ν): the constant of the t radius density.
    log_radius_norm: f64,
    /// The constant of the χ_d radius density.
    log_chi_norm: f64,
    /// c = lim ρ(r)/r at 0.
    slope_at_zero: f64,
}

/// Below this radius the map is its linear term.
const SMALL_RADIUS: f64 = 1e-7;

/// Above this ν the t is the normal to within 1/ν, below rounding: the map is the identity
/// in z (ρ = r).
const NORMAL_DOF: f64 = 1e15;

impl RadialGaussianFlow {
    /// The Gaussian flow of `t`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a dimension above the workspace's largest; the matrix
    /// errors of the Cholesky factorisation of the scale.
    pub fn new(t: &MultivariateStudentT) -> Result<Self> {
        let d = t.location().len();
        dsm_core::linalg::check_dim("RadialGaussianFlow", "dim", d)?;
        let mut chol = vec![0.0; d * d];
        dsm_core::linalg::cholesky_into("scale", t.scale(), d, &mut chol, None)?;
        let log_det_chol = (0..d).map(|i| chol[i * d + i].ln()).sum();
        let mut chol_inv = vec![0.0; d * d];
        dsm_core::linalg::invert_into(&chol, d, &mut chol_inv)?;
        let mut precision = vec![0.0; d * d];
        for i in 0..d {
            for k in 0..d {
                precision[i * d + k] = (0..d)
                    .map(|a| chol_inv[a * d + i] * chol_inv[a * d + k])
                    .sum();
            }
        }
        let (df, nu) = (d as f64, t.dof());
        if nu > NORMAL_DOF {
            return Ok(Self {
                location: t.location().to_vec(),
                chol,
                chol_inv,
                precision,
                log_det_chol,
                dof: nu,
                log_radius_norm: 0.0,
                log_chi_norm: 0.0,
                slope_at_zero: 1.0,
            });
        }
        let ln_gamma = |a: f64| Gamma::ln_gamma(a).0;
        // ln Γ((d+ν)/2) − ln Γ(ν/2), without cancellation for large ν.
        let ratio = ln_gamma_difference(0.5 * nu, 0.5 * df);
        let ln_beta = ln_gamma(0.5 * df) - ratio;
        let log_radius_norm = std::f64::consts::LN_2 - 0.5 * df * nu.ln() - ln_beta;
        let log_chi_norm = -(0.5 * df - 1.0) * std::f64::consts::LN_2 - ln_gamma(0.5 * df);
        let slope_at_zero =
            ((2.0 / nu).ln() * 0.5 + (ln_gamma(0.5 * (df + nu)) - ln_gamma(0.5 * nu)) / df).exp();
        Ok(Self {
            location: t.location().to_vec(),
            chol,
            chol_inv,
            precision,
            log_det_chol,
            dof: nu,
            log_radius_norm,
            log_chi_norm,
            slope_at_zero,
        })
    }

    fn d(&self) -> f64 {
        self.location.len() as f64
    }

    /// ln f_R(r) and its first two derivatives in r.
    fn log_radius_density(&self, r: f64) -> [f64; 3] {
        let (d, nu) = (self.d(), self.dof);
        let q = nu + r * r;
        [
            self.log_radius_norm + (d - 1.0) * r.ln() - 0.5 * (d + nu) * (r * r / nu).ln_1p(),
            (d - 1.0) / r - (d + nu) * r / q,
            -(d - 1.0) / (r * r) - (d + nu) * (nu - r * r) / (q * q),
        ]
    }

    /// ln f_χ(ρ) and its first two derivatives in ρ.
    fn log_chi_density(&self, rho: f64) -> [f64; 3] {
        let d = self.d();
        [
            self.log_chi_norm + (d - 1.0) * rho.ln() - 0.5 * rho * rho,
            (d - 1.0) / rho - rho,
            -(d - 1.0) / (rho * rho) - 1.0,
        ]
    }

    /// ρ(r) for r > 0: the smaller tail of the t radius matched to the same tail of χ_d.
    pub fn radius(&self, r: f64) -> Result<f64> {
        let (d, nu) = (self.d(), self.dof);
        if !(r >= 0.0) {
            return Err(Error::InvalidParameter {
                owner: "RadialGaussianFlow",
                name: "radius",
                value: r,
                constraint: ">= 0",
            });
        }
        if r < SMALL_RADIUS || self.dof > NORMAL_DOF || r == f64::INFINITY {
            return Ok(self.slope_at_zero * r);
        }
        // x = r²/(ν + r²), y = ν/(ν + r²), without overflow of r².
        let ratio = nu / r / r;
        let (x, y) = (1.0 / (1.0 + ratio), ratio / (1.0 + ratio));
        let (lower, upper) = log_beta_inc(0.5 * d, 0.5 * nu, x, y)?;
        let half_rho_sq = if lower < upper {
            gamma_inc_inverse(0.5 * d, lower, Tail::Lower)?
        } else {
            gamma_inc_inverse(0.5 * d, upper, Tail::Upper)?
        };
        Ok((2.0 * half_rho_sq).sqrt())
    }

    /// [ρ, ρ′, ρ″, ρ‴] at r > 0 (eq. 13.3), and ln ρ′.
    ///
    /// # Errors
    /// Those of [`RadialGaussianFlow::radius`].
    pub fn radius_derivatives(&self, r: f64) -> Result<([f64; 4], f64)> {
        if self.dof > NORMAL_DOF {
            return Ok(([r, 1.0, 0.0, 0.0], 0.0));
        }
        let rho = self.radius(r)?;
        let [g0, g1, g2] = self.log_radius_density(r);
        let [h0, h1, h2] = self.log_chi_density(rho);
        let log_slope = g0 - h0;
        let p1 = log_slope.exp();
        let p2 = p1 * (g1 - h1 * p1);
        let p3 = p2 * (g1 - h1 * p1) + p1 * (g2 - h2 * p1 * p1 - h1 * p2);
        Ok(([rho, p1, p2, p3], log_slope))
    }

    /// z = L⁻¹(x − μ) by forward substitution, in the scalar type.
    fn standardise<D: Scalar>(&self, x: &[D], z: &mut [D]) {
        let d = self.location.len();
        for i in 0..d {
            let mut acc = x[i] - self.location[i];
            for (j, zj) in z.iter().enumerate().take(i) {
                acc -= *zj * self.chol[i * d + j];
            }
            z[i] = acc / self.chol[i * d + i];
        }
    }
}

/// Two d-long scratch buffers, on the stack for d ≤ [`STACK_DIM`](crate::STACK_DIM).
fn with_buffers<R>(d: usize, f: impl FnOnce(&mut [f64], &mut [f64]) -> R) -> R {
    if d <= crate::STACK_DIM {
        let (mut a, mut b) = ([0.0; crate::STACK_DIM], [0.0; crate::STACK_DIM]);
        f(&mut a[..d], &mut b[..d])
    } else {
        let (mut a, mut b) = (vec![0.0; d], vec![0.0; d]);
        f(&mut a, &mut b)
    }
}

impl RadialGaussianFlow {
    /// u = L⁻ᵀ z.
    fn transposed_solve(&self, z: &[f64], u: &mut [f64]) {
        let d = z.len();
        for (k, uk) in u.iter_mut().enumerate() {
            *uk = (k..d).map(|a| z[a] * self.chol_inv[a * d + k]).sum();
        }
    }

    /// z, r, k = ρ/r, k′/r and (k″/r² − k′/r³) at x: the radial factors of the closed-form
    /// Jacobian and its derivative (k = c, k′ = 0 near 0; NaN where ρ fails).
    fn radial_factors(&self, x: &[f64], z: &mut [f64]) -> (f64, f64, f64) {
        self.standardise(x, z);
        let r = z.iter().map(|v| v * v).sum::<f64>().sqrt();
        if r < SMALL_RADIUS {
            return (self.slope_at_zero, 0.0, 0.0);
        }
        match self.radius_derivatives(r) {
            Ok(([rho, p1, p2, _], _)) => {
                let k = rho / r;
                let k1 = (p1 - k) / r;
                let k2 = (p2 - 2.0 * k1) / r;
                (k, k1 / r, k2 / (r * r) - k1 / (r * r * r))
            }
            Err(_) => (f64::NAN, f64::NAN, f64::NAN),
        }
    }
}

impl Flow for RadialGaussianFlow {
    /// J = (k I + (k′/r) z zᵀ) L⁻¹ in closed form, one radius evaluation per point.
    fn jacobian_into(&self, x: &[f64], jac: &mut [f64]) {
        let d = self.location.len();
        with_buffers(d, |z, u| {
            let (k, k1_r, _) = self.radial_factors(x, z);
            self.transposed_solve(z, u);
            for j in 0..d {
                for kk in 0..d {
                    jac[j * d + kk] = k * self.chol_inv[j * d + kk] + k1_r * z[j] * u[kk];
                }
            }
        });
    }

    /// ∂_i J_jk = (k′/r)(L⁻¹_ji u_k + u_i L⁻¹_jk + G_ik z_j) + (k″/r² − k′/r³) z_j u_i u_k, with
    /// u = L⁻ᵀz and G = Σ⁻¹: O(d³) per point and one radius evaluation.
    fn jacobian_gradient_into(&self, x: &[f64], dj: &mut [f64]) {
        let d = self.location.len();
        with_buffers(d, |z, u| {
            let (_, k1_r, c) = self.radial_factors(x, z);
            self.transposed_solve(z, u);
            for i in 0..d {
                for j in 0..d {
                    for kk in 0..d {
                        dj[(i * d + j) * d + kk] = k1_r
                            * (self.chol_inv[j * d + i] * u[kk]
                                + u[i] * self.chol_inv[j * d + kk]
                                + self.precision[i * d + kk] * z[j])
                            + c * z[j] * u[i] * u[kk];
                    }
                }
            }
        });
    }

    fn dim(&self) -> usize {
        self.location.len()
    }

    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        self.standardise(x, y);
        let r_sq = y.iter().fold(D::from(0.0), |acc, v| acc + *v * *v);
        let r = r_sq.value().sqrt();
        let factor = if r < SMALL_RADIUS {
            D::from(self.slope_at_zero)
        } else {
            match self.radius_derivatives(r) {
                Ok((derivs, _)) => {
                    let r_d = r_sq.sqrt();
                    r_d.lift(derivs) / r_d
                }
                Err(_) => D::from(f64::NAN),
            }
        };
        for v in y.iter_mut() {
            *v *= factor;
        }
    }

    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        let d = self.location.len();
        let rho = y.iter().map(|v| v * v).sum::<f64>().sqrt();
        // r with ρ(r) = ‖y‖: Newton in ln r on ln ρ(r), slope r ρ′/ρ, from r = ρ/c.
        let r = if rho < self.slope_at_zero * SMALL_RADIUS {
            rho / self.slope_at_zero
        } else {
            let mut u = (rho / self.slope_at_zero).ln();
            let mut converged = false;
            for _ in 0..200 {
                let r = u.exp();
                let ([value, slope, _, _], _) = self.radius_derivatives(r)?;
                let step = ((value.ln() - rho.ln()) / (r * slope / value)).clamp(-2.0, 2.0);
                if !step.is_finite() {
                    break;
                }
                u -= step;
                // Quadratic convergence: after a step below 1e-12 the error is at rounding.
                if step.abs() <= 1e-12 * u.abs().max(1.0) {
                    converged = true;
                    break;
                }
            }
            if !converged {
                return Err(Error::InverseFailed {
                    index: 0,
                    iterations: 200,
                });
            }
            u.exp()
        };
        let scale = if rho > 0.0 { r / rho } else { 0.0 };
        // x = μ + L (r/ρ) y.
        for (i, xi) in x.iter_mut().enumerate() {
            let row = &self.chol[i * d..i * d + i + 1];
            *xi = self.location[i] + scale * row.iter().zip(y).map(|(l, v)| l * v).sum::<f64>();
        }
        if x.iter().all(|v| v.is_finite()) {
            Ok(())
        } else {
            Err(Error::InverseFailed {
                index: 0,
                iterations: 0,
            })
        }
    }

    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        let d = self.location.len();
        crate::flow::check_point(d, x, d)?;
        let r = with_buffers(d, |z, _| {
            self.standardise(x, z);
            z.iter().map(|v| v * v).sum::<f64>().sqrt()
        });
        let value = if r < SMALL_RADIUS {
            d as f64 * self.slope_at_zero.ln()
        } else {
            let ([rho, _, _, _], log_slope) = self.radius_derivatives(r)?;
            (d as f64 - 1.0) * (rho / r).ln() + log_slope
        } - self.log_det_chol;
        if value.is_finite() {
            Ok(value)
        } else {
            Err(Error::SingularJacobian {
                index: 0,
                rcond: 0.0,
            })
        }
    }
}

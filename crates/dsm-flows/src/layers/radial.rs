//! The radial flow of Rezende & Mohamed (2015), with its exact inverse.

use crate::flow::Flow;
use dsm_core::validate::{finite, positive};
use dsm_core::{Error, Result, Scalar};

/// y = x + β h(r) (x − x₀), h(r) = 1/(α + r), r = ‖x − x₀‖; invertible iff β ≥ −α (strict
/// here, so J is never singular).
///
/// ```text
/// log |det J| = (d − 1) log(1 + βh) + log(1 + βα/(α + r)²)
/// ```
/// Inverse: ρ = ‖y − x₀‖ = r (1 + β/(α + r)) is strictly increasing in r; r is the
/// non-negative root of r² + (α + β − ρ) r − αρ = 0 (computed without cancellation), then
/// x = x₀ + (y − x₀)/(1 + β/(α + r)). T is C¹ but not C² at x₀ itself (the cone of ‖·‖).
///
/// # Examples
/// ```
/// use dsm_flows::{Flow, Radial};
/// let t = Radial::new(vec![0.0, 1.0], 0.5, -0.4)?;
/// let (mut y, mut x) = ([0.0; 2], [0.0; 2]);
/// t.transform(&[2.0, -1.0], &mut y);
/// t.inverse_into(&y, &mut x)?;
/// assert!((x[0] - 2.0).abs() < 1e-14 && (x[1] + 1.0).abs() < 1e-14);
/// assert!(Radial::new(vec![0.0], 0.5, -0.6).is_err()); // β < −α
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Radial {
    centre: Vec<f64>,
    alpha: f64,
    beta: f64,
}

impl Radial {
    /// The radial flow around `centre` with α > 0 and β > −α.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an empty or non-finite centre, α not finite and
    /// positive, or β ≤ −α (not invertible).
    pub fn new(centre: Vec<f64>, alpha: f64, beta: f64) -> Result<Self> {
        if centre.is_empty() {
            return Err(Error::InvalidParameter {
                owner: "Radial",
                name: "centre",
                value: 0.0,
                constraint: "non-empty",
            });
        }
        for v in &centre {
            finite("Radial", "centre", *v)?;
        }
        positive("Radial", "alpha", alpha)?;
        finite("Radial", "beta", beta)?;
        if !(beta > -alpha) {
            return Err(Error::InvalidParameter {
                owner: "Radial",
                name: "beta",
                value: beta,
                constraint: "> -alpha (invertibility)",
            });
        }
        Ok(Self {
            centre,
            alpha,
            beta,
        })
    }
}

impl Flow for Radial {
    fn dim(&self) -> usize {
        self.centre.len()
    }

    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        let mut r2 = D::from(0.0);
        for (xi, ci) in x.iter().zip(&self.centre) {
            r2 += (*xi - *ci) * (*xi - *ci);
        }
        // At x₀ the norm has no derivative; βh(r)(x − x₀) has value 0 and Jacobian (β/α) I.
        let factor = if r2.value() == 0.0 {
            D::from(self.beta / self.alpha)
        } else {
            (r2.sqrt() + self.alpha).recip() * self.beta
        };
        for ((yi, xi), ci) in y.iter_mut().zip(x).zip(&self.centre) {
            *yi = *xi + factor * (*xi - *ci);
        }
    }

    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        crate::flow::check_point(self.dim(), y, x.len())?;
        let rho = y
            .iter()
            .zip(&self.centre)
            .map(|(a, c)| (a - c) * (a - c))
            .sum::<f64>()
            .sqrt();
        let (a, b) = (self.alpha, self.alpha + self.beta - rho);
        let disc = (b * b + 4.0 * rho * a).sqrt();
        let r = if b > 0.0 {
            2.0 * rho * a / (b + disc)
        } else {
            0.5 * (disc - b)
        };
        let scale = 1.0 / (1.0 + self.beta / (a + r));
        if !scale.is_finite() {
            return Err(Error::SingularJacobian {
                index: 0,
                rcond: 0.0,
            });
        }
        for ((xi, yi), ci) in x.iter_mut().zip(y).zip(&self.centre) {
            *xi = ci + (yi - ci) * scale;
        }
        Ok(())
    }

    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        crate::flow::check_point(self.dim(), x, self.dim())?;
        let r = x
            .iter()
            .zip(&self.centre)
            .map(|(a, c)| (a - c) * (a - c))
            .sum::<f64>()
            .sqrt();
        let (a, b) = (self.alpha, self.beta);
        let d = self.centre.len() as f64;
        crate::layers::elementwise::finite_log_det(
            (d - 1.0) * (b / (a + r)).ln_1p() + (b * a / ((a + r) * (a + r))).ln_1p(),
        )
    }
}

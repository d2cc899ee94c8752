//! The planar flow of Rezende & Mohamed (2015), with its exact inverse.

use crate::flow::Flow;
use dsm_core::validate::{finite, same_dim};
use dsm_core::{Error, Result, Scalar};

/// y = x + u tanh(wᵀx + b), invertible iff wᵀu ≥ −1 (strict here, so J is never singular).
///
/// ```text
/// J = I + sech²(a) u wᵀ,   log |det J| = log(1 + sech²(a) wᵀu),   a = wᵀx + b
/// ```
/// Inverse: a solves a + (wᵀu) tanh(a) = wᵀy + b, a strictly increasing scalar equation whose
/// root lies in [c − |wᵀu|, c + |wᵀu|] (c = wᵀy + b): Newton's method safeguarded by
/// bisection on that bracket, then x = y − u tanh(a).
///
/// # Examples
/// ```
/// use dsm_flows::{Flow, Planar};
/// let t = Planar::new(vec![0.5, -1.0], vec![1.0, 0.3], 0.2)?;
/// let (mut y, mut x) = ([0.0; 2], [0.0; 2]);
/// t.transform(&[0.7, -0.4], &mut y);
/// t.inverse_into(&y, &mut x)?;
/// assert!((x[0] - 0.7).abs() < 1e-14 && (x[1] + 0.4).abs() < 1e-14);
/// assert!(Planar::new(vec![-2.0, 0.0], vec![1.0, 0.0], 0.0).is_err()); // wᵀu = −2
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Planar {
    u: Vec<f64>,
    w: Vec<f64>,
    b: f64,
    wu: f64,
}

impl Planar {
    /// The planar flow with vectors u, w and offset b.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for empty vectors, non-finite entries, or wᵀu ≤ −1 (not
    /// invertible); [`Error::DimensionMismatch`] when u and w differ in length.
    pub fn new(u: Vec<f64>, w: Vec<f64>, b: f64) -> Result<Self> {
        if u.is_empty() {
            return Err(Error::InvalidParameter {
                owner: "Planar",
                name: "u",
                value: 0.0,
                constraint: "non-empty",
            });
        }
        same_dim("length of w", w.len(), "length of u", u.len())?;
        for v in u.iter().chain(&w) {
            finite("Planar", "planar u, w", *v)?;
        }
        finite("Planar", "b", b)?;
        let wu: f64 = w.iter().zip(&u).map(|(a, b)| a * b).sum();
        if !(wu > -1.0) {
            return Err(Error::InvalidParameter {
                owner: "Planar",
                name: "wᵀu",
                value: wu,
                constraint: "> -1 (invertibility)",
            });
        }
        Ok(Self { u, w, b, wu })
    }
}

impl Flow for Planar {
    fn dim(&self) -> usize {
        self.u.len()
    }

    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        let mut a = D::from(self.b);
        for (xi, wi) in x.iter().zip(&self.w) {
            a += *xi * *wi;
        }
        let h = a.tanh();
        for ((yi, xi), ui) in y.iter_mut().zip(x).zip(&self.u) {
            *yi = *xi + h * *ui;
        }
    }

    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        crate::flow::check_point(self.dim(), y, x.len())?;
        let c: f64 = self.b + y.iter().zip(&self.w).map(|(a, b)| a * b).sum::<f64>();
        let (mut lo, mut hi) = (c - self.wu.abs(), c + self.wu.abs());
        let mut a = c;
        let mut converged = false;
        for _ in 0..200 {
            let t = a.tanh();
            let g = a + self.wu * t - c;
            if g > 0.0 {
                hi = a;
            } else {
                lo = a;
            }
            let slope = 1.0 + self.wu * (1.0 - t * t);
            let newton = a - g / slope;
            let next = if newton > lo && newton < hi {
                newton
            } else {
                0.5 * (lo + hi)
            };
            if (next - a).abs() <= 2.0 * f64::EPSILON * a.abs().max(1.0)
                || hi - lo <= 2.0 * f64::EPSILON * hi.abs().max(1.0)
            {
                a = next;
                converged = true;
                break;
            }
            a = next;
        }
        if !converged {
            return Err(Error::InverseFailed {
                index: 0,
                iterations: 200,
            });
        }
        let h = a.tanh();
        for ((xi, yi), ui) in x.iter_mut().zip(y).zip(&self.u) {
            *xi = yi - ui * h;
        }
        Ok(())
    }

    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        crate::flow::check_point(self.dim(), x, self.dim())?;
        let a: f64 = self.b + x.iter().zip(&self.w).map(|(a, b)| a * b).sum::<f64>();
        let t = a.tanh();
        crate::layers::elementwise::finite_log_det((self.wu * (1.0 - t * t)).ln_1p())
    }
}

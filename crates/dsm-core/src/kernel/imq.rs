//! The inverse multiquadric kernel of Gorham & Mackey (2017).

use super::{Kernel, radial_derivatives, sq_dist};
use crate::error::{Error, Result, positive};

/// The inverse multiquadric kernel (docs/math.md section 7.3):
///
/// ```text
/// k(x, y) = (c² + ‖x − y‖²)^β,    c > 0,  β ∈ (−1, 0)      (default c = 1, β = −½)
/// φ(u) = (c² + u)^β,  φ′(u) = β (c² + u)^{β−1},  φ″(u) = β(β−1) (c² + u)^{β−2}
/// ```
/// With β ∈ (−1, 0) the KSD it defines detects non-convergence (Gorham & Mackey 2017).
///
/// # Examples
/// ```
/// use dsm_core::{Imq, Kernel};
/// let k = Imq::default();
/// assert_eq!(k.value(&[0.0, 0.0], &[0.0, 0.0]), 1.0);
/// assert!((k.value(&[1.0], &[0.0]) - 0.5f64.sqrt()).abs() < 1e-15);
/// assert!(Imq::new(1.0, 0.5).is_err()); // β must be negative
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Imq {
    c: f64,
    beta: f64,
}

impl Imq {
    /// The IMQ kernel with offset `c` and exponent `beta`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless c is positive with c² a normal finite number and
    /// β ∈ (−1, 0).
    pub fn new(c: f64, beta: f64) -> Result<Self> {
        positive("Imq", "c", c)?;
        if !((c * c).is_normal() && (c * c).is_finite()) {
            return Err(Error::InvalidParameter {
                owner: "Imq",
                name: "c",
                value: c,
                constraint: "with c² a normal, finite number (1e-154 < c < 1e154)",
            });
        }
        if !(beta > -1.0 && beta < 0.0) {
            return Err(Error::InvalidParameter {
                owner: "Imq",
                name: "beta",
                value: beta,
                constraint: "in (-1, 0)",
            });
        }
        Ok(Self { c, beta })
    }

    /// The offset c.
    pub fn c(&self) -> f64 {
        self.c
    }

    /// The exponent β.
    pub fn beta(&self) -> f64 {
        self.beta
    }
}

impl Default for Imq {
    /// c = 1, β = −½.
    fn default() -> Self {
        Self { c: 1.0, beta: -0.5 }
    }
}

impl Kernel for Imq {
    fn value(&self, x: &[f64], y: &[f64]) -> f64 {
        (self.c * self.c + sq_dist(x, y)).powf(self.beta)
    }

    fn derivatives_into(
        &self,
        x: &[f64],
        y: &[f64],
        gx: &mut [f64],
        gy: &mut [f64],
        cross: &mut [f64],
    ) -> f64 {
        radial_derivatives(self.profile(sq_dist(x, y)), x, y, gx, gy, cross)
    }

    fn radial_profile(&self, sq_dist: f64) -> Option<[f64; 3]> {
        Some(self.profile(sq_dist))
    }

    /// The same values as [`Kernel::radial_profile`] entry by entry, with the test on β taken
    /// once so that the β = −½ loop (one division, one square root) vectorises with `f`.
    #[inline(always)]
    fn radial_profile_each<F: FnMut(usize, [f64; 3])>(&self, u: &[f64], mut f: F) -> bool {
        let (c2, beta) = (self.c * self.c, self.beta);
        if beta == -0.5 {
            for (a, &ua) in u.iter().enumerate() {
                let inv = (c2 + ua).recip();
                let phi = inv.sqrt();
                let d1 = beta * phi * inv;
                f(a, [phi, d1, (beta - 1.0) * d1 * inv]);
            }
        } else {
            for (a, &ua) in u.iter().enumerate() {
                f(a, self.profile(ua));
            }
        }
        true
    }
}

impl Imq {
    #[inline]
    fn profile(&self, u: f64) -> [f64; 3] {
        let base = self.c * self.c + u;
        // One division and (for the default β = −½) one square root per pair.
        let inv = base.recip();
        let phi = if self.beta == -0.5 {
            inv.sqrt()
        } else {
            base.powf(self.beta)
        };
        let d1 = self.beta * phi * inv;
        let d2 = (self.beta - 1.0) * d1 * inv;
        [phi, d1, d2]
    }
}

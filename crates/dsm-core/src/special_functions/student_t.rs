//! The standard Student-t distribution in log space: density, score, survival function,
//! CDF and quantile, accurate for every ν > 0 and every finite z (docs/math.md section 10).

use std::f64::consts::{LN_2, PI};

use super::gamma::ln_gamma_half_ratio_excess;
use super::normal::{HALF_LN_2PI, log_erfcx, ndtri_log};
use crate::error::{Error, Result, positive};

/// b = ½, the second argument of the incomplete beta function behind the Student-t.
const B: f64 = 0.5;

/// From this a = ν/2 on, the central region (z² < ν) uses the large-a expansion (BGRAT).
const LARGE_A_FROM: f64 = 15.0;

/// Below this ln((ν+1) z²/(2ν)), sf = ½ − f(0)·z to the last bit (the next term is
/// f(0)·z·(ν+1)z²/(6ν)).
const TINY_LN_CORRECTION: f64 = -40.0;

/// Iteration limits: the power series converges at least like 2⁻ⁿ, the continued fraction
/// (a < 15) in a few dozen steps, the large-a expansion like 0.12ⁿ.
const SERIES_MAX_TERMS: usize = 200;
const FRACTION_MAX_ITERATIONS: usize = 2_000;
const LARGE_A_TERMS: usize = 30;
const QUANTILE_MAX_ITERATIONS: usize = 300;

/// The central region z f(0) ≤ 0.2 of [`StudentTFunctions::central`] (δ ≤ 0.2 there), and
/// the largest δ its quantile accepts (so that the Newton iterates stay inside).
const CENTRAL_LIMIT: f64 = 0.2;
const CENTRAL_QUANTILE_LIMIT: f64 = 0.19;

/// Relative size at which a series term is negligible.
const SERIES_TOL: f64 = 1e-17;

/// The upper tail of the standard Student-t at z ≥ 0, in log space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudentTTail {
    /// log sf(z) = log P(T > z).
    pub log_sf: f64,
    /// log(sf(z) / f(z)), the log of the inverse hazard, computed without forming either
    /// (both are below 1e-308 far in the tails, and their logs cancel for large ν).
    pub log_sf_over_pdf: f64,
}

/// The standard Student-t with ν degrees of freedom (location 0, scale 1), with its constants
/// (ln Γ ratios) computed once, at construction.
///
/// ```text
/// f(z)   = exp(E(ν/2) − ½ ln 2π − ((ν+1)/2) ln(1 + z²/ν))          (eq. 10.1)
/// sf(z)  = ½ I_x(ν/2, ½),   x = ν/(ν + z²),   z ≥ 0                   (eq. 10.3)
/// ```
/// with E the gamma-ratio excess of [`ln_gamma_half_ratio_excess`] (eq. 10.2). The
/// incomplete beta function I_x is evaluated, all in log space, by
/// * its power series in x where x ≤ ½ (z² ≥ ν; terms fall at least like 2⁻ⁿ);
/// * the continued fraction (modified Lentz) where x > ½ and ν < 30;
/// * the large-a expansion of DiDonato & Morris (BGRAT, in incomplete gamma functions of
///   b = ½, i.e. erfcx) where x > ½ and ν ≥ 30: this is the path that tends to the normal as
///   ν → ∞ (at ν = 10³⁰⁰ it returns Φ̄(z)).
///
/// ln(z²/ν) is formed as 2 ln z − ln ν where z² would overflow, so every finite z works.
///
/// # Examples
/// ```
/// use dsm_core::special_functions::StudentTFunctions;
/// let t = StudentTFunctions::new(3.0)?;
/// // mpmath: log(1 − F₃(40)) = −10.971162936870326005…
/// assert!((t.log_sf(40.0)? + 10.971_162_936_870_326).abs() < 1e-13);
/// let z = t.quantile_log_sf(t.log_sf(40.0)?)?;
/// assert!((z / 40.0 - 1.0).abs() < 1e-13);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudentTFunctions {
    nu: f64,
    a: f64,
    ln_nu: f64,
    /// log f(0) = E(ν/2) − ½ ln 2π.
    log_pdf_at_zero: f64,
    /// ln B(ν/2, ½) = ½ ln π − ½ ln(ν/2) − E(ν/2).
    ln_beta: f64,
}

/// r = z²/ν (+∞ where it would overflow), ln r and ln(1 + r), for z ≥ 0, without overflow.
#[inline]
fn log_ratio_terms(z: f64, nu: f64, ln_nu: f64) -> (f64, f64, f64) {
    let q = z / nu.sqrt();
    if q < 1e150 {
        let r = q * q;
        (r, r.ln(), r.ln_1p())
    } else {
        let ln_r = 2.0 * z.ln() - ln_nu;
        (f64::INFINITY, ln_r, ln_r + (-ln_r).exp().ln_1p())
    }
}

impl StudentTFunctions {
    /// The functions of the standard Student-t with `dof` = ν degrees of freedom.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for ν not finite or below `f64::MIN_POSITIVE` (the
    /// smallest normal number; ν/2 must not underflow).
    pub fn new(dof: f64) -> Result<Self> {
        positive("StudentTFunctions", "dof", dof)?;
        if dof < f64::MIN_POSITIVE {
            return Err(Error::InvalidParameter {
                owner: "StudentTFunctions",
                name: "dof",
                value: dof,
                constraint: ">= f64::MIN_POSITIVE (2.2e-308)",
            });
        }
        let a = 0.5 * dof;
        let excess = ln_gamma_half_ratio_excess(a);
        Ok(Self {
            nu: dof,
            a,
            ln_nu: dof.ln(),
            log_pdf_at_zero: excess - HALF_LN_2PI,
            ln_beta: 0.5 * PI.ln() - 0.5 * a.ln() - excess,
        })
    }

    /// The degrees of freedom ν.
    pub fn dof(&self) -> f64 {
        self.nu
    }

    /// log f(0), the log-density at the centre.
    pub fn log_pdf_at_zero(&self) -> f64 {
        self.log_pdf_at_zero
    }

    /// log f(z), for any z (−∞ only for z = ±∞).
    pub fn log_pdf(&self, z: f64) -> f64 {
        let (_, _, ln1p_r) = log_ratio_terms(z.abs(), self.nu, self.ln_nu);
        self.log_pdf_at_zero - (self.a + 0.5) * ln1p_r
    }

    /// The score d/dz log f(z) = −(ν + 1) z / (ν + z²), without overflow for any z.
    pub fn score(&self, z: f64) -> f64 {
        if z.abs() <= 1.0 {
            -(self.nu + 1.0) * z / (self.nu + z * z)
        } else {
            -(self.nu + 1.0) / (self.nu / z + z)
        }
    }

    /// The derivative of the score, −(ν + 1)(ν − z²) / (ν + z²)², without overflow.
    pub fn score_derivative(&self, z: f64) -> f64 {
        if z.abs() <= 1.0 {
            let t = self.nu + z * z;
            -((self.nu + 1.0) / t) * ((self.nu - z * z) / t)
        } else {
            // Divide through by z⁴: w = 1/z.
            let w = 1.0 / z;
            let t = self.nu * w * w + 1.0;
            -((self.nu + 1.0) / t) * ((self.nu * w * w - 1.0) / t) * (w * w)
        }
    }

    /// log sf(z) = log P(T > z), for any z (z < 0 through log(1 − sf(−z))).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for NaN; [`Error::NotConverged`] if a series fails to
    /// converge (not observed).
    pub fn log_sf(&self, z: f64) -> Result<f64> {
        if z >= 0.0 {
            Ok(self.upper_tail(z)?.log_sf)
        } else {
            self.log_cdf(-z)
        }
    }

    /// log F(z) = log P(T ≤ z), for any z.
    ///
    /// # Errors
    /// As [`StudentTFunctions::log_sf`].
    pub fn log_cdf(&self, z: f64) -> Result<f64> {
        if z <= 0.0 {
            Ok(self.upper_tail(-z)?.log_sf)
        } else {
            Ok((-self.upper_tail(z)?.log_sf.exp()).ln_1p())
        }
    }

    /// The upper tail at z ≥ 0: log sf(z) and log(sf(z)/f(z)).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for z < 0 or NaN; [`Error::NotConverged`] if a series
    /// fails to converge (not observed).
    pub fn upper_tail(&self, z: f64) -> Result<StudentTTail> {
        if !(z >= 0.0) {
            return Err(Error::InvalidParameter {
                owner: "StudentTFunctions::upper_tail",
                name: "z",
                value: z,
                constraint: ">= 0 (the upper tail)",
            });
        }
        if z == f64::INFINITY {
            return Ok(StudentTTail {
                log_sf: f64::NEG_INFINITY,
                log_sf_over_pdf: f64::INFINITY,
            });
        }
        let (nu, a) = (self.nu, self.a);
        let (r, ln_r, ln1p_r) = log_ratio_terms(z, nu, self.ln_nu);
        let log_pdf = self.log_pdf_at_zero - (a + 0.5) * ln1p_r;
        let ln_x = -ln1p_r; // x = ν/(ν + z²)
        let from_log_sf = |log_sf: f64| StudentTTail {
            log_sf,
            log_sf_over_pdf: log_sf - log_pdf,
        };
        if z == 0.0 || (a + 0.5).ln() + ln_r < TINY_LN_CORRECTION {
            // sf = ½ − f(0) z (1 + O((ν+1) z²/ν)).
            let log_sf = -LN_2 + (-2.0 * self.log_pdf_at_zero.exp() * z).ln_1p();
            return Ok(from_log_sf(log_sf));
        }
        if ln_x <= -LN_2 {
            // x ≤ ½: I_x(a, ½) = xᵃ(1−x)^½ / (a B) · S, and sf/f = z S / ν exactly.
            let s = self.power_series(ln_x.exp())?;
            let log_sf_over_pdf = self.ln_z_over_nu(z) + s.ln();
            return Ok(StudentTTail {
                log_sf: log_sf_over_pdf + log_pdf,
                log_sf_over_pdf,
            });
        }
        if a >= LARGE_A_FROM {
            // ν ln(1 + r) = z² · ln(1 + r)/r, without the cancellation of ln ν + ln ln(1 + r).
            let nu_ln1p_r = z * z * (ln1p_r / r);
            let log_sf_over_pdf = self.large_a_log_ratio(ln_x, ln1p_r, nu_ln1p_r)?;
            return Ok(StudentTTail {
                log_sf: log_sf_over_pdf + log_pdf,
                log_sf_over_pdf,
            });
        }
        // x > ½ and a < 15: the continued fraction on the side where it converges fast.
        let (x, y) = (1.0 / (1.0 + r), r / (1.0 + r));
        if x < (a + 1.0) / (a + B + 2.0) {
            let c = continued_fraction(a, B, x)?;
            let log_sf_over_pdf = self.ln_z_over_nu(z) + c.ln();
            Ok(StudentTTail {
                log_sf: log_sf_over_pdf + log_pdf,
                log_sf_over_pdf,
            })
        } else {
            // I_x(a, b) = 1 − I_y(b, a); here sf ≥ ¼ or so, so the complement is benign.
            let c = continued_fraction(B, a, y)?;
            let ln_y = ln_r + ln_x;
            let i_y = (B * ln_y + a * ln_x - B.ln() - self.ln_beta).exp() * c;
            Ok(from_log_sf((0.5 * (1.0 - i_y)).ln()))
        }
    }

    /// ln(z/ν), from the quotient where it is a normal number.
    fn ln_z_over_nu(&self, z: f64) -> f64 {
        let q = z / self.nu;
        if q.is_normal() {
            q.ln()
        } else {
            z.ln() - self.ln_nu
        }
    }

    /// The central probability δ(z) = F(z) − ½ for z ≥ 0, to a few ulp relative (also for tiny
    /// z, where ½ − sf(z) would cancel), for the central region z f(0) ≤ 0.2 (|T| < ½ for the
    /// Gaussian flow), y ≤ ½ and (a + ½) y ≤ ¾, where its series converges at least like 2⁻ⁿ:
    ///
    /// ```text
    /// δ(z) = ½ I_y(½, ν/2) = z f(z) Σₙ (a + ½)ₙ / (3/2)ₙ yⁿ,   y = z²/(ν + z²)   (eq. 10.6)
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for z outside the central region or NaN;
    /// [`Error::NotConverged`] if the series does not converge (not observed).
    pub fn central(&self, z: f64) -> Result<f64> {
        if !self.is_central(z) {
            return Err(Error::InvalidParameter {
                owner: "StudentTFunctions::central",
                name: "z",
                value: z,
                constraint: "in the central region (z f(0) <= 0.2, z^2/(nu + z^2) <= 1/2)",
            });
        }
        if z == 0.0 {
            return Ok(0.0);
        }
        let (r, _, ln1p_r) = log_ratio_terms(z, self.nu, self.ln_nu);
        let y = r / (1.0 + r);
        let a = self.a;
        let (mut term, mut sum) = (1.0, 1.0);
        for n in 0..SERIES_MAX_TERMS {
            let nf = n as f64;
            term *= (a + B + nf) / (1.5 + nf) * y;
            sum += term;
            if term <= SERIES_TOL * sum {
                let log_pdf = self.log_pdf_at_zero - (a + 0.5) * ln1p_r;
                return Ok(z * log_pdf.exp() * sum);
            }
        }
        Err(Error::NotConverged {
            what: "Student-t central series",
            iterations: SERIES_MAX_TERMS,
        })
    }

    /// Whether z ≥ 0 lies in the central region of [`StudentTFunctions::central`].
    pub fn is_central(&self, z: f64) -> bool {
        if !(z >= 0.0 && z * self.log_pdf_at_zero.exp() <= CENTRAL_LIMIT) {
            return false;
        }
        let (r, _, _) = log_ratio_terms(z, self.nu, self.ln_nu);
        let y = r / (1.0 + r);
        y <= 0.5 && (self.a + B) * y <= 0.75
    }

    /// The z ≥ 0 with F(z) − ½ = δ, for 0 ≤ δ ≤ 0.19, by Newton's method from z₀ = δ/f(0)
    /// (monotone: δ(z) is concave for z ≥ 0), as long as the iterates stay in the central
    /// region; use [`StudentTFunctions::quantile_log_sf`] when this returns an error.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for δ outside [0, 0.19] or NaN; [`Error::InverseFailed`] if
    /// an iterate leaves the central region or Newton's method does not settle.
    pub fn quantile_central(&self, delta: f64) -> Result<f64> {
        if !(0.0..=CENTRAL_QUANTILE_LIMIT).contains(&delta) {
            return Err(Error::InvalidParameter {
                owner: "StudentTFunctions::quantile_central",
                name: "delta",
                value: delta,
                constraint: "in [0, 0.19]",
            });
        }
        let mut z = delta / self.log_pdf_at_zero.exp();
        for iteration in 0..QUANTILE_MAX_ITERATIONS {
            let residual = self.central(z)? - delta;
            let step = residual / self.log_pdf(z).exp();
            z -= step;
            if step.abs() <= 2.0 * f64::EPSILON * z || z == 0.0 {
                return Ok(z);
            }
            if !z.is_finite() || !self.is_central(z) {
                return Err(Error::InverseFailed {
                    index: 0,
                    iterations: iteration + 1,
                });
            }
        }
        Err(Error::InverseFailed {
            index: 0,
            iterations: QUANTILE_MAX_ITERATIONS,
        })
    }

    /// S = Σₙ (a + ½)ₙ / (a + 1)ₙ xⁿ for x ≤ ½ (the ratio of terms is below x).
    fn power_series(&self, x: f64) -> Result<f64> {
        let a = self.a;
        let (mut term, mut sum) = (1.0, 1.0);
        for n in 0..SERIES_MAX_TERMS {
            let nf = n as f64;
            term *= (a + B + nf) / (a + 1.0 + nf) * x;
            sum += term;
            if term <= SERIES_TOL * sum {
                return Ok(sum);
            }
        }
        Err(Error::NotConverged {
            what: "Student-t tail series",
            iterations: SERIES_MAX_TERMS,
        })
    }

    /// log(sf/f) for x > ½ and a ≥ 15, by the large-a expansion of I_x(a, b) (DiDonato &
    /// Morris 1992, eq. 9; b = ½):
    ///
    /// ```text
    /// t = a − ¼,  u = −t ln x,  I_x(a, b) = Γ(a+b)/(Γ(a) tᵇ) · uᵇe⁻ᵘ/Γ(b) · Σₙ pₙ Jₙ
    /// J₀ = Q(b, u) eᵘ Γ(b)/uᵇ = √π erfcx(√u)/√u,
    /// Jₙ = ((b+2n−2)(b+2n−1) Jₙ₋₁ + (u + b + 2n − 1)(ln x / 2)^{2n−2}) / (4t²)
    /// pₙ = (b−1)/(2n+1)! + (1/n) Σ_{m=1}^{n−1} (m b − n) pₙ₋ₘ / (2m+1)!
    /// log(sf/f) = −ln 2 + ½ ln(ν ln(1 + z²/ν)) − ¾ ln x + ln Σₙ pₙ Jₙ   (eq. 10.5)
    /// ```
    /// (the Γ ratios and the powers of x cancel between sf and f).
    fn large_a_log_ratio(&self, ln_x: f64, ln1p_r: f64, nu_ln1p_r: f64) -> Result<f64> {
        let t = self.a - 0.25;
        let u = t * ln1p_r;
        let root_u = u.sqrt();
        let j0 = (0.5 * PI.ln() + log_erfcx(root_u)).exp() / root_u;
        let mut p = [0.0f64; LARGE_A_TERMS];
        p[0] = 1.0;
        let mut factorials = [1.0f64; 2 * LARGE_A_TERMS + 2]; // (2m+1)! at index m
        let mut fact = 1.0;
        for (m, slot) in factorials.iter_mut().enumerate() {
            if m > 0 {
                fact *= (2 * m) as f64 * (2 * m + 1) as f64;
            }
            *slot = fact;
        }
        let lx2 = (0.5 * ln_x) * (0.5 * ln_x);
        let t4 = 4.0 * t * t;
        let mut j = j0;
        let mut lxp = 1.0;
        let mut b2n = B;
        let mut sum = j0;
        for n in 1..LARGE_A_TERMS {
            let mut pn = 0.0;
            for m in 1..n {
                pn += (m as f64 * B - n as f64) * p[n - m] / factorials[m];
            }
            pn = pn / n as f64 + (B - 1.0) / factorials[n];
            p[n] = pn;
            j = (b2n * (b2n + 1.0) * j + (u + b2n + 1.0) * lxp) / t4;
            lxp *= lx2;
            b2n += 2.0;
            let term = pn * j;
            sum += term;
            if term.abs() <= SERIES_TOL * sum.abs() {
                return Ok(-LN_2 + 0.5 * nu_ln1p_r.ln() - 0.75 * ln_x + sum.ln());
            }
        }
        Err(Error::NotConverged {
            what: "Student-t large-dof expansion",
            iterations: LARGE_A_TERMS,
        })
    }

    /// The z ≥ 0 with log sf(z) = `log_sf` (log sf ≤ −ln 2), by Newton's method on ln z,
    /// safeguarded by a bracket. Where no finite z has that tail probability (log sf below
    /// log sf(f64::MAX)) it is an error, never a clamp.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for log sf > −ln 2 or NaN; [`Error::InverseFailed`] when no
    /// finite z has that tail probability or the iteration does not settle.
    pub fn quantile_log_sf(&self, log_sf: f64) -> Result<f64> {
        let half = -LN_2;
        if !(log_sf <= half) {
            return Err(Error::InvalidParameter {
                owner: "StudentTFunctions::quantile_log_sf",
                name: "log_sf",
                value: log_sf,
                constraint: "<= -ln 2 (the upper tail)",
            });
        }
        let failed = |iterations| Error::InverseFailed {
            index: 0,
            iterations,
        };
        if log_sf == half {
            return Ok(0.0);
        }
        if log_sf == f64::NEG_INFINITY {
            return Err(failed(0));
        }
        // The distance from the centre, ½ − sf, where it is small: z ≈ (½ − sf)/f(0).
        let centre = -0.5 * (log_sf + LN_2).exp_m1();
        let f0 = self.log_pdf_at_zero.exp();
        let guess = if centre < 1e-3 {
            centre / f0
        } else {
            // Heavier than the normal: start from the larger of the normal quantile and the
            // power-law tail sf ≈ f(z) z/ν ≈ f(0) ν^{(ν−1)/2} z^{−ν}.
            let normal = -ndtri_log(log_sf).unwrap_or(0.0);
            let power_law = ((self.log_pdf_at_zero + 0.5 * (self.nu - 1.0) * self.ln_nu - log_sf)
                / self.nu)
                .min(709.0)
                .exp();
            normal.max(power_law).max(1e-300)
        };
        // g(w) = log sf(eʷ) − target, decreasing in w.
        let g = |w: f64| -> Result<(f64, f64)> {
            let tail = self.upper_tail(w.exp())?;
            // dg/dw = −z f/sf.
            Ok((tail.log_sf - log_sf, -(w - tail.log_sf_over_pdf).exp()))
        };
        let (w_min, w_max) = (f64::MIN_POSITIVE.ln(), f64::MAX.ln());
        let mut w = guess.ln().clamp(w_min, w_max);
        let (gw, _) = g(w)?;
        if gw == 0.0 {
            return Ok(w.exp());
        }
        // Bracket by stepping away from the guess with doubling steps.
        let mut step = 0.5;
        let mut iterations = 0;
        let (mut lo, mut hi);
        if gw > 0.0 {
            lo = w;
            loop {
                let next = (lo + step).min(w_max);
                let (gn, _) = g(next)?;
                iterations += 1;
                if gn <= 0.0 {
                    hi = next;
                    break;
                }
                if next >= w_max {
                    // Even z = f64::MAX has a larger tail: y is outside the range of T.
                    return Err(failed(iterations));
                }
                lo = next;
                step *= 2.0;
            }
        } else {
            hi = w;
            loop {
                let next = (hi - step).max(w_min);
                let (gn, _) = g(next)?;
                iterations += 1;
                if gn >= 0.0 {
                    lo = next;
                    break;
                }
                if next <= w_min {
                    return Ok(f64::MIN_POSITIVE);
                }
                hi = next;
                step *= 2.0;
            }
        }
        w = 0.5 * (lo + hi);
        let mut previous = f64::INFINITY;
        for _ in 0..QUANTILE_MAX_ITERATIONS {
            iterations += 1;
            let (gw, slope) = g(w)?;
            if gw == 0.0 {
                return Ok(w.exp());
            }
            if gw > 0.0 {
                lo = w;
            } else {
                hi = w;
            }
            let newton = w - gw / slope;
            let next = if newton > lo && newton < hi {
                newton
            } else {
                0.5 * (lo + hi)
            };
            let size = (next - w).abs();
            let scale = w.abs().max(1.0);
            w = next;
            if size <= 2.0 * f64::EPSILON * scale
                || hi - lo <= 2.0 * f64::EPSILON * scale
                || (size <= 1e-13 * scale && size >= 0.5 * previous)
            {
                return Ok(w.exp());
            }
            previous = size;
        }
        Err(failed(iterations))
    }

    /// ln Γ helper kept for tests of the constants: ln B(ν/2, ½).
    pub fn ln_beta(&self) -> f64 {
        self.ln_beta
    }
}

/// The continued fraction of I_x(a, b) (modified Lentz): I_x(a, b) = xᵃ(1−x)ᵇ/(a B(a,b)) · C,
/// for x < (a + 1)/(a + b + 2).
pub(super) fn continued_fraction(a: f64, b: f64, x: f64) -> Result<f64> {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=FRACTION_MAX_ITERATIONS {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() <= 2.0 * f64::EPSILON {
            return Ok(h);
        }
    }
    Err(Error::NotConverged {
        what: "incomplete beta continued fraction",
        iterations: FRACTION_MAX_ITERATIONS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three paths agree where they overlap (ν = 30 … 200, z² < ν): the continued
    /// fraction evaluated directly against the large-a expansion.
    #[test]
    fn large_a_expansion_matches_continued_fraction() {
        for nu in [30.0, 31.0, 60.0, 200.0] {
            let t = StudentTFunctions::new(nu).unwrap();
            for z in [0.01, 0.3, 1.0, 2.5, 4.0] {
                if z * z >= nu {
                    continue;
                }
                let (r, _, ln1p_r) = log_ratio_terms(z, nu, t.ln_nu);
                let x = 1.0 / (1.0 + r);
                let by_expansion = t.large_a_log_ratio(-ln1p_r, ln1p_r, nu * ln1p_r).unwrap();
                if x < (t.a + 1.0) / (t.a + B + 2.0) {
                    let c = continued_fraction(t.a, B, x).unwrap();
                    let by_fraction = t.ln_z_over_nu(z) + c.ln();
                    assert!(
                        (by_expansion - by_fraction).abs() < 1e-13,
                        "nu {nu} z {z}: {by_expansion} vs {by_fraction}"
                    );
                }
            }
        }
    }
}

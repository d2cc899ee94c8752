//! Test oracles shared by every implementation: central finite differences.
//!
//! These exist **only** to check exact derivatives in tests (the library itself never
//! differentiates numerically). Step sizes follow docs/math.md section 9: h ≈ 1e-5 for first
//! derivatives, 1e-4 for second derivatives.

use crate::density::{LogDensity, Score};
use crate::diffusion::Diffusion;

/// Central-difference gradient of log p at x with step `h`.
pub fn finite_difference_score<P: LogDensity + ?Sized>(p: &P, x: &[f64], h: f64) -> Vec<f64> {
    let mut xp = x.to_vec();
    (0..x.len())
        .map(|i| {
            xp[i] = x[i] + h;
            let up = p.log_density(&xp);
            xp[i] = x[i] - h;
            let down = p.log_density(&xp);
            xp[i] = x[i];
            (up - down) / (2.0 * h)
        })
        .collect()
}

/// Central-difference Hessian of log p at x (row-major), from differences of the score.
pub fn finite_difference_hessian<P: Score + ?Sized>(p: &P, x: &[f64], h: f64) -> Vec<f64> {
    let d = x.len();
    let mut out = vec![0.0; d * d];
    let mut xp = x.to_vec();
    let (mut up, mut down) = (vec![0.0; d], vec![0.0; d]);
    for j in 0..d {
        xp[j] = x[j] + h;
        p.score_into(&xp, &mut up);
        xp[j] = x[j] - h;
        p.score_into(&xp, &mut down);
        xp[j] = x[j];
        for i in 0..d {
            out[i * d + j] = (up[i] - down[i]) / (2.0 * h);
        }
    }
    out
}

/// Central-difference gradient of a diffusion, laid out as [`Diffusion::matrix_gradient_into`].
pub fn finite_difference_diffusion_gradient<M: Diffusion + ?Sized>(
    m: &M,
    x: &[f64],
    h: f64,
) -> Vec<f64> {
    let d = x.len();
    let mut out = vec![0.0; d * d * d];
    let mut xp = x.to_vec();
    let (mut up, mut down) = (vec![0.0; d * d], vec![0.0; d * d]);
    for i in 0..d {
        xp[i] = x[i] + h;
        m.matrix_into(&xp, &mut up).expect("diffusion at x + h");
        xp[i] = x[i] - h;
        m.matrix_into(&xp, &mut down).expect("diffusion at x - h");
        xp[i] = x[i];
        for jk in 0..d * d {
            out[i * d * d + jk] = (up[jk] - down[jk]) / (2.0 * h);
        }
    }
    out
}

/// `|a − b| ≤ atol + rtol · max(|a|, |b|)`.
pub fn close(a: f64, b: f64, rtol: f64, atol: f64) -> bool {
    (a - b).abs() <= atol + rtol * a.abs().max(b.abs())
}

/// Element-wise [`close`] with the absolute tolerance scaled by the largest magnitude (≥ 1).
pub fn all_close(a: &[f64], b: &[f64], rtol: f64) -> bool {
    let scale = a.iter().chain(b).fold(1.0f64, |m, v| m.max(v.abs()));
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| close(*x, *y, rtol, rtol * scale))
}

/// Tolerances used by the test suites, in one place.
pub mod tol {
    /// Autodiff against closed forms (both exact; rounding only).
    pub const EXACT_REL: f64 = 1e-12;
    /// [`crate::Scalar::lift`] against num-dual's own elementary function on the same dual:
    /// the same chain rule, so the two differ by a few roundings (relative to the largest
    /// part of the dual number).
    pub const LIFT_REL: f64 = 1e-15;
    /// Central differences (h = 1e-5 / 1e-4) against exact derivatives.
    pub const FINITE_DIFF_REL: f64 = 1e-6;
    /// Quadrature identities (Simpson on the sinh map, thousands of nodes).
    pub const QUADRATURE_REL: f64 = 1e-9;
    /// Monte Carlo estimates against closed forms: this many standard errors.
    pub const MC_SIGMAS: f64 = 4.0;
}

/// Exact binomial(n, p) central interval, for calibration tests of level-α tests (the
/// rejections of n seeded replications must fall inside it): the smallest lo and largest hi with
/// P(X < lo) ≤ (1 − conf)/2 and P(X > hi) ≤ (1 − conf)/2.
pub fn binomial_interval(n: u64, p: f64, conf: f64) -> (u64, u64) {
    let ln_choose = |k: u64| -> f64 { (1..=k).map(|i| ((n - k + i) as f64 / i as f64).ln()).sum() };
    let pmf: Vec<f64> = (0..=n)
        .map(|k| (ln_choose(k) + k as f64 * p.ln() + (n - k) as f64 * (1.0 - p).ln()).exp())
        .collect();
    let tail = (1.0 - conf) / 2.0;
    let mut lo = 0;
    let mut acc = 0.0;
    while acc + pmf[lo as usize] <= tail {
        acc += pmf[lo as usize];
        lo += 1;
    }
    let mut hi = n;
    acc = 0.0;
    while acc + pmf[hi as usize] <= tail {
        acc += pmf[hi as usize];
        hi -= 1;
    }
    (lo, hi)
}

//! Test fixtures shared by the dsm-core integration tests.

use dsm_core::{GenericDiffusion, Scalar};

/// A non-constant, non-symmetric 3-D diffusion written once over the scalar type:
/// m_jk(x) = B_jk + ¼ sin(0.3 x_k + 0.1 x_j) + 0.05 x_j x_k.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub struct Twisted;

impl GenericDiffusion for Twisted {
    fn dim(&self) -> usize {
        3
    }
    fn matrix_generic<D: Scalar>(&self, x: &[D], m: &mut [D]) {
        for j in 0..3 {
            for k in 0..3 {
                let base = if j == k {
                    1.5
                } else {
                    0.2 * (j as f64 - k as f64)
                };
                m[j * 3 + k] =
                    D::from(base) + (x[k] * 0.3 + x[j] * 0.1).sin() * 0.25 + x[j] * x[k] * 0.05;
            }
        }
    }
}

/// The value of `name` in a committed `name,value` CSV (header line skipped).
#[allow(dead_code)] // not every test binary that includes this module reads a table
pub fn table_value(table: &str, name: &str) -> f64 {
    table
        .lines()
        .skip(1)
        .find_map(|l| {
            l.split_once(',')
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| v.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no reference value {name}"))
}

/// Exact binomial(n, p) central interval: the smallest lo and largest hi with
/// P(X < lo) ≤ (1 − conf)/2 and P(X > hi) ≤ (1 − conf)/2.
#[allow(dead_code)]
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

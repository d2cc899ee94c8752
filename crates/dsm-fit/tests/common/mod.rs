//! Shared by the dsm-fit tests: a test family and the central-difference oracle.
#![allow(dead_code)]

use dsm_core::*;
use dsm_fit::*;

/// A two-dimensional family with a base measure and cross terms: t = (x₁, x₂², x₁x₂, sin x₁),
/// b(x) = −(x₁⁴ + x₂⁴)/4.
pub struct Quartic;

impl SufficientStatistic for Quartic {
    fn dim(&self) -> usize {
        2
    }
    fn n_params(&self) -> usize {
        4
    }
    fn statistic_generic<D: Scalar>(&self, x: &[D], t: &mut [D]) {
        t[0] = x[0];
        t[1] = x[1] * x[1];
        t[2] = x[0] * x[1];
        t[3] = x[0].sin();
    }
    fn base_generic<D: Scalar>(&self, x: &[D]) -> D {
        -(x[0].powi(4) + x[1].powi(4)) / 4.0
    }
}

pub fn sample_mean_and_biased_covariance(xs: &Samples) -> (Vec<f64>, Vec<f64>) {
    let (n, d) = (xs.n(), xs.dim());
    let mut mean = vec![0.0; d];
    for i in 0..n {
        for (m, v) in mean.iter_mut().zip(xs.row(i)) {
            *m += v / n as f64;
        }
    }
    let mut cov = vec![0.0; d * d];
    for i in 0..n {
        let r = xs.row(i);
        for a in 0..d {
            for b in 0..d {
                cov[a * d + b] += (r[a] - mean[a]) * (r[b] - mean[b]) / n as f64;
            }
        }
    }
    (mean, cov)
}

/// Fourth-order central differences of `loss` in θ (test oracle only).
pub fn central_differences(theta: &[f64], loss: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    (0..theta.len())
        .map(|k| {
            let h = 1e-5 * theta[k].abs().max(1.0);
            let at = |s: f64| {
                let mut t = theta.to_vec();
                t[k] += s;
                loss(&t)
            };
            (-at(2.0 * h) + 8.0 * at(h) - 8.0 * at(-h) + at(-2.0 * h)) / (12.0 * h)
        })
        .collect()
}

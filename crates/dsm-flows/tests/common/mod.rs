//! Random flows for the property tests: every built-in layer in every branch of its
//! parameter space, alone and chained. Shared by this crate's `tests/layer_properties.rs`
//! and the workspace's `tests/theorems_flows.rs` (included there by path), so that one
//! strategy drives both.

#![allow(dead_code)]

use dsm_flows::*;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

/// 256 cases from a fixed seed, so that CI is deterministic; set `DSM_PROPTEST_SEED` to
/// explore other random instances locally.
pub fn config() -> ProptestConfig {
    let seed = std::env::var("DSM_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_2021);
    ProptestConfig {
        cases: 256,
        rng_seed: RngSeed::Fixed(seed),
        ..ProptestConfig::default()
    }
}

/// Numbers in [−1, 1] that a case turns into layer parameters.
pub fn params() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-1.0..1.0f64, 200)
}

/// Builds layer `kind` in dimension d from the parameters (consumed from `p`).
pub fn layer(kind: u8, d: usize, p: &mut impl Iterator<Item = f64>) -> Layer {
    let mut take = |n: usize| -> Vec<f64> { (0..n).map(|_| p.next().unwrap()).collect() };
    match kind {
        0 => {
            // A = 1.5 I + 0.2 P/√d: ‖0.2 P/√d‖₂ ≤ 0.2√d < 1.5, so A is invertible.
            let pm = take(d * d);
            let a = (0..d * d)
                .map(|k| 0.2 * pm[k] / (d as f64).sqrt() + if k / d == k % d { 1.5 } else { 0.0 })
                .collect();
            Layer::from(Affine::new(d, a, take(d)).unwrap())
        }
        1 | 2 => {
            let (mut u, w, b) = (take(d), take(d), take(1)[0]);
            let w2: f64 = w.iter().map(|v| v * v).sum::<f64>().max(1e-3);
            let wu: f64 = w.iter().zip(&u).map(|(a, b)| a * b).sum();
            // kind 2: wᵀu within 1e-3 of the invertibility boundary −1.
            let target = if kind == 2 {
                -1.0 + 1e-3 * (1.5 + b)
            } else if wu < -0.9 {
                -0.9
            } else {
                wu
            };
            for (ui, wi) in u.iter_mut().zip(&w) {
                *ui += (target - wu) * wi / w2;
            }
            let w = if w2 <= 1e-3 { vec![0.1; d] } else { w };
            match Planar::new(u.clone(), w, b) {
                Ok(pl) => Layer::from(pl),
                Err(_) => Layer::from(Planar::new(vec![0.0; d], vec![1.0; d], b).unwrap()),
            }
        }
        3 | 4 => {
            let (c, q) = (take(d), take(2));
            let alpha = 0.2 + q[0].abs();
            // kind 4: β within 0.1% of −α (nearly singular at the centre).
            let beta = if kind == 4 {
                -alpha * (1.0 - 1e-3)
            } else {
                -alpha + 0.05 + 2.0 * q[1].abs()
            };
            Layer::from(Radial::new(c, alpha, beta).unwrap())
        }
        5 if d >= 2 => {
            let q = take(2);
            Layer::from(
                AffineCoupling::seeded(d, 4, q[0] > 0.0, 0.6, (q[1].abs() * 1e9) as u64).unwrap(),
            )
        }
        5 | 6 => {
            let maps = (0..d)
                .map(|_| {
                    let q = take(3);
                    GaussianFlow::new(q[0], 0.6 + q[1].abs(), 1.0 + 10.0 * q[2].abs()).unwrap()
                })
                .collect();
            Layer::from(Elementwise::new(maps).unwrap())
        }
        7 => {
            let maps = (0..d)
                .map(|_| {
                    let q = take(3);
                    ManualFlow::new(q[0], 0.5 + q[1].abs(), 1.0 + 10.0 * q[2].abs()).unwrap()
                })
                .collect();
            Layer::from(Elementwise::new(maps).unwrap())
        }
        _ => {
            let maps = (0..d)
                .map(|_| {
                    let q = take(2);
                    SinhArcsinh::new(0.5 * q[0], 0.6 + 0.8 * q[1].abs()).unwrap()
                })
                .collect();
            Layer::from(Elementwise::new(maps).unwrap())
        }
    }
}

/// A single random layer, or a chain of two or three.
pub fn flow(d: usize, kinds: &[u8], p: &[f64]) -> Chain<Layer> {
    let mut it = p.iter().copied().cycle();
    Chain::new(kinds.iter().map(|&k| layer(k, d, &mut it)).collect()).unwrap()
}

/// (d, layer kinds, parameters, point x, second point x′).
pub fn case() -> impl Strategy<Value = (usize, Vec<u8>, Vec<f64>, Vec<f64>, Vec<f64>)> {
    (1usize..=6).prop_flat_map(|d| {
        (
            Just(d),
            prop::collection::vec(0u8..9, 1..=3),
            params(),
            prop::collection::vec(-2.0..2.0f64, d),
            prop::collection::vec(-2.0..2.0f64, d),
        )
    })
}

pub fn jacobian(t: &impl Flow, x: &[f64]) -> Vec<f64> {
    let d = x.len();
    let mut j = vec![0.0; d * d];
    t.jacobian_into(x, &mut j);
    j
}

pub fn forward(t: &impl Flow, x: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    t.transform(x, &mut y);
    y
}

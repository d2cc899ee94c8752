//! Test fixtures shared by the dsm-core integration tests.

use dsm_core::{Diffusion, DiffusionFn, Gaussian, GenericDiffusion, Scalar};

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

/// The model of the KSD reference scripts (tests/reference/ksd_reference.py).
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn reference_model() -> Gaussian {
    Gaussian::new(
        vec![0.1, -0.2, 0.3],
        &[1.2, 0.3, 0.0, 0.3, 0.8, -0.1, 0.0, -0.1, 1.5],
    )
    .unwrap()
}

/// m_jk = δ_jk sqrt(1 + x_j²/5) + 0.1 C_jk, the diffusion of the reference scripts.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn reference_diffusion() -> impl Diffusion {
    const C: [f64; 9] = [0.0, 1.0, -0.5, 0.3, 0.0, 0.2, -0.4, 0.6, 0.0];
    DiffusionFn::new(
        3,
        |x: &[f64], m: &mut [f64]| {
            for j in 0..3 {
                for k in 0..3 {
                    m[j * 3 + k] = 0.1 * C[j * 3 + k]
                        + if j == k {
                            (1.0 + x[j] * x[j] / 5.0).sqrt()
                        } else {
                            0.0
                        };
                }
            }
        },
        |x: &[f64], dm: &mut [f64]| {
            dm.fill(0.0);
            for i in 0..3 {
                dm[(i * 3 + i) * 3 + i] = x[i] / (5.0 * (1.0 + x[i] * x[i] / 5.0).sqrt());
            }
        },
    )
}

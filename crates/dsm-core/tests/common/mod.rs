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

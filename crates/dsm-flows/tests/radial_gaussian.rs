//! The radial Gaussian flow of the multivariate Student-t (docs/math.md eq. 13.3) against
//! independent references: ρ(r) against mpmath at 50 digits (crates/dsm-core/tests/reference/
//! incomplete_reference.py); the pushforward of t_ν(μ, Σ) is N(0, I) per sample,
//! ln p(x) − ln |det ∇T(x)| = ln φ_d(T(x)), for d ∈ {1, 2, 5, 50}; d = 1 against the
//! one-dimensional Gaussian flow Φ⁻¹∘F_t; the closed-form log-determinant against the dual
//! Jacobian; ∂J against central differences of J (oracle); round trips.

use dsm_core::testing::close;
use dsm_core::*;
use dsm_flows::*;

const TABLE: &str = include_str!("../../dsm-core/tests/reference/radial_map.csv");

fn identity(d: usize) -> Vec<f64> {
    (0..d * d)
        .map(|i| if i % (d + 1) == 0 { 1.0 } else { 0.0 })
        .collect()
}

/// A scale matrix with correlations (AR(1)-like, ρ = 0.4, variances 0.5 … 2).
fn scale(d: usize) -> Vec<f64> {
    let mut s = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            let vi = 0.5 + 1.5 * i as f64 / d.max(2) as f64;
            let vj = 0.5 + 1.5 * j as f64 / d.max(2) as f64;
            s[i * d + j] = 0.4f64.powi((i as i32 - j as i32).abs()) * (vi * vj).sqrt();
        }
    }
    s
}

#[test]
fn the_radius_map_matches_mpmath() {
    let mut worst: f64 = 0.0;
    for line in TABLE.lines().skip(1) {
        let v: Vec<f64> = line.split(',').map(|s| s.parse().unwrap()).collect();
        let (d, nu, r, rho) = (v[0] as usize, v[1], v[2], v[3]);
        let t = MultivariateStudentT::new(vec![0.0; d], &identity(d), nu).unwrap();
        let flow = RadialGaussianFlow::new(&t).unwrap();
        let got = match flow.radius(r) {
            Ok(v) => v,
            Err(e) => panic!("d {d} ν {nu} r {r}: {e:?}"),
        };
        let rel = (got / rho - 1.0).abs();
        worst = worst.max(rel);
        assert!(rel < 1e-12, "d {d} ν {nu} r {r}: {got} vs {rho}");
    }
    eprintln!("worst relative error of ρ(r) against mpmath: {worst:.1e}");
}

#[test]
fn the_pushforward_of_the_multivariate_t_is_the_standard_normal_per_sample() {
    for d in [1usize, 2, 5, 50] {
        // ν = 1e3, 1e6: the ln Γ ratios without cancellation; ν = 1e16: the normal limit.
        for nu in [1.0, 5.0, 30.0, 1e3, 1e6, 1e16] {
            let location: Vec<f64> = (0..d).map(|i| 0.3 * i as f64 - 1.0).collect();
            let t = MultivariateStudentT::new(location, &scale(d), nu).unwrap();
            let flow = RadialGaussianFlow::new(&t).unwrap();
            let xs = t.sample_n(200, 11 + d as u64, Par::Seq).unwrap();
            for (i, x) in xs.rows().enumerate() {
                let (y, log_det) = flow.forward(x).unwrap();
                let lhs = t.log_density(x) - log_det;
                let rhs = -0.5 * y.iter().map(|v| v * v).sum::<f64>()
                    - 0.5 * d as f64 * (2.0 * std::f64::consts::PI).ln();
                assert!(
                    close(lhs, rhs, 1e-12, 1e-12),
                    "d {d} ν {nu} sample {i}: {lhs} vs {rhs}"
                );
                let (back, _) = flow.inverse(&y).unwrap_or_else(|e| {
                    panic!(
                        "d {d} ν {nu} sample {i}: {e:?} at r = {}",
                        y.iter().map(|v| v * v).sum::<f64>().sqrt()
                    )
                });
                for (a, b) in back.iter().zip(x) {
                    assert!(
                        close(*a, *b, 1e-9, 1e-9),
                        "d {d} ν {nu} sample {i}: round trip {a} vs {b}, y = {y:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn in_one_dimension_it_is_the_gaussian_flow() {
    for nu in [1.0, 3.0, 10.0] {
        let t = MultivariateStudentT::new(vec![0.5], &[4.0], nu).unwrap();
        let radial = RadialGaussianFlow::new(&t).unwrap();
        let oracle = GaussianFlow::new(0.5, 2.0, nu).unwrap();
        for x in [-300.0, -7.0, -1.0, 0.2, 0.5, 0.9, 3.0, 40.0, 1e6] {
            let (a, la) = radial.forward(&[x]).unwrap();
            let (b, lb) = oracle.forward(&[x]).unwrap();
            assert!(
                close(a[0], b[0], 1e-12, 1e-12),
                "ν {nu} x {x}: {} vs {}",
                a[0],
                b[0]
            );
            assert!(close(la, lb, 1e-11, 1e-11), "ν {nu} x {x}: log det");
        }
    }
}

/// The flow's transform alone, so that the Flow trait's dual-number Jacobians apply.
struct DualOnly<'a>(&'a RadialGaussianFlow);

impl Flow for DualOnly<'_> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        self.0.transform(x, y)
    }
    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        self.0.inverse_unchecked_into(y, x)
    }
}

#[test]
fn the_closed_form_jacobian_and_its_derivative_equal_the_dual_numbers() {
    for d in [1usize, 3, 7] {
        let t = MultivariateStudentT::new(vec![0.4; d], &scale(d), 3.0).unwrap();
        let flow = RadialGaussianFlow::new(&t).unwrap();
        let xs = t.sample_n(10, 9, Par::Seq).unwrap();
        for x in xs.rows() {
            let (mut a, mut b) = (vec![0.0; d * d], vec![0.0; d * d]);
            flow.jacobian_into(x, &mut a);
            DualOnly(&flow).jacobian_into(x, &mut b);
            for (u, v) in a.iter().zip(&b) {
                assert!(close(*u, *v, 1e-12, 1e-13), "d {d}: J {u} vs {v}");
            }
            let (mut a, mut b) = (vec![0.0; d * d * d], vec![0.0; d * d * d]);
            flow.jacobian_gradient_into(x, &mut a);
            DualOnly(&flow).jacobian_gradient_into(x, &mut b);
            for (u, v) in a.iter().zip(&b) {
                assert!(close(*u, *v, 1e-11, 1e-12), "d {d}: ∂J {u} vs {v}");
            }
        }
    }
}

#[test]
fn the_log_determinant_and_the_jacobian_derivatives_are_exact() {
    for d in [2usize, 5] {
        let t = MultivariateStudentT::new(vec![0.2; d], &scale(d), 4.0).unwrap();
        let flow = RadialGaussianFlow::new(&t).unwrap();
        let xs = t.sample_n(20, 5, Par::Seq).unwrap();
        for x in xs.rows() {
            let mut jac = vec![0.0; d * d];
            flow.jacobian_into(x, &mut jac);
            let reference = log_abs_det(&jac, d).unwrap();
            let log_det = flow.log_abs_det_jacobian(x).unwrap();
            assert!(
                close(log_det, reference, 1e-11, 1e-11),
                "{log_det} vs {reference}"
            );
            // ∂J against central differences of the exact J.
            let mut dj = vec![0.0; d * d * d];
            flow.jacobian_gradient_into(x, &mut dj);
            for k in 0..d {
                let h = 1e-5;
                let (mut up, mut down) = (x.to_vec(), x.to_vec());
                up[k] += h;
                down[k] -= h;
                let (mut jp, mut jm) = (vec![0.0; d * d], vec![0.0; d * d]);
                flow.jacobian_into(&up, &mut jp);
                flow.jacobian_into(&down, &mut jm);
                for ij in 0..d * d {
                    let fd = (jp[ij] - jm[ij]) / (2.0 * h);
                    let (a, b) = (ij / d, ij % d);
                    let exact = dj[(k * d + a) * d + b];
                    assert!(
                        (fd - exact).abs() < 1e-6 * (1.0 + exact.abs()),
                        "∂J[{ij}, {k}]: {exact} vs {fd}"
                    );
                }
            }
        }
    }
}

//! Proposition 3.2 (docs/math.md eq. 15 and N7) on Euler-discretised ODE flows: the Fisher
//! divergence along the flow computed directly (Theorem 3.1 for the time-t map) and by
//! integrating its rate, the closed form of the linear-Gaussian case, and first-order
//! convergence in the step h.

use dsm::core::quadrature::sinh_simpson;
use dsm::core::testing::close;
use dsm::core::*;
use dsm::flows::*;
use proptest::prelude::*;
mod common;
use common::config;

/// dx/dt = A x.
struct Linear {
    d: usize,
    a: Vec<f64>,
}
impl Drift for Linear {
    fn dim(&self) -> usize {
        self.d
    }
    fn drift<D: Scalar>(&self, x: &[D], _t: f64, out: &mut [D]) {
        for (j, o) in out.iter_mut().enumerate() {
            let mut acc = D::from(0.0);
            for (k, xk) in x.iter().enumerate() {
                acc += *xk * self.a[j * self.d + k];
            }
            *o = acc;
        }
    }
}

fn matmul(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    (0..d * d)
        .map(|k| (0..d).map(|l| a[(k / d) * d + l] * b[l * d + k % d]).sum())
        .collect()
}

fn transpose(a: &[f64], d: usize) -> Vec<f64> {
    (0..d * d).map(|k| a[(k % d) * d + k / d]).collect()
}

/// Gauss–Jordan inverse (test oracle).
fn inverse(a: &[f64], d: usize) -> Vec<f64> {
    let mut inv = vec![0.0; d * d];
    invert_into(a, d, &mut inv).unwrap();
    inv
}

/// exp(A t) by scaling and squaring of a 30-term Taylor series.
fn expm(a: &[f64], d: usize, t: f64) -> Vec<f64> {
    let norm = a.iter().fold(0.0f64, |m, v| m.max(v.abs())) * d as f64 * t.abs();
    let s = (norm.max(1.0).log2().ceil() as i32 + 1).max(0);
    let scaled: Vec<f64> = a.iter().map(|v| v * t / 2f64.powi(s)).collect();
    let id: Vec<f64> = (0..d * d)
        .map(|k| if k / d == k % d { 1.0 } else { 0.0 })
        .collect();
    let (mut result, mut term) = (id.clone(), id);
    for n in 1..30 {
        term = matmul(&term, &scaled, d)
            .iter()
            .map(|v| v / n as f64)
            .collect();
        result = result.iter().zip(&term).map(|(a, b)| a + b).collect();
    }
    for _ in 0..s {
        result = matmul(&result, &result, d);
    }
    result
}

/// F(q‖p) = tr(B Σ_q B) + ‖c‖² for Gaussians, B = Σ_p⁻¹ − Σ_q⁻¹, c = Σ_p⁻¹(μ_q − μ_p).
fn gaussian_fisher(mq: &[f64], sq: &[f64], mp: &[f64], sp: &[f64], d: usize) -> f64 {
    let (pq, pp) = (inverse(sq, d), inverse(sp, d));
    let b: Vec<f64> = pp.iter().zip(&pq).map(|(x, y)| x - y).collect();
    let c: Vec<f64> = (0..d)
        .map(|i| (0..d).map(|j| pp[i * d + j] * (mq[j] - mp[j])).sum())
        .collect();
    let bsb = matmul(&matmul(&b, sq, d), &b, d);
    (0..d).map(|i| bsb[i * d + i]).sum::<f64>() + c.iter().map(|v| v * v).sum::<f64>()
}

/// The time-t moments under dx/dt = A x: (e^{At}μ, e^{At} Σ e^{Aᵀt}).
fn moments(m: &[f64], s: &[f64], e: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mean = (0..d)
        .map(|i| (0..d).map(|j| e[i * d + j] * m[j]).sum())
        .collect();
    (mean, matmul(&matmul(e, s, d), &transpose(e, d), d))
}

fn spd(d: usize, p: &[f64], offset: usize) -> Vec<f64> {
    let mut s = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            s[i * d + j] = (0..d)
                .map(|k| p[(offset + i * d + k) % p.len()] * p[(offset + j * d + k) % p.len()])
                .sum::<f64>()
                + if i == j { 0.5 } else { 0.0 };
        }
    }
    s
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn proposition_3_2_closed_form_in_the_linear_gaussian_case(
        (d, p, t) in (1usize..=6).prop_flat_map(|d| (Just(d), prop::collection::vec(-1.0..1.0f64, 64), 0.0..1.0f64))
    ) {
        // dF/dt by central differences of the exact F(q_t‖p_t) equals
        // −[tr(Bᵀ(A+Aᵀ)BΣ_q) + cᵀ(A+Aᵀ)c] at the time-t moments (docs/math.md N7).
        let a: Vec<f64> = (0..d * d).map(|k| 0.6 * p[k % 64]).collect();
        let (mq, mp): (Vec<f64>, Vec<f64>) = ((0..d).map(|i| p[(i + 7) % 64]).collect(), (0..d).map(|i| -p[(i + 13) % 64]).collect());
        let (sq, sp) = (spd(d, &p, 3), spd(d, &p, 29));
        let f_at = |t: f64| {
            let e = expm(&a, d, t);
            let ((mqt, sqt), (mpt, spt)) = (moments(&mq, &sq, &e, d), moments(&mp, &sp, &e, d));
            gaussian_fisher(&mqt, &sqt, &mpt, &spt, d)
        };
        let h = 1e-5;
        let fd = (f_at(t + h) - f_at(t - h)) / (2.0 * h);
        let e = expm(&a, d, t);
        let ((mqt, sqt), (mpt, spt)) = (moments(&mq, &sq, &e, d), moments(&mp, &sp, &e, d));
        let (pq, pp) = (inverse(&sqt, d), inverse(&spt, d));
        let b: Vec<f64> = pp.iter().zip(&pq).map(|(x, y)| x - y).collect();
        let c: Vec<f64> = (0..d).map(|i| (0..d).map(|j| pp[i * d + j] * (mqt[j] - mpt[j])).sum()).collect();
        let sym: Vec<f64> = (0..d * d).map(|k| a[k] + a[(k % d) * d + k / d]).collect();
        let term = matmul(&matmul(&matmul(&transpose(&b, d), &sym, d), &b, d), &sqt, d);
        let rate = -((0..d).map(|i| term[i * d + i]).sum::<f64>()
            + (0..d).map(|i| c[i] * (0..d).map(|j| sym[i * d + j] * c[j]).sum::<f64>()).sum::<f64>());
        prop_assert!(close(fd, rate, 1e-5, 1e-6), "dF/dt {fd} vs rate {rate}");
    }

    #[test]
    fn euler_trajectory_is_theorem_3_1_for_the_discrete_map(
        (d, p, x0) in (1usize..=6).prop_flat_map(|d| (Just(d), prop::collection::vec(-1.0..1.0f64, 64), prop::collection::vec(-2.0..2.0f64, d)))
    ) {
        // Per sample, the library's δ_k = S_k⁻ᵀ δ_{k−1} is the exact score difference of the
        // discrete pushforwards N(Mμ, MΣMᵀ), M = (I + hA)^k, at x_k = M x₀.
        let a: Vec<f64> = (0..d * d).map(|k| 0.6 * p[k % 64]).collect();
        let (mq, mp): (Vec<f64>, Vec<f64>) = ((0..d).map(|i| p[(i + 7) % 64]).collect(), (0..d).map(|i| -p[(i + 13) % 64]).collect());
        let (sq, sp) = (spd(d, &p, 3), spd(d, &p, 29));
        let q = Gaussian::new(mq.clone(), &sq).unwrap();
        let pm = Gaussian::new(mp.clone(), &sp).unwrap();
        let (h, steps) = (0.05, 8);
        let flow = EulerFlow::new(Linear { d, a: a.clone() }, 0.0, h, steps).unwrap();
        let xs = Samples::new(x0.clone(), d).unwrap();
        let traj = flow.fisher_trajectory(&q, &pm, &xs, Par::Seq).unwrap();
        let step: Vec<f64> = (0..d * d).map(|k| h * a[k] + if k / d == k % d { 1.0 } else { 0.0 }).collect();
        let mut m: Vec<f64> = (0..d * d).map(|k| if k / d == k % d { 1.0 } else { 0.0 }).collect();
        for k in 0..=steps {
            let ((mqk, sqk), (mpk, spk)) = (moments(&mq, &sq, &m, d), moments(&mp, &sp, &m, d));
            let xk: Vec<f64> = (0..d).map(|i| (0..d).map(|j| m[i * d + j] * x0[j]).sum()).collect();
            let (qk, pk) = (Gaussian::new(mqk, &sqk).unwrap(), Gaussian::new(mpk, &spk).unwrap());
            let (s1, s2) = (qk.try_score(&xk).unwrap(), pk.try_score(&xk).unwrap());
            let delta: Vec<f64> = s1.iter().zip(&s2).map(|(a, b)| a - b).collect();
            let direct: f64 = delta.iter().map(|v| v * v).sum();
            prop_assert!(close(traj.direct[k].value, direct, 1e-8, 1e-10), "step {k}: {} vs {direct}", traj.direct[k].value);
            let rate = -2.0 * (0..d).map(|i| delta[i] * (0..d).map(|j| a[i * d + j] * delta[j]).sum::<f64>()).sum::<f64>();
            prop_assert!(close(traj.rate[k].value, rate, 1e-8, 1e-10), "rate {k}");
            m = matmul(&step, &m, d);
        }
    }
}

/// Population trajectory by quadrature in 1-D (exact expectations under q₀).
fn population_trajectory<V: Drift>(
    drift: V,
    horizon: f64,
    steps: usize,
    q0: &Gaussian,
    p0: &Gaussian,
) -> FisherTrajectory {
    let nodes = sinh_simpson(q0, q0.mean()[0], q0.covariance()[0].sqrt(), 5.0, 4000).unwrap();
    EulerFlow::new(drift, 0.0, horizon / steps as f64, steps)
        .unwrap()
        .fisher_trajectory(q0, p0, &nodes, Par::rayon(2))
        .unwrap()
}

#[test]
fn first_order_convergence_in_the_step() {
    // 1-D, dx/dt = a x, q₀ = N(0.5, 1.2²), p₀ = N(−0.3, 0.8²), horizon T = 1: the Euler
    // trajectory's F(q_T‖p_T) converges to the exact value at order 1 in h, and so does the
    // integrated rate; halving h halves both errors (ratios within [1.8, 2.2]).
    let a = -0.7;
    let (q0, p0) = (
        Gaussian::new(vec![0.5], &[1.44]).unwrap(),
        Gaussian::new(vec![-0.3], &[0.64]).unwrap(),
    );
    let e = (a * 1.0f64).exp();
    let exact = gaussian_fisher(&[0.5 * e], &[1.44 * e * e], &[-0.3 * e], &[0.64 * e * e], 1);
    let mut direct_err = Vec::new();
    let mut integrated_err = Vec::new();
    for steps in [10, 20, 40, 80] {
        let traj = population_trajectory(Linear { d: 1, a: vec![a] }, 1.0, steps, &q0, &p0);
        direct_err.push((traj.direct[steps].value - exact).abs());
        integrated_err.push((traj.integrated[steps] - exact).abs());
        // At t = 0 all three agree.
        assert!(close(
            traj.direct[0].value,
            gaussian_fisher(&[0.5], &[1.44], &[-0.3], &[0.64], 1),
            1e-10,
            0.0
        ));
    }
    eprintln!("direct errors {direct_err:?}\nintegrated errors {integrated_err:?}");
    for w in direct_err.windows(2).chain(integrated_err.windows(2)) {
        let ratio = w[0] / w[1];
        assert!(
            (1.8..=2.2).contains(&ratio),
            "error ratio {ratio} for halving h"
        );
    }
}

/// dx/dt = −x + ½ sin(x) + 0.3 t: nonlinear and time-dependent.
struct Nonlinear;
impl Drift for Nonlinear {
    fn dim(&self) -> usize {
        1
    }
    fn drift<D: Scalar>(&self, x: &[D], t: f64, out: &mut [D]) {
        out[0] = -x[0] + x[0].sin() * 0.5 + 0.3 * t;
    }
}

#[test]
fn direct_and_integrated_agree_to_first_order_for_a_nonlinear_drift() {
    let (q0, p0) = (
        Gaussian::new(vec![0.2], &[1.0]).unwrap(),
        Gaussian::new(vec![1.0], &[2.0]).unwrap(),
    );
    let gaps: Vec<f64> = [20, 40, 80]
        .into_iter()
        .map(|steps| {
            let traj = population_trajectory(Nonlinear, 2.0, steps, &q0, &p0);
            (0..=steps)
                .map(|k| (traj.direct[k].value - traj.integrated[k]).abs())
                .fold(0.0, f64::max)
        })
        .collect();
    eprintln!("max |direct − integrated| for h = 0.1, 0.05, 0.025: {gaps:?}");
    for w in gaps.windows(2) {
        let ratio = w[0] / w[1];
        assert!(
            (1.8..=2.2).contains(&ratio),
            "gap ratio {ratio} for halving h"
        );
    }
}

#[test]
fn euler_flow_is_a_flow_with_exact_inverse_and_log_det() {
    let flow = EulerFlow::new(
        Linear {
            d: 2,
            a: vec![-0.5, 0.3, -0.2, 0.1],
        },
        0.0,
        0.1,
        10,
    )
    .unwrap();
    let x = [0.4, -1.3];
    let mut y = [0.0; 2];
    let log_det = flow.forward_into(&x, &mut y).unwrap();
    let mut back = [0.0; 2];
    let inv_log_det = flow.inverse_into(&y, &mut back).unwrap();
    assert!(close(inv_log_det, -log_det, 1e-12, 1e-14));
    assert!(close(back[0], x[0], 1e-12, 1e-14) && close(back[1], x[1], 1e-12, 1e-14));
    // (I + hA)^10 has log|det| = 10 log|det(I + hA)|.
    let det = (1.0 - 0.05) * (1.0 + 0.01) - 0.03 * (-0.02);
    assert!(close(log_det, 10.0 * f64::ln(det), 1e-12, 0.0));
    assert!(matches!(
        EulerFlow::new(Nonlinear, 0.0, 0.0, 10),
        Err(Error::InvalidParameter { name: "step", .. })
    ));
    assert!(matches!(
        EulerFlow::new(Nonlinear, 0.0, 0.1, 0),
        Err(Error::InvalidParameter { name: "steps", .. })
    ));
    assert!(matches!(
        EulerFlow::new(Nonlinear, f64::NAN, 0.1, 1),
        Err(Error::InvalidParameter { name: "t0", .. })
    ));
    // A step that is not invertible: h·a = −1 makes I + hA singular.
    let singular = EulerFlow::new(
        Linear {
            d: 1,
            a: vec![-10.0],
        },
        0.0,
        0.1,
        1,
    )
    .unwrap();
    let xs = Samples::from_scalars(vec![0.3, 0.4]).unwrap();
    let g = Gaussian::standard(1).unwrap();
    let p = Gaussian::isotropic(vec![1.0], 2.0).unwrap();
    assert!(matches!(
        singular.fisher_trajectory(&g, &p, &xs, Par::Seq),
        Err(Error::SingularJacobian { index: 0, .. })
    ));
    assert!(singular.log_abs_det_jacobian(&[0.3]).is_err());
}

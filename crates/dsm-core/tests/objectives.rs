//! The objectives against closed forms (docs/math.md sections 2, 5 and N7/N8), the integration-by-
//! parts identity behind DSM (eqs. 5 and 6), and bit-identical results for any thread count.

use dsm_core::quadrature::sinh_simpson;
use dsm_core::testing::{close, tol};
use dsm_core::*;

mod common;
use common::Twisted;

/// Independent d × d inverse by Gauss–Jordan with partial pivoting (test oracle).
fn inverse(a: &[f64], d: usize) -> Vec<f64> {
    let mut m = a.to_vec();
    let mut inv: Vec<f64> = (0..d * d)
        .map(|k| if k / d == k % d { 1.0 } else { 0.0 })
        .collect();
    for c in 0..d {
        let p = (c..d)
            .max_by(|&i, &j| m[i * d + c].abs().total_cmp(&m[j * d + c].abs()))
            .unwrap();
        for k in 0..d {
            m.swap(c * d + k, p * d + k);
            inv.swap(c * d + k, p * d + k);
        }
        let piv = m[c * d + c];
        for k in 0..d {
            m[c * d + k] /= piv;
            inv[c * d + k] /= piv;
        }
        for r in 0..d {
            if r != c {
                let f = m[r * d + c];
                for k in 0..d {
                    m[r * d + k] -= f * m[c * d + k];
                    inv[r * d + k] -= f * inv[c * d + k];
                }
            }
        }
    }
    inv
}

fn matmul(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    let mut c = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            c[i * d + j] = (0..d).map(|k| a[i * d + k] * b[k * d + j]).sum();
        }
    }
    c
}

fn trace(a: &[f64], d: usize) -> f64 {
    (0..d).map(|i| a[i * d + i]).sum()
}

fn assert_within_sigmas(e: Estimate, exact: f64, what: &str) {
    let z = (e.value - exact) / e.std_err;
    assert!(
        z.abs() < tol::MC_SIGMAS,
        "{what}: estimate {} ± {} vs exact {exact} (z = {z:.2})",
        e.value,
        e.std_err
    );
}

const SIGMA_Q: [f64; 9] = [1.5, 0.3, -0.2, 0.3, 1.0, 0.4, -0.2, 0.4, 2.0];
const SIGMA_P: [f64; 9] = [1.0, -0.2, 0.1, -0.2, 0.8, 0.0, 0.1, 0.0, 1.2];

#[test]
fn fisher_divergence_between_gaussians() {
    // F(q‖p) = tr(B Σ_q B) + ‖c‖², B = Σ_p⁻¹ − Σ_q⁻¹, c = Σ_p⁻¹(μ_q − μ_p)   (docs/math.md N7)
    let (mq, mp) = (vec![0.5, -1.0, 0.0], vec![0.0, 0.3, 1.0]);
    let q = Gaussian::new(mq.clone(), &SIGMA_Q).unwrap();
    let p = Gaussian::new(mp.clone(), &SIGMA_P).unwrap();
    let (pq, pp) = (inverse(&SIGMA_Q, 3), inverse(&SIGMA_P, 3));
    let b: Vec<f64> = pp.iter().zip(&pq).map(|(x, y)| x - y).collect();
    let c: Vec<f64> = (0..3)
        .map(|i| (0..3).map(|j| pp[i * 3 + j] * (mq[j] - mp[j])).sum())
        .collect();
    let exact =
        trace(&matmul(&matmul(&b, &SIGMA_Q, 3), &b, 3), 3) + c.iter().map(|v| v * v).sum::<f64>();
    let xs = q.sample_n(20_000, 1, Par::rayon(2)).unwrap();
    assert_within_sigmas(
        fisher_divergence(&q, &p, &xs, Par::rayon(2)).unwrap(),
        exact,
        "F(q‖p)",
    );
}

#[test]
fn score_matching_loss_at_the_truth() {
    // Gaussian: E_p[‖s‖² + 2 tr H] = tr Σ⁻¹ − 2 tr Σ⁻¹ = −tr Σ⁻¹.
    let g = Gaussian::new(vec![1.0, 2.0, -1.0], &SIGMA_Q).unwrap();
    let xs = g.sample_n(20_000, 2, Par::rayon(2)).unwrap();
    let exact = -trace(&inverse(&SIGMA_Q, 3), 3);
    assert_within_sigmas(
        score_matching_loss(&g, &xs, Par::rayon(2)).unwrap(),
        exact,
        "Gaussian SM",
    );

    // Student-t: E_p[h_SM] = −(ν+1)/((ν+3)σ²)   (docs/math.md N8)
    for (nu, sigma) in [(3.0, 1.0), (5.0, 2.0), (10.0, 0.5)] {
        let t = StudentT::new(0.7, sigma, nu).unwrap();
        let xs = t.sample_n(20_000, 3, Par::rayon(2)).unwrap();
        let exact = -(nu + 1.0) / ((nu + 3.0) * sigma * sigma);
        assert_within_sigmas(
            score_matching_loss(&t, &xs, Par::rayon(2)).unwrap(),
            exact,
            "Student-t SM",
        );
        // And by quadrature, where the identity is exact.
        let nodes = sinh_simpson(&t, 0.7, sigma, 8.0, 4000).unwrap();
        let pop = score_matching_loss(&t, &nodes, Par::Seq).unwrap();
        assert!(
            close(pop.value, exact, tol::QUADRATURE_REL, 0.0),
            "{} vs {exact}",
            pop.value
        );
    }

    // Multivariate t: −E‖s‖² = −(ν+d)/(ν+d+2) tr Σ⁻¹ (Fisher information of the location).
    let (nu, d) = (5.0, 3.0);
    let mt = MultivariateStudentT::new(vec![0.0, 1.0, 0.0], &SIGMA_Q, nu).unwrap();
    let xs = mt.sample_n(20_000, 4, Par::rayon(2)).unwrap();
    let exact = -(nu + d) / (nu + d + 2.0) * trace(&inverse(&SIGMA_Q, 3), 3);
    assert_within_sigmas(
        score_matching_loss(&mt, &xs, Par::rayon(2)).unwrap(),
        exact,
        "MVT SM",
    );
}

/// The flat "model" log p = 0: its score is zero, so D_m(q ‖ flat) = E_q ‖mᵀ s_q‖² = C_m.
struct Flat(usize);
impl LogDensity for Flat {
    fn dim(&self) -> usize {
        self.0
    }
    fn log_density(&self, _x: &[f64]) -> f64 {
        0.0
    }
}
impl Score for Flat {
    fn score_into(&self, _x: &[f64], out: &mut [f64]) {
        out.fill(0.0);
    }
}

fn manual(mu: f64, c: f64) -> impl Diffusion {
    DiffusionFn::new(
        1,
        move |x: &[f64], m: &mut [f64]| m[0] = (1.0 + (x[0] - mu).powi(2) / c).sqrt(),
        move |x: &[f64], dm: &mut [f64]| {
            dm[0] = (x[0] - mu) / (c * (1.0 + (x[0] - mu).powi(2) / c).sqrt())
        },
    )
}

#[test]
fn integration_by_parts_exactly_by_quadrature() {
    // D_m(q‖p) = L_DSM(p) + E_q‖mᵀ s_q‖²   (docs/math.md eq. 6), non-constant m, heavy and light q.
    let p = StudentT::new(1.0, 1.5, 4.0).unwrap();
    let m = manual(0.5, 3.0);
    let check = |nodes: &Samples, q: &dyn Fn(&Samples) -> (f64, f64)| {
        let dsm = diffusion_score_matching_loss(&p, &m, nodes, Par::Seq)
            .unwrap()
            .value;
        let (d_m, c_m) = q(nodes);
        assert!(
            close(d_m, dsm + c_m, tol::QUADRATURE_REL, 0.0),
            "D_m {d_m} vs DSM + C_m {}",
            dsm + c_m
        );
    };
    let qt = StudentT::new(0.3, 1.2, 6.0).unwrap();
    let nodes = sinh_simpson(&qt, 0.3, 1.2, 8.0, 6000).unwrap();
    check(&nodes, &|n| {
        (
            diffusion_fisher_divergence(&qt, &p, &m, n, Par::Seq)
                .unwrap()
                .value,
            diffusion_fisher_divergence(&qt, &Flat(1), &m, n, Par::Seq)
                .unwrap()
                .value,
        )
    });
    // And the plain identity (m = I): F(q‖p) = L_SM(p) + E_q‖s_q‖².
    let sm = score_matching_loss(&p, &nodes, Par::Seq).unwrap().value;
    let f = fisher_divergence(&qt, &p, &nodes, Par::Seq).unwrap().value;
    let c = fisher_divergence(&qt, &Flat(1), &nodes, Par::Seq)
        .unwrap()
        .value;
    assert!(
        close(f, sm + c, tol::QUADRATURE_REL, 0.0),
        "F {f} vs SM + C {}",
        sm + c
    );

    let qg = Gaussian::new(vec![-0.4], &[0.8]).unwrap();
    let nodes = sinh_simpson(&qg, -0.4, 0.8f64.sqrt(), 5.0, 4000).unwrap();
    check(&nodes, &|n| {
        (
            diffusion_fisher_divergence(&qg, &p, &m, n, Par::Seq)
                .unwrap()
                .value,
            diffusion_fisher_divergence(&qg, &Flat(1), &m, n, Par::Seq)
                .unwrap()
                .value,
        )
    });
}

#[test]
fn integration_by_parts_in_expectation_on_samples() {
    // Per sample, D_m − (DSM + C_m) is not zero, but its mean is: within Monte Carlo error.
    let q = Gaussian::new(vec![0.5, -1.0, 0.0], &SIGMA_Q).unwrap();
    let p = MultivariateStudentT::new(vec![0.0, 0.3, 1.0], &SIGMA_P, 4.0).unwrap();
    let m = AutoDiff::new(Twisted);
    let xs = q.sample_n(20_000, 5, Par::rayon(2)).unwrap();
    let d_m = diffusion_fisher_divergence_integrand(&q, &p, &m, &xs, Par::rayon(2)).unwrap();
    let dsm = diffusion_score_matching_integrand(&p, &m, &xs, Par::rayon(2)).unwrap();
    let c_m = diffusion_fisher_divergence_integrand(&q, &Flat(3), &m, &xs, Par::rayon(2)).unwrap();
    let diff: Vec<f64> = (0..xs.n()).map(|i| d_m[i] - dsm[i] - c_m[i]).collect();
    assert!(
        diff.iter().any(|v| v.abs() > 1e-3),
        "the identity must not hold sample by sample"
    );
    let e = Estimate::from_values(&diff, None, Par::Seq).unwrap();
    assert_within_sigmas(e, 0.0, "D_m − DSM − C_m");
}

#[test]
fn dsm_depends_on_m_only_through_m_m_transpose() {
    // m → m R with R orthogonal leaves A = m mᵀ, hence DSM and D_m, unchanged.
    let (c, s) = (0.6f64.cos(), 0.6f64.sin());
    let r = [c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0];
    struct Rotated([f64; 9]);
    impl GenericDiffusion for Rotated {
        fn dim(&self) -> usize {
            3
        }
        fn matrix_generic<D: Scalar>(&self, x: &[D], m: &mut [D]) {
            let mut base = [D::from(0.0); 9];
            Twisted.matrix_generic(x, &mut base);
            for j in 0..3 {
                for k in 0..3 {
                    m[j * 3 + k] = (0..3).fold(D::from(0.0), |acc, l| {
                        acc + base[j * 3 + l] * self.0[l * 3 + k]
                    });
                }
            }
        }
    }
    let p = MultivariateStudentT::new(vec![0.0, 0.3, 1.0], &SIGMA_P, 4.0).unwrap();
    let xs = Gaussian::standard(3)
        .unwrap()
        .sample_n(50, 6, Par::Seq)
        .unwrap();
    let a = diffusion_score_matching_integrand(&p, &AutoDiff::new(Twisted), &xs, Par::Seq).unwrap();
    let b =
        diffusion_score_matching_integrand(&p, &AutoDiff::new(Rotated(r)), &xs, Par::Seq).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert!(close(*x, *y, 1e-12, 1e-12), "{x} vs {y}");
    }
}

#[test]
fn identity_and_constant_diffusions_reduce_to_plain_objectives() {
    let q = Gaussian::new(vec![0.5, -1.0, 0.0], &SIGMA_Q).unwrap();
    let p = MultivariateStudentT::new(vec![0.0, 0.3, 1.0], &SIGMA_P, 4.0).unwrap();
    let xs = q.sample_n(300, 7, Par::Seq).unwrap();
    let id = IdentityDiffusion::new(3);
    let sm = score_matching_integrand(&p, &xs, Par::Seq).unwrap();
    let dsm = diffusion_score_matching_integrand(&p, &id, &xs, Par::Seq).unwrap();
    let f = fisher_divergence_integrand(&q, &p, &xs, Par::Seq).unwrap();
    let fm = diffusion_fisher_divergence_integrand(&q, &p, &id, &xs, Par::Seq).unwrap();
    for i in 0..xs.n() {
        assert!(close(sm[i], dsm[i], 1e-13, 1e-13));
        assert!(close(f[i], fm[i], 1e-13, 1e-13));
    }
    // A constant m = c·I scales every term by c².
    let c = ConstantDiffusion::new(3, vec![2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 2.0]).unwrap();
    let dsm_c = diffusion_score_matching_integrand(&p, &c, &xs, Par::Seq).unwrap();
    for i in 0..xs.n() {
        assert!(close(dsm_c[i], 4.0 * sm[i], 1e-13, 1e-13));
    }
}

#[test]
fn bit_identical_for_any_thread_count() {
    let q = MultivariateStudentT::new(vec![0.5, -1.0, 0.0], &SIGMA_Q, 3.0).unwrap();
    let p = Gaussian::new(vec![0.0, 0.3, 1.0], &SIGMA_P).unwrap();
    let m = AutoDiff::new(Twisted);
    let n = 3 * 256 + 17; // not a multiple of the chunk size
    let runs: Vec<_> = [Par::Seq, Par::rayon(2), Par::rayon(8)]
        .into_iter()
        .map(|par| {
            let xs = q.sample_n(n, 99, par).unwrap();
            let ests = [
                fisher_divergence(&q, &p, &xs, par).unwrap(),
                score_matching_loss(&p, &xs, par).unwrap(),
                diffusion_fisher_divergence(&q, &p, &m, &xs, par).unwrap(),
                diffusion_score_matching_loss(&p, &m, &xs, par).unwrap(),
            ];
            (xs.into_vec(), ests)
        })
        .collect();
    for run in &runs[1..] {
        assert!(
            run.0
                .iter()
                .zip(&runs[0].0)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "samples differ"
        );
        for (a, b) in run.1.iter().zip(&runs[0].1) {
            assert_eq!(a.value.to_bits(), b.value.to_bits());
            assert_eq!(a.std_err.to_bits(), b.std_err.to_bits());
            assert_eq!(a.n, b.n);
        }
    }
    // Different seeds give different samples.
    let other = q.sample_n(n, 100, Par::Seq).unwrap();
    assert_ne!(other.as_slice(), &runs[0].0[..]);
}

#[test]
fn weighted_estimates() {
    // Weights act as the importance of each point: duplicating a point = doubling its weight.
    let p = StudentT::new(0.2, 1.0, 5.0).unwrap();
    let plain = Samples::from_scalars(vec![-1.0, 0.5, 0.5, 2.0]).unwrap();
    let weighted = Samples::from_scalars(vec![-1.0, 0.5, 2.0])
        .unwrap()
        .with_weights(vec![1.0, 2.0, 1.0])
        .unwrap();
    let a = score_matching_loss(&p, &plain, Par::Seq).unwrap();
    let b = score_matching_loss(&p, &weighted, Par::Seq).unwrap();
    assert!(close(a.value, b.value, 1e-15, 0.0));
    assert_eq!(b.n, 3);
    // The weighted standard error formula, by hand.
    let h = [1.0, 4.0, 2.0];
    let w = [1.0, 3.0, 0.5];
    let e = Estimate::from_values(&h, Some(&w), Par::Seq).unwrap();
    let tot: f64 = w.iter().sum();
    let mean = h.iter().zip(&w).map(|(h, w)| h * w).sum::<f64>() / tot;
    let s2: f64 = w.iter().map(|w| (w / tot).powi(2)).sum();
    let var = h
        .iter()
        .zip(&w)
        .map(|(h, w)| (w / tot).powi(2) * (h - mean).powi(2))
        .sum::<f64>()
        / (1.0 - s2);
    assert!(close(e.value, mean, 1e-15, 0.0));
    assert!(close(e.std_err, var.sqrt(), 1e-14, 0.0));
    // One sample: no standard error.
    assert_eq!(
        Estimate::from_values(&[3.0], None, Par::Seq)
            .unwrap()
            .std_err,
        f64::INFINITY
    );
}

#[test]
fn samplers_have_the_right_moments() {
    // Mean and covariance of N(μ, Σ) draws; variance ν/(ν−2)σ² of Student-t draws.
    let g = Gaussian::new(vec![1.0, -2.0, 0.5], &SIGMA_Q).unwrap();
    let xs = g.sample_n(40_000, 8, Par::rayon(2)).unwrap();
    for i in 0..3 {
        for j in 0..3 {
            let e = mc::expectation(
                &xs,
                Par::Seq,
                || (),
                |_, _, x| Ok((x[i] - g.mean()[i]) * (x[j] - g.mean()[j])),
            )
            .unwrap();
            assert_within_sigmas(e, SIGMA_Q[i * 3 + j], "Gaussian covariance");
        }
        let e = mc::expectation(&xs, Par::Seq, || (), |_, _, x| Ok(x[i])).unwrap();
        assert_within_sigmas(e, g.mean()[i], "Gaussian mean");
    }
    let t = StudentT::new(1.0, 2.0, 9.0).unwrap();
    let xs = t.sample_n(40_000, 9, Par::rayon(2)).unwrap();
    let e = mc::expectation(&xs, Par::Seq, || (), |_, _, x| Ok((x[0] - 1.0).powi(2))).unwrap();
    assert_within_sigmas(e, 9.0 / 7.0 * 4.0, "Student-t variance");
    let mt = MultivariateStudentT::new(vec![0.0, 0.0, 0.0], &SIGMA_Q, 9.0).unwrap();
    let xs = mt.sample_n(40_000, 10, Par::rayon(2)).unwrap();
    for (i, j) in [(0, 0), (0, 1), (2, 1)] {
        let e = mc::expectation(&xs, Par::Seq, || (), |_, _, x| Ok(x[i] * x[j])).unwrap();
        assert_within_sigmas(e, 9.0 / 7.0 * SIGMA_Q[i * 3 + j], "MVT covariance");
    }
}

#[test]
fn batched_scores_equal_the_per_point_scores() {
    // Gaussian: one matrix product per chunk, against s = −Σ⁻¹(x − μ) per point, into row- and
    // column-major outputs; a model with the default (per-point) batch must agree exactly.
    let q = MultivariateStudentT::new(vec![0.5, -1.0, 0.0], &SIGMA_Q, 3.0).unwrap();
    let p = Gaussian::new(vec![40.0, 0.3, -25.0], &SIGMA_P).unwrap();
    for n in [1, 7, 256, 300] {
        let xs = q.sample_n(n, 5, Par::Seq).unwrap();
        let mut row_major = vec![f64::NAN; n * 3];
        p.score_rows_into(
            xs.as_slice(),
            faer::MatMut::from_row_major_slice_mut(&mut row_major, n, 3),
        );
        let mut col_major = faer::Mat::<f64>::from_fn(n, 3, |_, _| f64::NAN);
        p.score_rows_into(xs.as_slice(), col_major.as_mut());
        let mut default_batch = faer::Mat::<f64>::from_fn(n, 3, |_, _| f64::NAN);
        q.score_rows_into(xs.as_slice(), default_batch.as_mut());
        let mut single = vec![0.0; 3];
        for i in 0..n {
            p.score_into(xs.row(i), &mut single);
            for j in 0..3 {
                for got in [row_major[i * 3 + j], col_major[(i, j)]] {
                    assert!(
                        close(got, single[j], 1e-13, 1e-13),
                        "n={n} i={i}: {got} vs {}",
                        single[j]
                    );
                }
            }
            q.score_into(xs.row(i), &mut single);
            for j in 0..3 {
                assert_eq!(default_batch[(i, j)], single[j]);
            }
        }
    }
}

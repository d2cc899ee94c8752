//! KSD and DKSD: against a committed numpy reference, against the definition of the Stein
//! kernel by central differences (docs/math.md N6), their reductions to each other, determinism,
//! the calibration and power of the bootstrap test, and bad input.

use dsm_core::mc::{RandomPurpose, random_stream};
use dsm_core::stein::{PairScratch, SteinPoints};
use dsm_core::testing::close;
use dsm_core::*;

mod common;
use common::{Twisted, reference_diffusion, reference_model};
use dsm_core::testing::binomial_interval;

/// The committed data of tests/reference/ksd_reference.py (n = 200, d = 3).
fn reference_data() -> Samples {
    let rows: Vec<Vec<f64>> = include_str!("reference/ksd_data.csv")
        .lines()
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    Samples::from_rows(&rows).unwrap()
}

/// The committed values of tests/reference/ksd_reference.py.
fn reference(name: &str) -> f64 {
    common::table_value(include_str!("reference/ksd_reference.csv"), name)
}

#[test]
fn ksd_and_dksd_match_the_numpy_reference() {
    let xs = reference_data();
    let p = reference_model();
    let h = Rbf::median_heuristic(&xs).unwrap();
    assert!(close(
        h.bandwidth(),
        reference("rbf_median_bandwidth"),
        1e-14,
        0.0
    ));
    let check = |name: &str, value: f64| {
        let r = reference(name);
        assert!(close(value, r, 1e-12, 0.0), "{name}: {value} vs numpy {r}");
    };
    for (est, tag) in [(Estimator::U, "u"), (Estimator::V, "v")] {
        check(
            &format!("ksd_{tag}_imq_c1_b-0.5"),
            Ksd::new(Imq::default(), est)
                .estimate(&p, &xs, Par::Seq)
                .unwrap()
                .value,
        );
        let imq2 = Imq::new(2.0, -0.3).unwrap();
        check(
            &format!("ksd_{tag}_imq_c2_b-0.3"),
            Ksd::new(imq2, est)
                .estimate(&p, &xs, Par::rayon(2))
                .unwrap()
                .value,
        );
        let rbf = Rbf::new(1.3).unwrap();
        check(
            &format!("ksd_{tag}_rbf_h1.3"),
            Ksd::new(rbf, est)
                .estimate(&p, &xs, Par::Seq)
                .unwrap()
                .value,
        );
        check(
            &format!("ksd_{tag}_rbf_median"),
            Ksd::new(h, est).estimate(&p, &xs, Par::Seq).unwrap().value,
        );
        let dk = DiffusionKsd::new(Imq::default(), reference_diffusion(), est).unwrap();
        check(
            &format!("dksd_{tag}_imq_c1_b-0.5"),
            dk.estimate(&p, &xs, Par::rayon(2)).unwrap().value,
        );
        let dk = DiffusionKsd::new(rbf, reference_diffusion(), est).unwrap();
        check(
            &format!("dksd_{tag}_rbf_h1.3"),
            dk.estimate(&p, &xs, Par::Seq).unwrap().value,
        );
    }
}

/// k(x, y) = IMQ(Ax, Ay): not radial in x, so the Stein kernels take their general path.
struct Stretched(Imq, [f64; 9]);
impl Stretched {
    fn map(&self, x: &[f64]) -> Vec<f64> {
        let d = x.len();
        (0..d)
            .map(|i| (0..d).map(|j| self.1[i * 3 + j] * x[j]).sum())
            .collect()
    }
}
impl Kernel for Stretched {
    fn value(&self, x: &[f64], y: &[f64]) -> f64 {
        self.0.value(&self.map(x), &self.map(y))
    }
    fn derivatives_into(
        &self,
        x: &[f64],
        y: &[f64],
        gx: &mut [f64],
        gy: &mut [f64],
        cross: &mut [f64],
    ) -> f64 {
        // Chain rule: ∇ₓk = Aᵀ ∇k(Ax, Ay), cross = Aᵀ C A.
        let d = x.len();
        let (ax, ay) = (self.map(x), self.map(y));
        let (mut g1, mut g2, mut c) = (vec![0.0; d], vec![0.0; d], vec![0.0; d * d]);
        let k = self.0.derivatives_into(&ax, &ay, &mut g1, &mut g2, &mut c);
        let a = &self.1;
        for i in 0..d {
            gx[i] = (0..d).map(|r| a[r * 3 + i] * g1[r]).sum();
            gy[i] = (0..d).map(|r| a[r * 3 + i] * g2[r]).sum();
            for j in 0..d {
                cross[i * d + j] = (0..d)
                    .map(|r| {
                        (0..d)
                            .map(|s| a[r * 3 + i] * c[r * d + s] * a[s * 3 + j])
                            .sum::<f64>()
                    })
                    .sum();
            }
        }
        k
    }
}

/// k⁰ by its definition (1/(p(x)p(y))) Σ_ab ∂_{x_a}∂_{y_b} [p(x) p(y) k(x,y) (m(x) m(y)ᵀ)_ab]
/// with a four-point central difference for each mixed partial (docs/math.md N6).
fn definition<P: LogDensity, K: Kernel, M: Diffusion>(
    p: &P,
    k: &K,
    m: &M,
    x: &[f64],
    y: &[f64],
) -> f64 {
    let d = x.len();
    let (lpx, lpy) = (p.log_density(x), p.log_density(y));
    let f = |x: &[f64], y: &[f64], a: usize, b: usize| {
        let (mut mx, mut my) = (vec![0.0; d * d], vec![0.0; d * d]);
        m.matrix_into(x, &mut mx).unwrap();
        m.matrix_into(y, &mut my).unwrap();
        let mm: f64 = (0..d).map(|c| mx[a * d + c] * my[b * d + c]).sum();
        (p.log_density(x) - lpx + p.log_density(y) - lpy).exp() * k.value(x, y) * mm
    };
    let h = 1e-4;
    let mut total = 0.0;
    for a in 0..d {
        for b in 0..d {
            let shift = |v: &[f64], i: usize, s: f64| {
                let mut w = v.to_vec();
                w[i] += s;
                w
            };
            let (xp, xm, yp, ym) = (
                shift(x, a, h),
                shift(x, a, -h),
                shift(y, b, h),
                shift(y, b, -h),
            );
            total += (f(&xp, &yp, a, b) - f(&xp, &ym, a, b) - f(&xm, &yp, a, b)
                + f(&xm, &ym, a, b))
                / (4.0 * h * h);
        }
    }
    total
}

fn stein_pair<S: SteinKernel, P: Score + Sync>(
    stein: &S,
    p: &P,
    xs: &Samples,
    i: usize,
    j: usize,
) -> f64 {
    let points: SteinPoints<'_, S::Kernel> = stein.points(p, xs, Par::Seq).unwrap();
    points.stein_kernel(i, j, &mut PairScratch::default())
}

/// Rows of a committed comma-separated file of numbers.
fn csv_rows(text: &str) -> Vec<Vec<f64>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
        .collect()
}

/// `<case>/<quantity>` of tests/reference/ksd_test_reference.py.
fn test_reference(name: &str) -> f64 {
    common::table_value(include_str!("reference/ksd_test_reference.csv"), name)
}

/// Checks one case of ksd_test_reference.py: value and std_err to 1e-11 relative; for the
/// unweighted data sets the statistic, every replicate and the critical value to 1e-12 of
/// the replicate scale Σ|Hᵢⱼ|/n (they cancel), and the p-value and decision exactly.
fn check_test_case<S: SteinKernel>(case: &str, stein: &S, samples: &Samples, weights: &[f64]) {
    let p = reference_model();
    let estimate = stein
        .points(&p, samples, Par::rayon(2))
        .unwrap()
        .estimate(stein.estimator(), Par::rayon(2))
        .unwrap();
    for (quantity, got) in [("value", estimate.value), ("std_err", estimate.std_err)] {
        let want = test_reference(&format!("{case}/{quantity}"));
        assert!(
            close(got, want, 1e-11, 1e-300),
            "{case}/{quantity}: {got} vs {want}"
        );
    }
    if samples.weights().is_some() {
        return;
    }
    let test = KsdTest::new(Bootstrap::Rademacher, 0).unwrap();
    let (result, replicates) = test
        .run_with_weights(stein, &p, samples, weights, Par::rayon(2))
        .unwrap();
    let scale = test_reference(&format!("{case}/replicate_scale"));
    let tol = 1e-12 * scale;
    let statistic = test_reference(&format!("{case}/statistic"));
    assert!(
        (result.statistic - statistic).abs() <= tol,
        "{case}: T = {} vs {statistic}",
        result.statistic
    );
    let critical = test_reference(&format!("{case}/critical_value"));
    assert!(
        (result.critical_value - critical).abs() <= tol,
        "{case}: critical {} vs {critical}",
        result.critical_value
    );
    let want: Vec<f64> = include_str!("reference/ksd_test_replicates.csv")
        .lines()
        .skip(1)
        .filter_map(|l| l.strip_prefix(case).and_then(|r| r.strip_prefix(',')))
        .map(|r| r.split_once(',').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(replicates.len(), want.len(), "{case}: replicate count");
    for (b, (got, want)) in replicates.iter().zip(&want).enumerate() {
        assert!(
            (got - want).abs() <= tol,
            "{case}: T*_{b} = {got} vs {want}"
        );
    }
    assert_eq!(
        result.p_value,
        test_reference(&format!("{case}/p_value")),
        "{case}: p-value"
    );
    assert_eq!(
        f64::from(u8::from(result.reject)),
        test_reference(&format!("{case}/reject")),
        "{case}: decision"
    );
    assert_eq!(result.replicates, 50);
}

#[test]
fn std_err_statistic_and_bootstrap_match_the_numpy_reference() {
    // tests/reference/ksd_test_reference.py: KsdEstimate::std_err, the test statistic, the
    // replicates for committed weights, the p-value and the critical value, computed
    // independently with numpy over all pairs.
    let t40 = Samples::from_rows(&csv_rows(include_str!("reference/ksd_data.csv"))[..40]).unwrap();
    let sample_weights: Vec<f64> = csv_rows(include_str!("reference/ksd_test_sample_weights.csv"))
        .into_iter()
        .map(|r| r[0])
        .collect();
    let data = [
        ("t40", t40.clone()),
        (
            "null40",
            Samples::from_rows(&csv_rows(include_str!("reference/ksd_test_null40.csv"))).unwrap(),
        ),
        (
            "shift40",
            Samples::from_rows(&csv_rows(include_str!("reference/ksd_test_shift40.csv"))).unwrap(),
        ),
        ("t40w", t40.with_weights(sample_weights).unwrap()),
    ];
    let weights: Vec<f64> = csv_rows(include_str!("reference/ksd_test_weights.csv")).concat();
    assert_eq!(weights.len(), 50 * 40);
    let mut cases = 0;
    for (est_name, est) in [("u", Estimator::U), ("v", Estimator::V)] {
        for (data_name, xs) in &data {
            let ksd_cases = [
                ("imq_c1_b-0.5", Ksd::new(Imq::default(), est)),
                ("imq_c2_b-0.3", Ksd::new(Imq::new(2.0, -0.3).unwrap(), est)),
            ];
            for (kernel, ksd) in &ksd_cases {
                check_test_case(
                    &format!("ksd_{est_name}_{kernel}_{data_name}"),
                    ksd,
                    xs,
                    &weights,
                );
            }
            let rbf = Ksd::new(Rbf::new(1.3).unwrap(), est);
            check_test_case(
                &format!("ksd_{est_name}_rbf_h1.3_{data_name}"),
                &rbf,
                xs,
                &weights,
            );
            let dksd = DiffusionKsd::new(Imq::default(), reference_diffusion(), est).unwrap();
            check_test_case(
                &format!("dksd_{est_name}_imq_c1_b-0.5_{data_name}"),
                &dksd,
                xs,
                &weights,
            );
            cases += 4;
        }
    }
    assert_eq!(cases, 32);
}

#[test]
fn closed_form_stein_kernel_equals_its_definition() {
    // 1-D: Student-t model, the manual-flow diffusion, IMQ.
    let p = StudentT::new(0.3, 1.5, 4.0).unwrap();
    let m = DiffusionFn::new(
        1,
        |x: &[f64], m: &mut [f64]| m[0] = (1.0 + x[0] * x[0] / 4.0).sqrt(),
        |x: &[f64], dm: &mut [f64]| dm[0] = x[0] / (4.0 * (1.0 + x[0] * x[0] / 4.0).sqrt()),
    );
    let xs = Samples::from_scalars(vec![-1.3, 0.4, 2.2, 5.0]).unwrap();
    let dk = DiffusionKsd::new(Imq::default(), &m, Estimator::U).unwrap();
    for (i, j) in [(0, 1), (1, 2), (2, 3), (3, 3), (0, 3)] {
        let closed = stein_pair(&dk, &p, &xs, i, j);
        let def = definition(&p, &Imq::default(), &m, xs.row(i), xs.row(j));
        assert!(
            close(closed, def, 1e-6, 1e-7),
            "1-D ({i},{j}): {closed} vs {def}"
        );
    }
    // 3-D: multivariate t model, a non-constant non-symmetric m, radial and non-radial kernels.
    let p = MultivariateStudentT::new(
        vec![0.2, -0.1, 0.4],
        &[1.0, 0.2, 0.1, 0.2, 1.5, -0.3, 0.1, -0.3, 0.7],
        5.0,
    )
    .unwrap();
    let m = AutoDiff::new(Twisted);
    let xs = Samples::from_rows(&[[0.3, -0.5, 1.0], [1.2, 0.4, -0.6], [-0.8, 0.9, 0.2]]).unwrap();
    let stretched = Stretched(
        Imq::new(1.5, -0.4).unwrap(),
        [1.0, 0.3, 0.0, -0.2, 0.8, 0.1, 0.0, 0.4, 1.3],
    );
    let imq = Imq::default();
    let rbf = Rbf::new(1.1).unwrap();
    for (i, j) in [(0, 1), (1, 2), (0, 2), (1, 1)] {
        let (x, y) = (xs.row(i), xs.row(j));
        let closed = stein_pair(
            &DiffusionKsd::new(imq, &m, Estimator::V).unwrap(),
            &p,
            &xs,
            i,
            j,
        );
        assert!(
            close(closed, definition(&p, &imq, &m, x, y), 1e-6, 1e-7),
            "imq ({i},{j})"
        );
        let closed = stein_pair(
            &DiffusionKsd::new(rbf, &m, Estimator::V).unwrap(),
            &p,
            &xs,
            i,
            j,
        );
        assert!(
            close(closed, definition(&p, &rbf, &m, x, y), 1e-6, 1e-7),
            "rbf ({i},{j})"
        );
        let closed = stein_pair(
            &DiffusionKsd::new(&stretched, &m, Estimator::V).unwrap(),
            &p,
            &xs,
            i,
            j,
        );
        let def = definition(&p, &stretched, &m, x, y);
        assert!(
            close(closed, def, 1e-6, 1e-7),
            "non-radial ({i},{j}): {closed} vs {def}"
        );
        // The Langevin kernel is the definition with m = I.
        let id = IdentityDiffusion::new(3);
        let closed = stein_pair(&Ksd::new(&stretched, Estimator::V), &p, &xs, i, j);
        assert!(
            close(closed, definition(&p, &stretched, &id, x, y), 1e-6, 1e-7),
            "langevin non-radial"
        );
    }
}

#[test]
fn dksd_with_identity_is_ksd_pair_by_pair_and_symmetric() {
    let xs = reference_data();
    let p = reference_model();
    let ksd = Ksd::new(Imq::default(), Estimator::U);
    let dksd = DiffusionKsd::new(Imq::default(), IdentityDiffusion::new(3), Estimator::U).unwrap();
    let (a, b) = (
        ksd.points(&p, &xs, Par::Seq).unwrap(),
        dksd.points(&p, &xs, Par::Seq).unwrap(),
    );
    let m = DiffusionKsd::new(Imq::default(), reference_diffusion(), Estimator::U).unwrap();
    let c = m.points(&p, &xs, Par::Seq).unwrap();
    let s = &mut PairScratch::default();
    for i in (0..200).step_by(7) {
        for j in (0..200).step_by(11) {
            let (u, k0) = (a.stein_kernel(i, j, s), b.stein_kernel(i, j, s));
            assert!(close(u, k0, 1e-13, 1e-13), "({i},{j}): {u} vs {k0}");
            assert!(
                close(
                    c.stein_kernel(i, j, s),
                    c.stein_kernel(j, i, s),
                    1e-13,
                    1e-13
                ),
                "symmetry"
            );
            assert!(close(u, a.stein_kernel(j, i, s), 1e-13, 1e-13));
        }
    }
}

#[test]
fn tiled_engine_matches_a_plain_double_loop() {
    // Sizes around the row-block and tile widths, weighted and not.
    let p = reference_model();
    for n in [2, 63, 65, 300, 777] {
        let xs = MultivariateStudentT::new(
            vec![0.0; 3],
            &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            4.0,
        )
        .unwrap()
        .sample_n(n, n as u64, Par::Seq)
        .unwrap();
        let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 5) as f64).collect();
        let wxs = xs.clone().with_weights(w.clone()).unwrap();
        let dk = DiffusionKsd::new(Imq::default(), reference_diffusion(), Estimator::U).unwrap();
        let pts = dk.points(&p, &xs, Par::Seq).unwrap();
        let s = &mut PairScratch::default();
        let (mut off, mut diag, mut woff, mut wdiag) = (0.0, 0.0, 0.0, 0.0);
        for i in 0..n {
            let k = pts.stein_kernel(i, i, s);
            diag += k;
            wdiag += w[i] * w[i] * k;
            for j in 0..n {
                if i != j {
                    let k = pts.stein_kernel(i, j, s);
                    off += k;
                    woff += w[i] * w[j] * k;
                }
            }
        }
        let (nf, wt, w2) = (
            n as f64,
            w.iter().sum::<f64>(),
            w.iter().map(|v| v * v).sum::<f64>(),
        );
        let u = pts.estimate(Estimator::U, Par::rayon(2)).unwrap().value;
        let v = pts.estimate(Estimator::V, Par::rayon(2)).unwrap().value;
        assert!(close(u, off / (nf * (nf - 1.0)), 1e-12, 1e-14), "U n={n}");
        assert!(close(v, (off + diag) / (nf * nf), 1e-12, 1e-14), "V n={n}");
        let wp = dk.points(&p, &wxs, Par::Seq).unwrap();
        let wu = wp.estimate(Estimator::U, Par::rayon(2)).unwrap().value;
        let wv = wp.estimate(Estimator::V, Par::rayon(2)).unwrap().value;
        assert!(
            close(wu, woff / (wt * wt - w2), 1e-12, 1e-14),
            "weighted U n={n}"
        );
        assert!(
            close(wv, (woff + wdiag) / (wt * wt), 1e-12, 1e-14),
            "weighted V n={n}"
        );
    }
}

#[test]
fn langevin_gram_tiles_match_a_plain_double_loop() {
    // The Langevin path with a radial kernel takes inner products per tile from matrix
    // products; it must agree with the pair-by-pair closed form, weighted or not.
    let p = reference_model();
    for n in [2, 63, 65, 300, 777] {
        let xs = MultivariateStudentT::new(
            vec![0.0; 3],
            &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            4.0,
        )
        .unwrap()
        .sample_n(n, 100 + n as u64, Par::Seq)
        .unwrap();
        let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 7) as f64).collect();
        let ksd = Ksd::new(Imq::new(1.3, -0.35).unwrap(), Estimator::U);
        let pts = ksd.points(&p, &xs, Par::Seq).unwrap();
        let s = &mut PairScratch::default();
        let (mut off, mut diag, mut woff, mut wdiag) = (0.0, 0.0, 0.0, 0.0);
        for i in 0..n {
            let k = pts.stein_kernel(i, i, s);
            diag += k;
            wdiag += w[i] * w[i] * k;
            for j in 0..n {
                if i != j {
                    let k = pts.stein_kernel(i, j, s);
                    off += k;
                    woff += w[i] * w[j] * k;
                }
            }
        }
        let nf = n as f64;
        let (wt, w2) = (w.iter().sum::<f64>(), w.iter().map(|v| v * v).sum::<f64>());
        let u = pts.estimate(Estimator::U, Par::rayon(2)).unwrap().value;
        let v = pts.estimate(Estimator::V, Par::rayon(2)).unwrap().value;
        assert!(
            close(u, off / (nf * (nf - 1.0)), 1e-11, 1e-13),
            "U n={n}: {u} vs {}",
            off / (nf * (nf - 1.0))
        );
        assert!(close(v, (off + diag) / (nf * nf), 1e-11, 1e-13), "V n={n}");
        let wxs = xs.clone().with_weights(w.clone()).unwrap();
        let wp = ksd.points(&p, &wxs, Par::Seq).unwrap();
        let wu = wp.estimate(Estimator::U, Par::Seq).unwrap().value;
        let wv = wp.estimate(Estimator::V, Par::Seq).unwrap().value;
        assert!(
            close(wu, woff / (wt * wt - w2), 1e-11, 1e-13),
            "weighted U n={n}"
        );
        assert!(
            close(wv, (woff + wdiag) / (wt * wt), 1e-11, 1e-13),
            "weighted V n={n}"
        );
    }
}

#[test]
fn weights_act_as_multiplicities_for_the_v_statistic() {
    let p = reference_model();
    let plain = Samples::from_rows(&[
        [0.0, 1.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.5, 0.5, 0.5],
        [-1.0, 0.2, 2.0],
    ])
    .unwrap();
    let weighted = Samples::from_rows(&[[0.0, 1.0, 0.0], [0.5, 0.5, 0.5], [-1.0, 0.2, 2.0]])
        .unwrap()
        .with_weights(vec![1.0, 2.0, 1.0])
        .unwrap();
    let ksd = Ksd::new(Imq::default(), Estimator::V);
    let a = ksd.estimate(&p, &plain, Par::Seq).unwrap().value;
    let b = ksd.estimate(&p, &weighted, Par::Seq).unwrap().value;
    assert!(close(a, b, 1e-14, 0.0), "{a} vs {b}");
}

#[test]
fn bit_identical_for_any_thread_count() {
    let xs = reference_data();
    let p = reference_model();
    let dk = DiffusionKsd::new(Imq::default(), reference_diffusion(), Estimator::U).unwrap();
    let test = KsdTest::new(
        Bootstrap::MarkovChain {
            flip_probability: 0.1,
        },
        5,
    )
    .unwrap()
    .with_replicates(101)
    .unwrap();
    let runs: Vec<_> = [Par::Seq, Par::rayon(2), Par::rayon(8)]
        .into_iter()
        .map(|par| {
            let e1 = Ksd::new(Rbf::new(1.3).unwrap(), Estimator::V)
                .estimate(&p, &xs, par)
                .unwrap();
            let e2 = dk.estimate(&p, &xs, par).unwrap();
            let t = test.run(&dk, &p, &xs, par).unwrap();
            (e1, e2, t)
        })
        .collect();
    for r in &runs[1..] {
        assert_eq!(r.0.value.to_bits(), runs[0].0.value.to_bits());
        assert_eq!(r.0.std_err.to_bits(), runs[0].0.std_err.to_bits());
        assert_eq!(r.1.value.to_bits(), runs[0].1.value.to_bits());
        assert_eq!(r.2, runs[0].2);
    }
}

#[test]
fn the_test_is_calibrated_under_the_null() {
    // 200 seeded replications of n = 100 draws from the model N(0, I₂), B = 200, α = 0.05.
    // Rejections must fall in the exact binomial(200, 0.05) 99% interval [3, 19].
    let model = Gaussian::standard(2).unwrap();
    let ksd = Ksd::new(Imq::default(), Estimator::V);
    let (lo, hi) = binomial_interval(200, 0.05, 0.99);
    assert_eq!((lo, hi), (3, 19), "the critical values stated above");
    for bootstrap in [
        Bootstrap::Rademacher,
        Bootstrap::MarkovChain {
            flip_probability: 0.5,
        },
    ] {
        let mut rejections = 0;
        for rep in 0..200u64 {
            let xs = model.sample_n(100, 1000 + rep, Par::Seq).unwrap();
            let test = KsdTest::new(bootstrap, rep)
                .unwrap()
                .with_replicates(200)
                .unwrap();
            if test.run(&ksd, &model, &xs, Par::rayon(2)).unwrap().reject {
                rejections += 1;
            }
        }
        assert!(
            (lo..=hi).contains(&rejections),
            "{bootstrap:?}: {rejections} rejections of 200"
        );
    }
}

#[test]
fn the_test_has_power_against_heavy_tails() {
    // Student-t(3) samples tested against a Gaussian model, n = 500: power above 0.9
    // (more than 36 rejections in 40 seeded replications at α = 0.05, B = 200).
    let model = Gaussian::standard(2).unwrap();
    let truth = MultivariateStudentT::new(vec![0.0, 0.0], &[1.0, 0.0, 0.0, 1.0], 3.0).unwrap();
    let ksd = Ksd::new(Imq::default(), Estimator::V);
    let rejections = (0..40u64)
        .filter(|&rep| {
            let xs = truth.sample_n(500, 5000 + rep, Par::Seq).unwrap();
            let test = KsdTest::new(Bootstrap::Rademacher, rep)
                .unwrap()
                .with_replicates(200)
                .unwrap();
            test.run(&ksd, &model, &xs, Par::rayon(2)).unwrap().reject
        })
        .count();
    assert!(rejections > 36, "power {rejections}/40");
}

/// An AR(1) chain xₜ = ρ xₜ₋₁ + √(1 − ρ²) εₜ started in its stationary law N(0, 1).
fn ar1_chain(n: usize, rho: f64, seed: u64) -> Samples {
    let noise = Gaussian::standard(1)
        .unwrap()
        .sample_n(n, seed, Par::Seq)
        .unwrap();
    let mut x = 0.0;
    let chain = (0..n)
        .map(|t| {
            let e = noise.row(t)[0];
            x = if t == 0 {
                e
            } else {
                rho * x + (1.0 - rho * rho).sqrt() * e
            };
            x
        })
        .collect();
    Samples::from_scalars(chain).unwrap()
}

/// Rejections at α = 0.05 of `chains` seeded AR(1) chains against their own stationary law
/// N(0, 1) (IMQ, V-statistic, B = 39: p ≤ 0.05 means at most one replicate reaches T), and
/// the median flip probability used.
fn ar1_rejections(bootstrap: Bootstrap, n: usize, rho: f64, chains: u64) -> (u64, f64) {
    let model = Gaussian::standard(1).unwrap();
    let ksd = Ksd::new(Imq::default(), Estimator::V);
    let mut flips = Vec::new();
    let mut rejections = 0;
    for rep in 0..chains {
        let xs = ar1_chain(n, rho, 70_000 + rep + (n as u64) * 1000);
        let test = KsdTest::new(bootstrap, rep)
            .unwrap()
            .with_replicates(39)
            .unwrap();
        let result = test.run(&ksd, &model, &xs, Par::rayon(2)).unwrap();
        rejections += u64::from(result.reject);
        flips.push(result.flip_probability.unwrap_or(f64::NAN));
    }
    flips.sort_by(f64::total_cmp);
    (rejections, flips[flips.len() / 2])
}

#[test]
fn markov_chain_bootstrap_is_calibrated_on_dependent_chains() {
    // The data-driven Markov-chain bootstrap (flip probability min(½, 1/√(n τ̂))) keeps the
    // level on AR(1) chains of every dependence: rejections of the true model at α = 0.05
    // fall in the exact two-sided binomial 99% interval around 0.05, for ρ ∈ {0, 0.5, 0.9}
    // (τ = 1, 3, 19) and n ∈ {500, 2000}. I.i.d. signs over-reject at ρ = 0.9.
    for (n, chains) in [(500, 400), (2000, 160)] {
        let (lo, hi) = binomial_interval(chains, 0.05, 0.99);
        for rho in [0.0, 0.5, 0.9] {
            let (rejections, flip) = ar1_rejections(Bootstrap::MarkovChainAuto, n, rho, chains);
            eprintln!(
                "n = {n}, ρ = {rho}: {rejections}/{chains} rejections (99% interval [{lo}, {hi}]), median flip probability {flip:.4}"
            );
            assert!(
                (lo..=hi).contains(&rejections),
                "n = {n}, ρ = {rho}: {rejections} rejections of {chains}, outside [{lo}, {hi}]"
            );
        }
    }
    let (iid, _) = ar1_rejections(Bootstrap::Rademacher, 500, 0.9, 100);
    let (_, hi) = binomial_interval(100, 0.05, 0.99);
    assert!(
        iid > hi,
        "i.i.d. signs should over-reject at ρ = 0.9: {iid} of 100"
    );
}

#[test]
fn the_flip_probability_follows_the_autocorrelation_time() {
    // τ̂ of a long AR(1) chain is near (1 + ρ)/(1 − ρ); the test uses τ̂ of the score
    // s(x) = −x (the same as of x) and a = min(½, 1/√(n τ̂)).
    let model = Gaussian::standard(1).unwrap();
    let ksd = Ksd::new(Imq::default(), Estimator::V);
    let test = KsdTest::new(Bootstrap::MarkovChainAuto, 3)
        .unwrap()
        .with_replicates(9)
        .unwrap();
    for rho in [0.0, 0.5, 0.9] {
        let truth = (1.0 + rho) / (1.0 - rho);
        let long = ar1_chain(100_000, rho, 11);
        let tau = autocorrelation::integrated_autocorrelation_time(long.as_slice()).unwrap();
        assert!(
            (tau / truth - 1.0).abs() < 0.1,
            "ρ = {rho}: τ̂ = {tau}, τ = {truth}"
        );
        let n = 1000;
        let xs = ar1_chain(n, rho, 12);
        let r = test.run(&ksd, &model, &xs, Par::rayon(2)).unwrap();
        let tau = autocorrelation::integrated_autocorrelation_time(xs.as_slice())
            .unwrap()
            .max(1.0);
        assert_eq!(r.autocorrelation_time, Some(tau));
        assert_eq!(
            r.flip_probability,
            Some((1.0 / (n as f64 * tau).sqrt()).min(0.5))
        );
    }
}

#[test]
fn bad_input() {
    use Error::*;
    assert!(matches!(
        Imq::new(0.0, -0.5),
        Err(InvalidParameter { name: "c", .. })
    ));
    assert!(matches!(
        Imq::new(1.0, 0.0),
        Err(InvalidParameter { name: "beta", .. })
    ));
    assert!(matches!(
        Imq::new(1.0, -1.0),
        Err(InvalidParameter { name: "beta", .. })
    ));
    assert!(matches!(
        Imq::new(1.0, f64::NAN),
        Err(InvalidParameter { name: "beta", .. })
    ));
    assert!(matches!(
        Rbf::new(0.0),
        Err(InvalidParameter {
            name: "bandwidth",
            ..
        })
    ));
    assert!(matches!(
        Rbf::new(f64::INFINITY),
        Err(InvalidParameter {
            name: "bandwidth",
            ..
        })
    ));
    // The median heuristic never returns 0 or NaN.
    let same = Samples::from_rows(&[[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]).unwrap();
    assert_eq!(Rbf::median_heuristic(&same).unwrap().bandwidth(), 1.0);
    let one = Samples::from_scalars(vec![3.0]).unwrap();
    assert_eq!(Rbf::median_heuristic(&one).unwrap().bandwidth(), 1.0);

    let p = Gaussian::standard(2).unwrap();
    let xs = p.sample_n(10, 1, Par::Seq).unwrap();
    let ksd = Ksd::new(Imq::default(), Estimator::U);
    assert!(matches!(
        ksd.estimate(&Gaussian::standard(3).unwrap(), &xs, Par::Seq),
        Err(DimensionMismatch { .. })
    ));
    let single = Samples::new(vec![0.0, 0.0], 2).unwrap();
    assert_eq!(
        ksd.estimate(&p, &single, Par::Seq),
        Err(TooFewSamples { needed: 2, got: 1 })
    );
    assert!(
        Ksd::new(Imq::default(), Estimator::V)
            .estimate(&p, &single, Par::Seq)
            .is_ok()
    );
    let dk = DiffusionKsd::new(Imq::default(), IdentityDiffusion::new(3), Estimator::U).unwrap();
    assert!(matches!(
        dk.estimate(&p, &xs, Par::Seq),
        Err(DimensionMismatch {
            what: "dimension of the diffusion",
            ..
        })
    ));
    assert!(matches!(
        DiffusionKsd::new(Imq::default(), IdentityDiffusion::new(0), Estimator::U),
        Err(InvalidParameter { .. })
    ));
    // Non-finite scores and diffusions name the sample.
    struct Blows;
    impl LogDensity for Blows {
        fn dim(&self) -> usize {
            1
        }
        fn log_density(&self, _x: &[f64]) -> f64 {
            0.0
        }
    }
    impl Score for Blows {
        fn score_into(&self, x: &[f64], out: &mut [f64]) {
            out[0] = if x[0] > 1.0 { f64::NAN } else { x[0] };
        }
    }
    let xs1 = Samples::from_scalars(vec![0.0, 0.5, 2.0, 3.0]).unwrap();
    assert_eq!(
        ksd.estimate(&Blows, &xs1, Par::rayon(2)),
        Err(NonFiniteValue {
            quantity: "score of p",
            index: 2
        })
    );
    let bad_m = DiffusionFn::new(
        1,
        |x: &[f64], m: &mut [f64]| m[0] = if x[0] > 0.2 { f64::INFINITY } else { 1.0 },
        |_x: &[f64], dm: &mut [f64]| dm[0] = 0.0,
    );
    let g1 = Gaussian::standard(1).unwrap();
    let dk = DiffusionKsd::new(Imq::default(), bad_m, Estimator::U).unwrap();
    assert_eq!(
        dk.estimate(&g1, &xs1, Par::Seq),
        Err(NonFiniteValue {
            quantity: "diffusion matrix",
            index: 1
        })
    );
    // The test: bad configuration, weights, too few samples, the memory cap.
    assert!(matches!(
        KsdTest::new(
            Bootstrap::MarkovChain {
                flip_probability: 0.0
            },
            1
        ),
        Err(InvalidParameter {
            name: "flip_probability",
            ..
        })
    ));
    assert!(matches!(
        KsdTest::new(
            Bootstrap::MarkovChain {
                flip_probability: 1.0
            },
            1
        ),
        Err(InvalidParameter {
            name: "flip_probability",
            ..
        })
    ));
    let test = KsdTest::new(Bootstrap::Rademacher, 1).unwrap();
    assert!(matches!(
        test.with_replicates(0),
        Err(InvalidParameter {
            name: "replicates",
            ..
        })
    ));
    assert!(matches!(
        test.with_level(1.0),
        Err(InvalidParameter { name: "level", .. })
    ));
    assert!(matches!(
        test.with_level(f64::NAN),
        Err(InvalidParameter { name: "level", .. })
    ));
    assert_eq!(
        test.run(&ksd, &p, &single, Par::Seq),
        Err(TooFewSamples { needed: 2, got: 1 })
    );
    // Weighted samples are tested; weight on fewer than two samples leaves no pair.
    let mut lonely = vec![0.0; 10];
    lonely[3] = 1.0;
    let weighted = xs.clone().with_weights(lonely).unwrap();
    assert_eq!(
        test.run(&ksd, &p, &weighted, Par::Seq),
        Err(TooFewSamples { needed: 2, got: 1 })
    );
    // 8(n + 1024) bytes per weight column, one per replicate and one for the statistic:
    // n = 10 needs 8 272 per column, 16 544 for a pass of one replicate.
    assert_eq!(test.memory_needed(10), 1001 * 8 * (10 + 1024));
    assert_eq!(
        test.with_memory_cap(16_543).run(&ksd, &p, &xs, Par::Seq),
        Err(MemoryCap {
            what: "bootstrap weights of one replicate and the statistic",
            needed_bytes: 16_544,
            cap_bytes: 16_543,
            largest_n: 9,
            remedy: "raise the cap with KsdTest::with_memory_cap",
        })
    );
    // A cap for one replicate runs B passes, with the one-pass result.
    let one_pass = test.run(&ksd, &p, &xs, Par::Seq).unwrap();
    let passes = test
        .with_memory_cap(16_544)
        .run(&ksd, &p, &xs, Par::Seq)
        .unwrap();
    assert_eq!(passes, one_pass);
    let err = test
        .with_memory_cap(100)
        .run(&ksd, &p, &xs, Par::Seq)
        .unwrap_err();
    assert!(matches!(err, MemoryCap { largest_n: 0, .. }), "{err:?}");
}

/// The dense bootstrap (the implementation before streaming, kept as the oracle): the full
/// Stein Gram matrix H, then every replicate from its definition,
/// V: T* = (n/W²) Σ_{i,j} uᵢuⱼHᵢⱼ, U: T* = n Σ_{i≠j} uᵢuⱼHᵢⱼ / (W² − Σwᵢ²), uᵢ = εᵢwᵢ.
fn dense_replicates<S: SteinKernel, P: Score + Sync>(
    stein: &S,
    p: &P,
    xs: &Samples,
    signs: &[f64],
) -> Vec<f64> {
    let n = xs.n();
    let h = stein
        .points(p, xs, Par::Seq)
        .unwrap()
        .gram_matrix_with_cap(Par::Seq, u128::MAX)
        .unwrap();
    let w = |i: usize| xs.weights().map_or(1.0, |w| w[i]);
    let total: f64 = (0..n).map(w).sum();
    let squares: f64 = (0..n).map(|i| w(i) * w(i)).sum();
    signs
        .chunks_exact(n)
        .map(|eps| {
            let (mut all, mut off) = (0.0, 0.0);
            for i in 0..n {
                for j in 0..n {
                    let term = eps[i] * w(i) * eps[j] * w(j) * h[i * n + j];
                    all += term;
                    if i != j {
                        off += term;
                    }
                }
            }
            match stein.estimator() {
                Estimator::V => n as f64 * all / (total * total),
                Estimator::U => n as f64 * off / (total * total - squares),
            }
        })
        .collect()
}

/// Signs: i.i.d. Rademacher (flip = None) or a Markov chain flipping with probability a.
fn sign_table(n: usize, replicates: usize, flip: Option<f64>, seed: u64) -> Vec<f64> {
    let mut rng = random_stream(seed, RandomPurpose::Sampling, 99);
    let mut out = Vec::with_capacity(n * replicates);
    for _ in 0..replicates {
        let mut sign = 1.0;
        for t in 0..n {
            let flip_now = match flip {
                None => rand::RngExt::random::<bool>(&mut rng),
                Some(a) => t > 0 && rand::RngExt::random::<f64>(&mut rng) < a,
            };
            if flip_now {
                sign = -sign;
            }
            out.push(sign);
        }
    }
    out
}

#[test]
fn streaming_bootstrap_equals_the_dense_oracle() {
    // n = 300 spans two row-block columns of tiles (COLS = 256) and five row blocks; the
    // Langevin IMQ goes through the matrix-product tiles, the RBF with β and the DKSD through
    // the pair-by-pair tiles; weights, U and V, both sign laws; Seq and rayon; one pass and
    // many passes under a small memory cap.
    let p = reference_model();
    let base = p.sample_n(300, 17, Par::Seq).unwrap();
    let uneven: Vec<f64> = (0..300).map(|i| 0.25 + (i % 5) as f64).collect();
    let weighted = base.clone().with_weights(uneven).unwrap();
    let imq_v = Ksd::new(Imq::default(), Estimator::V);
    let imq_u = Ksd::new(Imq::new(1.7, -0.3).unwrap(), Estimator::U);
    let rbf_v = Ksd::new(Rbf::new(1.1).unwrap(), Estimator::V);
    let dk_u = DiffusionKsd::new(Imq::default(), reference_diffusion(), Estimator::U).unwrap();
    let test = KsdTest::new(Bootstrap::Rademacher, 0).unwrap();
    let mut checked = 0;
    for xs in [&base, &weighted] {
        for flip in [None, Some(0.05)] {
            let signs = sign_table(300, 12, flip, 3);
            type Case<'a> = (&'a str, Vec<f64>, Vec<Vec<f64>>);
            let cases: Vec<Case> = vec![
                (
                    "imq V",
                    dense_replicates(&imq_v, &p, xs, &signs),
                    runs(&test, &imq_v, &p, xs, &signs),
                ),
                (
                    "imq U",
                    dense_replicates(&imq_u, &p, xs, &signs),
                    runs(&test, &imq_u, &p, xs, &signs),
                ),
                (
                    "rbf V",
                    dense_replicates(&rbf_v, &p, xs, &signs),
                    runs(&test, &rbf_v, &p, xs, &signs),
                ),
                (
                    "dksd U",
                    dense_replicates(&dk_u, &p, xs, &signs),
                    runs(&test, &dk_u, &p, xs, &signs),
                ),
            ];
            for (label, want, got) in cases {
                let scale = want.iter().map(|v| v.abs()).fold(0.0, f64::max);
                for run in &got {
                    for (b, (g, w)) in run.iter().zip(&want).enumerate() {
                        assert!(
                            (g - w).abs() <= 1e-12 * scale,
                            "{label}, flip {flip:?}, weighted {}: T*_{b} = {g} vs {w}",
                            xs.weights().is_some()
                        );
                    }
                    // Any thread count and any pass size: the same bits.
                    assert!(
                        run.iter()
                            .zip(&got[0])
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{label}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 16);
}

/// The replicates of `run_with_weights` on one thread, two and eight threads, and with caps
/// that force passes of 5 replicates and of 1.
fn runs<S: SteinKernel, P: Score + Sync>(
    test: &KsdTest,
    stein: &S,
    p: &P,
    xs: &Samples,
    signs: &[f64],
) -> Vec<Vec<f64>> {
    // Passes of 5 replicates, and of 1 (each pass also carries the statistic's column).
    let five = test.with_memory_cap(test.with_replicates(5).unwrap().memory_needed(xs.n()));
    let one = test.with_memory_cap(test.with_replicates(1).unwrap().memory_needed(xs.n()));
    [
        (test, Par::Seq),
        (test, Par::rayon(2)),
        (test, Par::rayon(8)),
        (&five, Par::rayon(2)),
        (&one, Par::Seq),
        (&one, Par::rayon(3)),
    ]
    .into_iter()
    .map(|(t, par)| t.run_with_weights(stein, p, xs, signs, par).unwrap().1)
    .collect()
}

//! The tests that scale (docs/math.md section 14): the parametric bootstrap, the aggregated
//! test, the tilted diffusion, and the two benchmark models (Gamma, Gauss–Bernoulli RBM) —
//! against closed forms, autodiff, exact enumeration and their calibration under the null.

use dsm_core::testing::{all_close, close, finite_difference_diffusion_gradient};
use dsm_core::*;

mod common;
use dsm_core::testing::binomial_interval;

#[test]
fn gamma_density_score_and_sampler() {
    // Γ(5) = 24 and Γ(½) = √π: the normalising constant without ln Γ.
    let g = GammaDist::new(5.0, 5.0).unwrap();
    let want = 4.0 * 20f64.ln() - 4.0 - 24f64.ln() - 5.0 * 5f64.ln();
    assert!(close(g.log_pdf(20.0), want, 1e-14, 0.0));
    let half = GammaDist::new(0.5, 2.0).unwrap();
    let want = -0.5 * 3f64.ln() - 1.5 - 0.5 * std::f64::consts::PI.ln() - 0.5 * 2f64.ln();
    assert!(close(half.log_pdf(3.0), want, 1e-14, 0.0));
    assert_eq!(g.log_pdf(-1.0), f64::NEG_INFINITY);
    assert!(g.score(0.0).is_nan());
    // Score and Hessian against forward-mode autodiff of the generic log-density.
    let auto = AutoDiff::new(g);
    for x in [1e-8, 0.3, 7.0, 20.0, 1e4] {
        assert!(all_close(
            &g.try_score(&[x]).unwrap(),
            &auto.try_score(&[x]).unwrap(),
            1e-13
        ));
        assert!(all_close(
            &g.try_hessian(&[x]).unwrap(),
            &auto.try_hessian(&[x]).unwrap(),
            1e-13
        ));
    }
    // Mean kθ = 25 and variance kθ² = 125 from 20 000 seeded draws (4 standard errors).
    let xs = g.sample_n(20_000, 3, Par::rayon(2)).unwrap();
    let mean = xs.as_slice().iter().sum::<f64>() / 20_000.0;
    let var = xs
        .as_slice()
        .iter()
        .map(|x| (x - mean).powi(2))
        .sum::<f64>()
        / 19_999.0;
    assert!(
        (mean - 25.0).abs() < 4.0 * (125.0f64 / 20_000.0).sqrt(),
        "{mean}"
    );
    assert!(
        (var - 125.0).abs() < 4.0 * 125.0 * (2.0f64 / 20_000.0 * 4.0).sqrt(),
        "{var}"
    );
    for (shape, scale) in [
        (0.0, 1.0),
        (1.0, f64::NAN),
        (f64::INFINITY, 1.0),
        (1.0, -2.0),
    ] {
        assert!(matches!(
            GammaDist::new(shape, scale),
            Err(Error::InvalidParameter { .. })
        ));
    }
}

/// A small RBM (d_x = 4, d_h = 3) with deterministic weights.
fn small_rbm() -> GaussBernoulliRbm {
    let w: Vec<f64> = (0..12).map(|k| ((k * 7 % 5) as f64 - 2.0) * 0.4).collect();
    GaussBernoulliRbm::new(w, 4, 3, vec![0.3, -0.2, 0.0, 0.5], vec![0.1, -0.4, 0.2]).unwrap()
}

#[test]
fn rbm_score_hessian_and_gibbs_sampler_are_exact() {
    let rbm = small_rbm();
    let auto = AutoDiff::new(rbm.clone());
    for x in [
        [0.0, 0.0, 0.0, 0.0],
        [1.5, -2.0, 0.3, 4.0],
        [-40.0, 30.0, 10.0, -5.0],
    ] {
        assert!(all_close(
            &rbm.try_score(&x).unwrap(),
            &auto.try_score(&x).unwrap(),
            1e-13
        ));
        assert!(all_close(
            &rbm.try_hessian(&x).unwrap(),
            &auto.try_hessian(&x).unwrap(),
            1e-13
        ));
        let fd = dsm_core::testing::finite_difference_score(&rbm, &x, 1e-5);
        assert!(all_close(&rbm.try_score(&x).unwrap(), &fd, 1e-7));
    }
    // E[x] by enumeration of h ∈ {±1}³: p(h) ∝ exp(cᵀh + ½‖b + ½Bh‖²), E[x | h] = b + ½Bh.
    let (w, b, c) = (
        rbm.weights().to_vec(),
        [0.3, -0.2, 0.0, 0.5],
        [0.1, -0.4, 0.2],
    );
    let mut mean = [0.0; 4];
    let mut total = 0.0;
    for code in 0..8 {
        let h: Vec<f64> = (0..3)
            .map(|j| if code >> j & 1 == 1 { 1.0 } else { -1.0 })
            .collect();
        let m: Vec<f64> = (0..4)
            .map(|i| b[i] + 0.5 * (0..3).map(|j| w[i * 3 + j] * h[j]).sum::<f64>())
            .collect();
        let weight = ((0..3).map(|j| c[j] * h[j]).sum::<f64>()
            + 0.5 * m.iter().map(|v| v * v).sum::<f64>())
        .exp();
        total += weight;
        for i in 0..4 {
            mean[i] += weight * m[i];
        }
    }
    let rbm = rbm.with_burn_in(200).unwrap();
    let xs = rbm.sample_n(20_000, 5, Par::rayon(2)).unwrap();
    for i in 0..4 {
        let want = mean[i] / total;
        let col: Vec<f64> = xs.rows().map(|r| r[i]).collect();
        let got = col.iter().sum::<f64>() / col.len() as f64;
        let sd = (col.iter().map(|v| (v - got).powi(2)).sum::<f64>() / col.len() as f64).sqrt();
        assert!(
            (got - want).abs() < 4.0 * sd / (col.len() as f64).sqrt(),
            "x_{i}: {got} vs {want}"
        );
    }
    // The batched chains are the same for any thread count.
    assert_eq!(
        rbm.sample_n(600, 1, Par::Seq).unwrap(),
        rbm.sample_n(600, 1, Par::rayon(3)).unwrap()
    );
    assert!(matches!(
        GaussBernoulliRbm::new(vec![0.0; 5], 2, 3, vec![0.0; 2], vec![0.0; 3]),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        GaussBernoulliRbm::new(vec![f64::NAN; 6], 2, 3, vec![0.0; 2], vec![0.0; 3]),
        Err(Error::InvalidParameter {
            name: "weights",
            ..
        })
    ));
}

#[test]
fn tilted_diffusion_derivatives_and_its_diagonal_path() {
    let m = TiltedDiffusion::new(vec![0.5, -1.0, 2.0], 1.3).unwrap();
    for x in [[0.0, 0.0, 0.0], [3.0, -2.0, 7.0], [-50.0, 20.0, 1.0]] {
        let mut dm = vec![0.0; 27];
        m.matrix_gradient_into(&x, &mut dm).unwrap();
        let fd = finite_difference_diffusion_gradient(&m, &x, 1e-5);
        assert!(all_close(&dm, &fd, 1e-7), "{x:?}");
    }
    // The DKSD through the diagonal path equals the dense path of the same m.
    let model = Gaussian::standard(3).unwrap();
    let xs = StudentT::new(0.0, 1.0, 3.0)
        .unwrap()
        .sample_n(300, 1, Par::Seq)
        .unwrap();
    let xs = Samples::new(xs.as_slice().iter().cycle().take(300).copied().collect(), 3).unwrap();
    let dense = DiffusionFn::new(
        3,
        |x: &[f64], out: &mut [f64]| {
            TiltedDiffusion::new(vec![0.5, -1.0, 2.0], 1.3)
                .unwrap()
                .matrix_into(x, out)
                .unwrap()
        },
        |x: &[f64], out: &mut [f64]| {
            TiltedDiffusion::new(vec![0.5, -1.0, 2.0], 1.3)
                .unwrap()
                .matrix_gradient_into(x, out)
                .unwrap()
        },
    );
    for est in [Estimator::U, Estimator::V] {
        let a = DiffusionKsd::new(Imq::default(), m.clone(), est)
            .unwrap()
            .estimate(&model, &xs, Par::Seq)
            .unwrap();
        let b = DiffusionKsd::new(Imq::default(), &dense, est)
            .unwrap()
            .estimate(&model, &xs, Par::Seq)
            .unwrap();
        assert!(
            close(a.value, b.value, 1e-12, 1e-14),
            "{est:?}: {} vs {}",
            a.value,
            b.value
        );
    }
    let centred = TiltedDiffusion::centred_on(&xs, 1.0).unwrap();
    let mean0 = xs.rows().map(|r| r[0]).sum::<f64>() / 100.0;
    assert!(close(centred.centre()[0], mean0, 1e-13, 1e-15));
    assert!(matches!(
        TiltedDiffusion::new(vec![], 1.0),
        Err(Error::InvalidParameter { name: "centre", .. })
    ));
    assert!(matches!(
        TiltedDiffusion::new(vec![0.0], f64::NAN),
        Err(Error::InvalidParameter { name: "gamma", .. })
    ));
}

#[test]
fn parametric_bootstrap_is_calibrated_and_reusable() {
    // 300 seeded replications of n = 50 draws from N(0, 1), B = 99, α = 0.05, IMQ V-statistic:
    // rejections in the exact binomial(300, 0.05) 99% interval.
    let (lo, hi) = binomial_interval(300, 0.05, 0.99);
    assert_eq!((lo, hi), (6, 25), "the interval stated above");
    let model = Gaussian::standard(1).unwrap();
    let ksd = Ksd::new(Imq::default(), Estimator::V);
    let test = ParametricKsdTest::new(4).with_replicates(99).unwrap();
    let null = test
        .null_distribution(&ksd, &model, 50, Par::rayon(2))
        .unwrap();
    let rejections = (0..300u64)
        .filter(|&rep| {
            let xs = model.sample_n(50, 40_000 + rep, Par::Seq).unwrap();
            ParametricKsdTest::new(rep)
                .with_replicates(99)
                .unwrap()
                .run(&ksd, &model, &xs, Par::rayon(2))
                .unwrap()
                .reject
        })
        .count() as u64;
    assert!(
        (lo..=hi).contains(&rejections),
        "{rejections} rejections of 300"
    );
    // A null distribution computed once gives the result of `run` with the same seed.
    let xs = StudentT::new(0.0, 1.0, 2.0)
        .unwrap()
        .sample_n(50, 9, Par::Seq)
        .unwrap();
    let once = test
        .run_with_null(&null, &ksd, &model, &xs, Par::Seq)
        .unwrap();
    let fresh = test.run(&ksd, &model, &xs, Par::Seq).unwrap();
    assert_eq!(once, fresh);
    assert!(
        fresh.parametric && fresh.to_string().contains("parametric bootstrap"),
        "{fresh}"
    );
    // Bit-identical for any thread count.
    let again = test.null_distribution(&ksd, &model, 50, Par::Seq).unwrap();
    assert_eq!(again, null);
    // Bad input.
    assert!(matches!(
        ParametricKsdTest::new(1).with_replicates(0),
        Err(Error::InvalidParameter { .. })
    ));
    let short = model.sample_n(49, 1, Par::Seq).unwrap();
    assert!(matches!(
        test.run_with_null(&null, &ksd, &model, &short, Par::Seq),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        test.null_distribution(&ksd, &model, 1, Par::Seq),
        Err(Error::TooFewSamples { .. })
    ));
    let weighted = xs.clone().with_weights(vec![1.0; 50]).unwrap();
    assert!(matches!(
        test.run(&ksd, &model, &weighted, Par::Seq),
        Err(Error::Unsupported { .. })
    ));
}

/// IMQ kernels at bandwidths {¼, 1, 4} × the median distance and the tilted diffusion (γ = 1).
fn collection(xs: &Samples) -> (Vec<Ksd<Imq>>, DiffusionKsd<Imq, TiltedDiffusion>) {
    let med = Rbf::median_heuristic(xs).unwrap().bandwidth();
    let kernels = [0.25, 1.0, 4.0]
        .iter()
        .map(|f| Ksd::new(Imq::new(f * med, -0.5).unwrap(), Estimator::U))
        .collect();
    let tilted = DiffusionKsd::new(
        Imq::new(med, -0.5).unwrap(),
        TiltedDiffusion::new(vec![0.0; xs.dim()], 1.0).unwrap(),
        Estimator::U,
    )
    .unwrap();
    (kernels, tilted)
}

#[test]
fn aggregated_test_is_calibrated_and_has_power() {
    // 300 seeded replications of n = 100 draws from N(0, I₂) with 4 candidates, B₁ = B₂ = 200:
    // rejections in the binomial(300, 0.05) 99% interval [6, 26].
    let model = Gaussian::standard(2).unwrap();
    let agg = AggregatedKsdTest::new(Bootstrap::Rademacher, 0)
        .unwrap()
        .with_replicates(200, 200)
        .unwrap();
    let (lo, hi) = binomial_interval(300, 0.05, 0.99);
    let mut u_sum = 0.0;
    let rejections = (0..300u64)
        .filter(|&rep| {
            let xs = model.sample_n(100, 80_000 + rep, Par::Seq).unwrap();
            let (kernels, tilted) = collection(&xs);
            let mut candidates: Vec<Candidate> =
                kernels.iter().map(|k| Candidate::new("imq", k)).collect();
            candidates.push(Candidate::new("tilted", &tilted));
            let test = AggregatedKsdTest::new(Bootstrap::Rademacher, rep)
                .unwrap()
                .with_replicates(200, 200)
                .unwrap();
            let r = test.run(&candidates, &model, &xs, Par::rayon(2)).unwrap();
            u_sum += r.u_alpha;
            r.reject
        })
        .count() as u64;
    assert!(
        (lo..=hi).contains(&rejections),
        "{rejections} rejections of 300"
    );
    // Dependent candidates: on average the correction is less strict than Bonferroni
    // (u = α, each candidate at level α w_λ).
    let u_mean = u_sum / 300.0;
    assert!(u_mean > 0.05, "mean u_α = {u_mean}");
    // Power: Student-t(3) in 2-D (independent coordinates) against N(0, I₂), n = 300.
    let t3 = StudentT::new(0.0, 1.0, 3.0).unwrap();
    let power = (0..30u64)
        .filter(|&rep| {
            let raw = t3.sample_n(600, 90_000 + rep, Par::Seq).unwrap();
            let xs = Samples::new(raw.as_slice().to_vec(), 2).unwrap();
            let (kernels, tilted) = collection(&xs);
            let mut candidates: Vec<Candidate> =
                kernels.iter().map(|k| Candidate::new("imq", k)).collect();
            candidates.push(Candidate::new("tilted", &tilted));
            agg.run(&candidates, &model, &xs, Par::rayon(2))
                .unwrap()
                .reject
        })
        .count();
    assert!(power >= 20, "{power} rejections of 30");
}

#[test]
fn aggregation_over_copies_is_the_single_test_and_bad_input_is_typed() {
    // K copies of one candidate: u_α = K u_α,1 and the same threshold (the correction sees
    // that the copies are one test).
    let model = Gaussian::standard(1).unwrap();
    let xs = StudentT::new(0.0, 1.0, 4.0)
        .unwrap()
        .sample_n(150, 2, Par::Seq)
        .unwrap();
    let ksd = Ksd::new(Imq::default(), Estimator::U);
    let agg = AggregatedKsdTest::new(Bootstrap::Rademacher, 5)
        .unwrap()
        .with_replicates(300, 300)
        .unwrap();
    let one = agg
        .run(&[Candidate::new("a", &ksd)], &model, &xs, Par::Seq)
        .unwrap();
    let three = agg
        .run(
            &[
                Candidate::new("a", &ksd),
                Candidate::new("b", &ksd),
                Candidate::new("c", &ksd),
            ],
            &model,
            &xs,
            Par::Seq,
        )
        .unwrap();
    assert!(
        close(three.u_alpha, 3.0 * one.u_alpha, 1e-9, 1e-12),
        "{} vs {}",
        three.u_alpha,
        one.u_alpha
    );
    assert_eq!(three.candidates[2].threshold, one.candidates[0].threshold);
    assert_eq!(three.reject, one.reject);
    assert!(three.to_string().contains("over 3 candidates"), "{three}");
    // With one candidate the decision is the wild-bootstrap test's at the corrected level.
    assert!(one.u_alpha > 0.0 && one.u_alpha <= 1.0);
    // Bad input.
    assert!(matches!(
        AggregatedKsdTest::new(Bootstrap::MarkovChainAuto, 1),
        Err(Error::Unsupported { .. })
    ));
    assert!(matches!(
        agg.run(&[], &model, &xs, Par::Seq),
        Err(Error::TooFewSamples { .. })
    ));
    let mut bad = Candidate::new("bad", &ksd);
    bad.weight = f64::NAN;
    assert!(matches!(
        agg.run(&[bad], &model, &xs, Par::Seq),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        agg.with_replicates(0, 10),
        Err(Error::InvalidParameter { .. })
    ));
    let wrong = Gaussian::standard(2).unwrap();
    assert!(matches!(
        agg.run(&[Candidate::new("a", &ksd)], &wrong, &xs, Par::Seq),
        Err(Error::DimensionMismatch { .. })
    ));
}

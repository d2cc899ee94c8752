//! The conventions users expect: `Display` of the result types (pinned strings),
//! `rand::distr::Distribution` sampling consistent with `Sampler`, scalar conveniences of the
//! 1-D Student-t, the one-call `ksd_test`, the Stein Gram matrix, and serde round trips.

use std::time::Duration;

use chacha20::ChaCha8Rng;
use dsm_core::*;
use rand::distr::Distribution;
use rand::{RngExt, SeedableRng};

fn est(value: f64, std_err: f64, n: usize) -> Estimate {
    Estimate { value, std_err, n }
}

#[test]
fn estimate_display_rounds_to_two_significant_digits_of_the_standard_error() {
    let cases = [
        (
            est(0.123_456, 0.004_012, 1000),
            "0.1235 ± 0.0040 (n = 1000)",
        ),
        (est(-12.3456, 0.51, 50), "-12.35 ± 0.51 (n = 50)"),
        (est(1234.5678, 2.5, 7), "1234.6 ± 2.5 (n = 7)"),
        (est(0.0, 0.01, 2), "0.000 ± 0.010 (n = 2)"),
        (est(5.0, 1234.0, 3), "5 ± 1234 (n = 3)"),
        // Tiny and huge scales switch to scientific notation.
        (est(3.2e-9, 4.1e-11, 10), "3.200e-9 ± 4.1e-11 (n = 10)"),
        (est(-3.2e-9, 4.1e-11, 10), "-3.200e-9 ± 4.1e-11 (n = 10)"),
        (
            est(1.234_567_89e8, 12_345.0, 4),
            "1.23457e8 ± 1.2e4 (n = 4)",
        ),
        (est(2.0e12, 0.5, 9), "2.00000000000000e12 ± 5.0e-1 (n = 9)"),
        // No scale to round to: four significant digits of the value.
        (est(2.5, f64::INFINITY, 1), "2.500 ± inf (n = 1)"),
        (est(-1e-300, f64::INFINITY, 1), "-1.000e-300 ± inf (n = 1)"),
        (est(2.0, 0.0, 3), "2.000 ± 0 (n = 3)"),
    ];
    for (e, want) in cases {
        assert_eq!(e.to_string(), want, "{e:?}");
    }
}

#[test]
fn a_precision_in_the_format_string_overrides_the_rounding() {
    let e = est(0.123_456, 0.004_012, 1000);
    assert_eq!(format!("{e:.3}"), "0.123 ± 0.004 (n = 1000)");
    assert_eq!(format!("{e:.0}"), "0 ± 0 (n = 1000)");
    assert_eq!(
        format!("{:.2}", est(2.5, f64::INFINITY, 1)),
        "2.50 ± inf (n = 1)"
    );
    let k = KsdEstimate {
        value: 0.123_456,
        std_err: 0.004_012,
        n: 10,
        estimator: Estimator::U,
    };
    assert_eq!(format!("{k:.3}"), "0.123 ± 0.004 (U-statistic, n = 10)");
}

#[test]
fn ksd_estimate_display_names_the_estimator() {
    let k = |value, std_err, n, estimator| KsdEstimate {
        value,
        std_err,
        n,
        estimator,
    };
    let cases = [
        (
            k(0.0123, 0.0004, 500, Estimator::V),
            "0.01230 ± 0.00040 (V-statistic, n = 500)",
        ),
        (
            k(-0.000_12, 0.0003, 100, Estimator::U),
            "-0.00012 ± 0.00030 (U-statistic, n = 100)",
        ),
        (
            k(4.5e-8, 2.2e-9, 100_000, Estimator::U),
            "4.50e-8 ± 2.2e-9 (U-statistic, n = 100000)",
        ),
        (
            k(0.7, f64::INFINITY, 1, Estimator::V),
            "0.7000 ± inf (V-statistic, n = 1)",
        ),
    ];
    for (e, want) in cases {
        assert_eq!(e.to_string(), want, "{e:?}");
    }
    assert_eq!(Estimator::U.to_string(), "U-statistic");
    assert_eq!(Estimator::V.to_string(), "V-statistic");
}

fn test_result() -> KsdTestResult {
    KsdTestResult {
        statistic: 1.234_567,
        p_value: 0.042,
        critical_value: 0.987_654,
        level: 0.05,
        reject: true,
        replicates: 1000,
        n: 200,
        estimator: Estimator::V,
        flip_probability: None,
        autocorrelation_time: None,
        parametric: false,
        elapsed: Duration::from_millis(15),
    }
}

#[test]
fn ksd_test_result_display_reports_the_decision_and_the_settings() {
    let r = test_result();
    assert_eq!(
        r.to_string(),
        "T = 1.235, p-value = 0.0420: H₀ rejected at α = 0.05 (critical value 0.9877; \
         V-statistic, Rademacher weights, B = 1000, n = 200; 0.0150 s)"
    );
    assert_eq!(
        format!("{r:.2}"),
        "T = 1.23, p-value = 0.04: H₀ rejected at α = 0.05 (critical value 0.99; \
         V-statistic, Rademacher weights, B = 1000, n = 200; 0.0150 s)"
    );
    let markov = KsdTestResult {
        statistic: 12_345.678,
        p_value: 1.0,
        critical_value: 3.2e-7,
        level: 0.01,
        reject: false,
        replicates: 99,
        n: 5000,
        estimator: Estimator::U,
        flip_probability: Some(0.031_622_8),
        autocorrelation_time: Some(2.5),
        parametric: false,
        elapsed: Duration::from_secs(83),
    };
    assert_eq!(
        markov.to_string(),
        "T = 12346, p-value = 1.00: H₀ not rejected at α = 0.01 (critical value 3.200e-7; \
         U-statistic, Markov-chain weights with flip probability 0.0316, τ̂ = 2.50, \
         B = 99, n = 5000; 83.0 s)"
    );
    let fixed = KsdTestResult {
        flip_probability: Some(0.1),
        autocorrelation_time: None,
        parametric: false,
        statistic: -0.5,
        elapsed: Duration::ZERO,
        ..test_result()
    };
    assert_eq!(
        fixed.to_string(),
        "T = -0.5000, p-value = 0.0420: H₀ rejected at α = 0.05 (critical value 0.9877; \
         V-statistic, Markov-chain weights with flip probability 0.100, B = 1000, n = 200; \
         0 s)"
    );
}

#[test]
fn equality_of_test_results_ignores_the_wall_time() {
    let a = test_result();
    let b = KsdTestResult {
        elapsed: Duration::from_secs(9),
        ..test_result()
    };
    assert_eq!(a, b);
    assert_ne!(
        a,
        KsdTestResult {
            p_value: 0.043,
            ..test_result()
        }
    );
}

/// Draws with `Distribution::sample` equal draws with `Sampler::sample_into` from the same
/// RNG state, and leave the RNG in the same state.
fn same_draws<S, T>(model: &S, to_vec: impl Fn(T) -> Vec<f64>)
where
    S: Sampler + Distribution<T>,
{
    let mut a = ChaCha8Rng::seed_from_u64(11);
    let mut b = ChaCha8Rng::seed_from_u64(11);
    let mut out = vec![0.0; model.dim()];
    for _ in 0..100 {
        let x = to_vec(model.sample(&mut a));
        model.sample_into(&mut b, &mut out);
        assert_eq!(x, out);
    }
    assert_eq!(a.random::<u64>(), b.random::<u64>());
    // sample_n_with is the same sequence of draws.
    let mut c = ChaCha8Rng::seed_from_u64(11);
    let xs = model.sample_n_with(&mut c, 100).unwrap();
    let mut d = ChaCha8Rng::seed_from_u64(11);
    for i in 0..100 {
        assert_eq!(xs.row(i), &to_vec(model.sample(&mut d))[..]);
    }
    assert_eq!(c.random::<u64>(), d.random::<u64>());
}

#[test]
fn distribution_draws_are_the_sampler_draws() {
    same_draws(&StudentT::new(1.0, 2.0, 3.0).unwrap(), |x: f64| vec![x]);
    same_draws(
        &Gaussian::new(vec![1.0, -2.0], &[2.0, 0.5, 0.5, 1.0]).unwrap(),
        |x: Vec<f64>| x,
    );
    same_draws(
        &MultivariateStudentT::new(vec![0.5, -1.0], &[1.0, 0.3, 0.3, 2.0], 10.0).unwrap(),
        |x: Vec<f64>| x,
    );
}

/// Per-coordinate mean and (unbiased) variance of row-major points.
fn moments(points: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = (points.len() / d) as f64;
    let mean: Vec<f64> = (0..d)
        .map(|k| points.iter().skip(k).step_by(d).sum::<f64>() / n)
        .collect();
    let var = (0..d)
        .map(|k| {
            points
                .iter()
                .skip(k)
                .step_by(d)
                .map(|x| (x - mean[k]).powi(2))
                .sum::<f64>()
                / (n - 1.0)
        })
        .collect();
    (mean, var)
}

/// Means and variances of n Distribution draws and of `sample_n` against the true values:
/// each within 4 standard errors (two-sided α ≈ 6e−5 per comparison under normality), with
/// se(mean) = √(σ²/n) and se(s²) = σ² √((κ − 1)/n) for the kurtosis κ.
fn check_moments<S, T>(
    model: &S,
    to_vec: impl Fn(T) -> Vec<f64>,
    mean: &[f64],
    var: &[f64],
    kurtosis: f64,
) where
    S: Sampler + Distribution<T> + Sync,
{
    let n = 40_000;
    let d = model.dim();
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let drawn: Vec<f64> = (0..n)
        .flat_map(|_| to_vec(model.sample(&mut rng)))
        .collect();
    let seeded = model.sample_n(n, 2024, Par::rayon(2)).unwrap();
    for (label, points) in [
        ("Distribution", &drawn[..]),
        ("sample_n", seeded.as_slice()),
    ] {
        let (m, v) = moments(points, d);
        for k in 0..d {
            let se_mean = (var[k] / n as f64).sqrt();
            let se_var = var[k] * ((kurtosis - 1.0) / n as f64).sqrt();
            assert!(
                (m[k] - mean[k]).abs() < 4.0 * se_mean,
                "{label}: mean {} vs {}",
                m[k],
                mean[k]
            );
            assert!(
                (v[k] - var[k]).abs() < 4.0 * se_var,
                "{label}: variance {} vs {}",
                v[k],
                var[k]
            );
        }
    }
}

#[test]
fn distribution_and_sample_n_have_the_model_moments() {
    // St(1, 2, 10): mean 1, variance σ²ν/(ν−2) = 5, kurtosis 3 + 6/(ν−4) = 4.
    check_moments(
        &StudentT::new(1.0, 2.0, 10.0).unwrap(),
        |x: f64| vec![x],
        &[1.0],
        &[5.0],
        4.0,
    );
    // N(μ, Σ): kurtosis 3 per coordinate.
    check_moments(
        &Gaussian::new(vec![1.0, -2.0], &[2.0, 0.5, 0.5, 1.0]).unwrap(),
        |x: Vec<f64>| x,
        &[1.0, -2.0],
        &[2.0, 1.0],
        3.0,
    );
    // Multivariate t, ν = 10: covariance ν/(ν−2) Σ, marginal kurtosis 4.
    check_moments(
        &MultivariateStudentT::new(vec![0.5, -1.0], &[1.0, 0.3, 0.3, 2.0], 10.0).unwrap(),
        |x: Vec<f64>| x,
        &[0.5, -1.0],
        &[1.25, 2.5],
        4.0,
    );
}

#[test]
fn sample_n_with_rejects_zero_points() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let err = Gaussian::standard(2)
        .unwrap()
        .sample_n_with(&mut rng, 0)
        .unwrap_err();
    assert!(
        matches!(err, Error::TooFewSamples { needed: 1, got: 0 }),
        "{err:?}"
    );
    let err = Gaussian::standard(2)
        .unwrap()
        .sample_n_with(&mut rng, usize::MAX)
        .unwrap_err();
    assert!(matches!(err, Error::MemoryCap { .. }), "{err:?}");
}

#[test]
fn student_t_scalar_methods_are_the_trait_methods() {
    let t = StudentT::new(-0.7, 1.9, 2.5).unwrap();
    for x in [-1e300, -1e10, -3.0, -0.7, 0.0, 0.25, 4.0, 1e12, 1e300] {
        assert_eq!(t.log_pdf(x).to_bits(), t.log_density(&[x]).to_bits(), "{x}");
        assert_eq!(t.pdf(x), t.log_pdf(x).exp(), "{x}");
        let mut s = [0.0];
        t.score_into(&[x], &mut s);
        assert_eq!(t.score(x).to_bits(), s[0].to_bits(), "{x}");
        t.hessian_into(&[x], &mut s);
        assert_eq!(t.score_derivative(x).to_bits(), s[0].to_bits(), "{x}");
        let (cdf, sf) = (t.cdf(x).unwrap(), t.sf(x).unwrap());
        assert!((cdf + sf - 1.0).abs() < 1e-14, "{x}: {cdf} + {sf}");
    }
    // mpmath 1.3.0, mp.dps = 40, z = (x − μ)/σ:
    //   loggamma((ν+1)/2) − loggamma(ν/2) − log(sqrt(νπ)·σ) − (ν+1)/2·log(1 + z²/ν)
    //   1 − betainc(ν/2, 1/2, 0, ν/(ν+z²), regularized=True)/2
    // at x = 0.25, μ = −0.7, σ = 1.9, ν = 2.5.
    assert!((t.log_pdf(0.25) + 1.825_286_294_290_413_3).abs() < 1e-14);
    assert!((t.cdf(0.25).unwrap() - 0.671_151_040_065_142_7).abs() < 1e-14);
    assert!(t.cdf(f64::NAN).is_err() && t.sf(f64::NAN).is_err());
}

#[test]
fn ksd_test_is_the_documented_default_test() {
    let model = Gaussian::standard(2).unwrap();
    let xs = model.sample_n(150, 5, Par::Seq).unwrap();
    let one_call = ksd_test(&model, &xs, 9, Par::rayon(2)).unwrap();
    let explicit = KsdTest::new(Bootstrap::Rademacher, 9)
        .unwrap()
        .run(
            &Ksd::new(Imq::new(1.0, -0.5).unwrap(), Estimator::V),
            &model,
            &xs,
            Par::Seq,
        )
        .unwrap();
    assert_eq!(one_call, explicit);
    assert_eq!(
        (one_call.replicates, one_call.level, one_call.estimator),
        (1000, 0.05, Estimator::V)
    );
    assert_eq!(one_call.flip_probability, None);
    assert!(one_call.elapsed > Duration::ZERO);
    // A shifted model is rejected; too few samples are an error; unit weights change nothing.
    let shifted = Gaussian::new(vec![1.0, 0.0], &[1.0, 0.0, 0.0, 1.0]).unwrap();
    assert!(ksd_test(&shifted, &xs, 9, Par::Seq).unwrap().reject);
    let one = Samples::new(vec![0.0, 0.0], 2).unwrap();
    assert!(matches!(
        ksd_test(&model, &one, 9, Par::Seq),
        Err(Error::TooFewSamples { needed: 2, got: 1 })
    ));
    let weighted = xs.clone().with_weights(vec![1.0; 150]).unwrap();
    let same = ksd_test(&model, &weighted, 9, Par::Seq).unwrap();
    let plain = ksd_test(&model, &xs, 9, Par::Seq).unwrap();
    assert!((same.statistic - plain.statistic).abs() <= 1e-12 * plain.statistic.abs());
    assert_eq!(same.p_value, plain.p_value);
}

#[test]
fn gram_matrix_and_value_agree_with_stein_kernel() {
    let model = MultivariateStudentT::new(vec![0.0, 0.5], &[1.0, 0.2, 0.2, 1.5], 4.0).unwrap();
    let xs = model.sample_n(70, 8, Par::Seq).unwrap();
    let ksd = Ksd::new(Imq::default(), Estimator::U);
    let diffusion = DiffusionKsd::new(
        Rbf::new(0.8).unwrap(),
        ConstantDiffusion::new(2, vec![1.0, 0.3, 0.0, 2.0]).unwrap(),
        Estimator::V,
    )
    .unwrap();
    fn check<K: Kernel>(points: &SteinPoints<'_, K>, estimate: KsdEstimate) {
        let n = points.n();
        let h = points.gram_matrix(Par::Seq).unwrap();
        assert_eq!(
            h,
            points.gram_matrix(Par::rayon(2)).unwrap(),
            "bit-identical"
        );
        let mut scratch = PairScratch::default();
        for i in 0..n {
            for j in 0..n {
                let k0 = points.stein_kernel(i.min(j), i.max(j), &mut scratch);
                assert_eq!(h[i * n + j].to_bits(), k0.to_bits(), "({i}, {j})");
                assert_eq!(points.value(i.min(j), i.max(j)), Some(k0));
            }
        }
        assert_eq!(points.value(n, 0), None);
        assert_eq!(points.value(0, n), None);
        let total: f64 = h.iter().sum();
        let trace: f64 = (0..n).map(|i| h[i * n + i]).sum();
        let mean = match estimate.estimator {
            Estimator::U => (total - trace) / (n * (n - 1)) as f64,
            Estimator::V => total / (n * n) as f64,
        };
        assert!(
            (mean - estimate.value).abs() <= 1e-12 * estimate.value.abs().max(1e-3),
            "{mean} vs {}",
            estimate.value
        );
        let err = points
            .gram_matrix_with_cap(Par::Seq, 8 * 70 * 70 - 1)
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::MemoryCap {
                    needed_bytes: 39_200,
                    cap_bytes: 39_199,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(points.gram_matrix_with_cap(Par::Seq, 8 * 70 * 70).is_ok());
    }
    check(
        &ksd.points(&model, &xs, Par::Seq).unwrap(),
        ksd.estimate(&model, &xs, Par::Seq).unwrap(),
    );
    check(
        &diffusion.points(&model, &xs, Par::Seq).unwrap(),
        diffusion.estimate(&model, &xs, Par::Seq).unwrap(),
    );
}

#[cfg(feature = "serde")]
#[test]
fn results_round_trip_through_json() {
    let r = KsdTestResult {
        flip_probability: Some(0.25),
        autocorrelation_time: Some(3.0),
        parametric: false,
        ..test_result()
    };
    let json = serde_json::to_string(&r).unwrap();
    let back: KsdTestResult = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    assert_eq!(back.elapsed, r.elapsed);
    // Data written before `elapsed` existed still reads, with a zero wall time.
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value.as_object_mut().unwrap().remove("elapsed");
    let old: KsdTestResult = serde_json::from_value(value).unwrap();
    assert_eq!((old.elapsed, &old), (Duration::ZERO, &r));
    let e = est(0.5, 0.01, 10);
    assert_eq!(
        serde_json::from_str::<Estimate>(&serde_json::to_string(&e).unwrap()).unwrap(),
        e
    );
    let k = KsdEstimate {
        value: 0.1,
        std_err: 0.02,
        n: 3,
        estimator: Estimator::U,
    };
    assert_eq!(
        serde_json::from_str::<KsdEstimate>(&serde_json::to_string(&k).unwrap()).unwrap(),
        k
    );
    let b = Bootstrap::MarkovChain {
        flip_probability: 0.2,
    };
    assert_eq!(
        serde_json::from_str::<Bootstrap>(&serde_json::to_string(&b).unwrap()).unwrap(),
        b
    );
}

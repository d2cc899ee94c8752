//! The composite KSD test (docs/math.md eq. 14.4): calibrated when the data come from some
//! member of the family, powerful when they do not, and conservative without the refit.

use dsm_core::testing::binomial_interval;
use dsm_core::*;
use dsm_fit::{CompositeKsdTest, GaussianMeanFamily, Objective};

fn draw(theta: &[f64], n: usize, seed: u64) -> Result<Samples> {
    Gaussian::new(theta.to_vec(), &[1.0])?.sample_n(n, seed, Par::Seq)
}

#[test]
fn calibrated_inside_the_family_and_powerful_outside() {
    // H₀: N(μ, 1) for some μ. 200 replications of n = 50 draws from N(1.7, 1), B = 39,
    // α = 0.05 (so p ≤ α means no replicate reached T): the rejections must lie in the exact
    // binomial(200, 0.05) 99% interval.
    let family = GaussianMeanFamily::new(1, &[1.0]).unwrap();
    let ksd = Ksd::new(Imq::default(), Estimator::V);
    let (lo, hi) = binomial_interval(200, 0.05, 0.99);
    assert_eq!((lo, hi), (3, 19), "the interval stated above");
    let truth = Gaussian::new(vec![1.7], &[1.0]).unwrap();
    let test = |seed: u64| CompositeKsdTest::new(seed).with_replicates(39).unwrap();
    let mut plug_in = 0;
    let rejections = (0..200u64)
        .filter(|&rep| {
            let xs = truth.sample_n(50, 500 + rep, Par::Seq).unwrap();
            let r = test(rep)
                .run(&family, &ksd, draw, &[0.0], &xs, Par::rayon(2))
                .unwrap();
            // The same replicates' statistics at θ̂ without refitting: conservative.
            let fitted = Gaussian::new(r.theta.clone(), &[1.0]).unwrap();
            let naive = ParametricKsdTest::new(rep).with_replicates(39).unwrap();
            if naive.run(&ksd, &fitted, &xs, Par::Seq).unwrap().reject {
                plug_in += 1;
            }
            r.reject
        })
        .count() as u64;
    assert!(
        (lo..=hi).contains(&rejections),
        "{rejections} rejections of 200"
    );
    assert!(
        plug_in < lo,
        "the plug-in test without refit rejected {plug_in} of 200"
    );
    // Outside the family: Student-t(2) draws, n = 100.
    let t2 = StudentT::new(0.0, 1.0, 2.0).unwrap();
    let power = (0..20u64)
        .filter(|&rep| {
            let xs = t2.sample_n(100, 900 + rep, Par::Seq).unwrap();
            test(rep)
                .run(&family, &ksd, draw, &[0.0], &xs, Par::rayon(2))
                .unwrap()
                .reject
        })
        .count();
    assert!(power >= 14, "{power} rejections of 20");
}

#[test]
fn estimate_is_the_minimum_ksd_fit_and_runs_are_reproducible() {
    let family = GaussianMeanFamily::new(1, &[1.0]).unwrap();
    let ksd = Ksd::new(Imq::default(), Estimator::U);
    let xs = StudentT::new(0.5, 1.0, 4.0)
        .unwrap()
        .sample_n(80, 3, Par::Seq)
        .unwrap();
    let test = CompositeKsdTest::new(8).with_replicates(19).unwrap();
    let a = test
        .run(&family, &ksd, draw, &[0.0], &xs, Par::Seq)
        .unwrap();
    let b = test
        .run(&family, &ksd, draw, &[0.0], &xs, Par::rayon(3))
        .unwrap();
    assert_eq!(
        (a.statistic, a.p_value, a.critical_value),
        (b.statistic, b.p_value, b.critical_value)
    );
    let fit = ksd
        .minimize(&family, &[0.0], &xs, Par::Seq, Default::default())
        .unwrap();
    assert_eq!(a.theta, fit.theta);
    assert_eq!(a.converged, fit.converged);
    assert!(a.to_string().contains("B = 19, n = 80"), "{a}");
    // Bad input: B = 0, a level outside (0, 1), one sample, a failing sampler.
    assert!(CompositeKsdTest::new(1).with_replicates(0).is_err());
    assert!(CompositeKsdTest::new(1).with_level(0.0).is_err());
    let one = Samples::new(vec![0.3], 1).unwrap();
    assert!(matches!(
        test.run(&family, &ksd, draw, &[0.0], &one, Par::Seq),
        Err(Error::TooFewSamples { .. })
    ));
    let weighted = xs.clone().with_weights(vec![1.0; 80]).unwrap();
    assert!(matches!(
        test.run(&family, &ksd, draw, &[0.0], &weighted, Par::Seq),
        Err(Error::Unsupported { .. })
    ));
    let short = |theta: &[f64], n: usize, seed: u64| draw(theta, n - 1, seed);
    assert!(matches!(
        test.run(&family, &ksd, short, &[0.0], &xs, Par::Seq),
        Err(Error::DimensionMismatch { .. })
    ));
    let broken = |_: &[f64], _: usize, _: u64| -> Result<Samples> {
        Err(Error::Unsupported { what: "no sampler" })
    };
    assert!(matches!(
        test.run(&family, &ksd, broken, &[0.0], &xs, Par::Seq),
        Err(Error::Unsupported { what: "no sampler" })
    ));
}

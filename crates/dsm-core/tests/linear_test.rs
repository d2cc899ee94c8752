//! The linear-time KSD test (docs/math.md eq. 14.2): against a committed numpy reference, its
//! calibration under the null at d ∈ {1, 5, 20}, its power, determinism and bad input.

use dsm_core::testing::close;
use dsm_core::*;

mod common;
use common::{reference_diffusion, reference_model};
use dsm_core::testing::binomial_interval;

fn reference(name: &str) -> f64 {
    common::table_value(include_str!("reference/linear_test_reference.csv"), name)
}

fn data() -> Samples {
    let values: Vec<f64> = include_str!("reference/ksd_data.csv")
        .lines()
        .flat_map(|l| l.split(',').map(|v| v.trim().parse::<f64>().unwrap()))
        .collect();
    Samples::new(values, 3).unwrap()
}

fn check<S: SteinKernel>(case: &str, stein: &S, offsets: usize) {
    let signs: Vec<f64> = include_str!("reference/linear_test_signs.csv")
        .lines()
        .flat_map(|l| l.split(',').map(|v| v.parse::<f64>().unwrap()))
        .collect();
    let test = LinearKsdTest::new(offsets, 0).unwrap();
    let (result, replicates) = test
        .run_with_signs(stein, &reference_model(), &data(), &signs, Par::rayon(2))
        .unwrap();
    let tol = 1e-12 * reference(&format!("{case}/scale"));
    let want = reference(&format!("{case}/statistic"));
    assert!(
        (result.statistic - want).abs() <= tol,
        "{case}: {} vs {want}",
        result.statistic
    );
    let want: Vec<f64> = include_str!("reference/linear_test_replicates.csv")
        .lines()
        .skip(1)
        .filter_map(|l| l.strip_prefix(case).and_then(|r| r.strip_prefix(',')))
        .map(|r| r.split_once(',').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(replicates.len(), 30);
    assert_eq!(want.len(), 30);
    for (b, (g, w)) in replicates.iter().zip(&want).enumerate() {
        assert!((g - w).abs() <= tol, "{case}: T*_{b} = {g} vs {w}");
    }
    assert_eq!(
        result.p_value,
        reference(&format!("{case}/p_value")),
        "{case}"
    );
    let critical = reference(&format!("{case}/critical_value"));
    assert!((result.critical_value - critical).abs() <= tol, "{case}");
    assert_eq!(
        (result.n, result.offsets, result.replicates),
        (200, offsets, 30)
    );
}

#[test]
fn statistic_and_replicates_match_the_numpy_reference() {
    let ksd = Ksd::new(Imq::default(), Estimator::U);
    let dksd = DiffusionKsd::new(Imq::default(), reference_diffusion(), Estimator::U).unwrap();
    for offsets in [1, 4] {
        check(&format!("ksd_L{offsets}"), &ksd, offsets);
        check(&format!("dksd_L{offsets}"), &dksd, offsets);
    }
}

#[test]
fn calibrated_under_the_null_at_d_1_5_20() {
    // 500 seeded replications per dimension of n = 200 draws from N(0, I_d), L = 5, B = 200,
    // α = 0.05: the rejections must lie in the exact binomial(500, 0.05) 99% interval.
    let (lo, hi) = binomial_interval(500, 0.05, 0.99);
    assert_eq!((lo, hi), (13, 38), "the interval stated above");
    let ksd = Ksd::new(Imq::default(), Estimator::U);
    for d in [1, 5, 20] {
        let model = Gaussian::standard(d).unwrap();
        let rejections = (0..500u64)
            .filter(|&rep| {
                let xs = model.sample_n(200, 7000 + rep, Par::Seq).unwrap();
                let test = LinearKsdTest::new(5, rep)
                    .unwrap()
                    .with_replicates(200)
                    .unwrap();
                test.run(&ksd, &model, &xs, Par::rayon(2)).unwrap().reject
            })
            .count() as u64;
        assert!(
            (lo..=hi).contains(&rejections),
            "d = {d}: {rejections} rejections of 500"
        );
    }
}

#[test]
fn has_power_against_heavy_tails_and_more_offsets_help() {
    // Student-t(3) draws against N(0, 1): 100 replications of n = 500, L = 1 and L = 10.
    let model = Gaussian::standard(1).unwrap();
    let t3 = StudentT::new(0.0, 1.0, 3.0).unwrap();
    let ksd = Ksd::new(Imq::default(), Estimator::U);
    let power = |offsets: usize| {
        (0..100u64)
            .filter(|&rep| {
                let xs = t3.sample_n(500, 500 + rep, Par::Seq).unwrap();
                let test = LinearKsdTest::new(offsets, rep)
                    .unwrap()
                    .with_replicates(200)
                    .unwrap();
                test.run(&ksd, &model, &xs, Par::rayon(2)).unwrap().reject
            })
            .count()
    };
    let (one, ten) = (power(1), power(10));
    assert!(ten >= 40, "L = 10: {ten} rejections of 100");
    assert!(ten > one, "L = 10 ({ten}) against L = 1 ({one})");
}

#[test]
fn scored_path_and_thread_counts_give_the_same_bits() {
    let model = reference_model();
    let xs = data();
    let scores: Vec<f64> = xs
        .rows()
        .flat_map(|x| model.try_score(x).unwrap())
        .collect();
    let scored = ScoredSamples::new(xs.clone(), scores).unwrap();
    let ksd = Ksd::new(Imq::default(), Estimator::U);
    let test = LinearKsdTest::new(3, 11)
        .unwrap()
        .with_replicates(101)
        .unwrap();
    let base = test.run(&ksd, &model, &xs, Par::Seq).unwrap();
    for par in [Par::rayon(2), Par::rayon(7)] {
        let r = test.run(&ksd, &model, &xs, par).unwrap();
        let s = test.run_scored(&ksd, &scored, par).unwrap();
        for other in [r, s] {
            assert_eq!(other.statistic.to_bits(), base.statistic.to_bits());
            assert_eq!(other.p_value, base.p_value);
            assert_eq!(
                other.critical_value.to_bits(),
                base.critical_value.to_bits()
            );
        }
    }
    assert!(close(
        base.statistic,
        reference("ksd_L1/statistic"),
        1.0,
        1.0
    ));
    assert!(
        base.to_string().contains("L = 3, B = 101, n = 200"),
        "{base}"
    );
}

#[test]
fn bad_input_is_a_typed_error() {
    let model = Gaussian::standard(1).unwrap();
    let ksd = Ksd::new(Imq::default(), Estimator::U);
    let xs = model.sample_n(10, 1, Par::Seq).unwrap();
    assert!(matches!(
        LinearKsdTest::new(0, 1),
        Err(Error::InvalidParameter {
            name: "offsets",
            ..
        })
    ));
    let test = LinearKsdTest::new(5, 1).unwrap();
    assert!(matches!(
        test.with_replicates(0),
        Err(Error::InvalidParameter {
            name: "replicates",
            ..
        })
    ));
    assert!(matches!(
        test.with_level(f64::NAN),
        Err(Error::InvalidParameter { name: "level", .. })
    ));
    assert_eq!(
        test.run(&ksd, &model, &xs, Par::Seq).unwrap_err(),
        Error::TooFewSamples {
            needed: 11,
            got: 10
        }
    );
    let weighted = model
        .sample_n(20, 1, Par::Seq)
        .unwrap()
        .with_weights(vec![1.0; 20])
        .unwrap();
    assert!(matches!(
        test.run(&ksd, &model, &weighted, Par::Seq),
        Err(Error::Unsupported { .. })
    ));
    let big = LinearKsdTest::new(usize::MAX / 2, 1).unwrap();
    assert!(big.run(&ksd, &model, &xs, Par::Seq).is_err());
    let ys = model.sample_n(20, 1, Par::Seq).unwrap();
    let err = LinearKsdTest::new(2, 1)
        .unwrap()
        .run_with_signs(&ksd, &model, &ys, &[1.0; 7], Par::Seq)
        .unwrap_err();
    assert!(matches!(err, Error::DimensionMismatch { .. }), "{err:?}");
}

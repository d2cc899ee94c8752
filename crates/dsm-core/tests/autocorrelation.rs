//! The integrated autocorrelation time against a committed numpy computation
//! (tests/reference/autocorrelation_reference.py) and bad input.

use dsm_core::Error;
use dsm_core::autocorrelation::integrated_autocorrelation_time;
use dsm_core::testing::close;

mod common;

fn column(k: usize) -> Vec<f64> {
    include_str!("reference/ksd_data.csv")
        .lines()
        .map(|l| l.split(',').nth(k).unwrap().parse().unwrap())
        .collect()
}

fn reference(name: &str) -> f64 {
    common::table_value(
        include_str!("reference/autocorrelation_reference.csv"),
        name,
    )
}

#[test]
fn matches_the_numpy_reference() {
    for k in 0..3 {
        let y = column(k);
        let smooth: Vec<f64> = y.windows(5).map(|w| w.iter().sum::<f64>() / 5.0).collect();
        for (name, series) in [(format!("col{k}"), y), (format!("smooth{k}"), smooth)] {
            let got = integrated_autocorrelation_time(&series).unwrap();
            let want = reference(&name);
            assert!(close(got, want, 1e-12, 0.0), "{name}: {got} vs {want}");
        }
    }
    let huge: Vec<f64> = column(0).iter().map(|v| v * 1e300).collect();
    let got = integrated_autocorrelation_time(&huge).unwrap();
    assert!(close(got, reference("col0_huge"), 1e-12, 0.0), "{got}");
}

#[test]
fn bad_and_degenerate_input() {
    assert!(matches!(
        integrated_autocorrelation_time(&[1.0, 2.0]),
        Err(Error::TooFewSamples { needed: 3, got: 2 })
    ));
    assert!(matches!(
        integrated_autocorrelation_time(&[1.0, f64::NAN, 2.0]),
        Err(Error::NonFiniteValue { index: 1, .. })
    ));
    assert!(matches!(
        integrated_autocorrelation_time(&[1.0, 2.0, f64::INFINITY]),
        Err(Error::NonFiniteValue { index: 2, .. })
    ));
    assert_eq!(integrated_autocorrelation_time(&[3.0; 10]).unwrap(), 1.0);
    assert_eq!(integrated_autocorrelation_time(&[0.0; 10]).unwrap(), 1.0);
    let tau = integrated_autocorrelation_time(&[f64::MAX, -f64::MAX, f64::MAX, 1.0]).unwrap();
    assert!(tau.is_finite(), "{tau}");
}

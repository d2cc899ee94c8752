//! Inputs at the edges that used to misbehave silently: extreme weights, all weight on one
//! point, kernels whose parameters under- or overflow, tight clusters far apart.

use dsm_core::stein::PairScratch;
use dsm_core::testing::close;
use dsm_core::*;

fn data() -> Samples {
    Gaussian::standard(2)
        .unwrap()
        .sample_n(40, 9, Par::Seq)
        .unwrap()
}

/// Weights like 1e300 act by their ratios only (they used to overflow into "Stein kernel is
/// not finite at sample 0").
#[test]
fn extreme_weights_act_by_their_ratios() {
    let p = Gaussian::standard(2).unwrap();
    let xs = data();
    let ratios: Vec<f64> = (0..40).map(|i| 1.0 + (i % 5) as f64).collect();
    for est in [Estimator::U, Estimator::V] {
        let ksd = Ksd::new(Imq::default(), est);
        let base = ksd
            .estimate(
                &p,
                &xs.clone().with_weights(ratios.clone()).unwrap(),
                Par::Seq,
            )
            .unwrap();
        for scale in [1e300, 1e-300, f64::MAX / 8.0, 5e-324] {
            let w: Vec<f64> = ratios.iter().map(|r| r * scale).collect();
            if w.iter().any(|v| *v == 0.0 || !v.is_finite()) {
                continue;
            }
            let e = ksd
                .estimate(&p, &xs.clone().with_weights(w).unwrap(), Par::Seq)
                .unwrap();
            assert!(
                close(e.value, base.value, 1e-13, 1e-15),
                "{scale}: {} vs {}",
                e.value,
                base.value
            );
            assert!(close(e.std_err, base.std_err, 1e-12, 1e-15));
        }
        // One dominant weight: [1e300, 1, 1, …] is finite and close to all weight on point 0.
        let mut w = vec![1.0; 40];
        w[0] = 1e300;
        let e = ksd.estimate(&p, &xs.clone().with_weights(w).unwrap(), Par::Seq);
        match est {
            Estimator::V => assert!(e.unwrap().value.is_finite()),
            Estimator::U => assert!(e.unwrap().value.is_finite()),
        }
    }
}

/// A single positive weight among zeros: the U-statistic has no weighted pair.
#[test]
fn one_positive_weight_is_too_few_samples_for_u() {
    let p = Gaussian::standard(2).unwrap();
    let mut w = vec![0.0; 40];
    w[3] = 2.0;
    let xs = data().with_weights(w).unwrap();
    let u = Ksd::new(Imq::default(), Estimator::U).estimate(&p, &xs, Par::Seq);
    assert!(
        matches!(u, Err(Error::TooFewSamples { needed: 2, got: 1 })),
        "{u:?}"
    );
    // The V-statistic is the Stein kernel at that point.
    let v = Ksd::new(Imq::default(), Estimator::V)
        .estimate(&p, &xs, Par::Seq)
        .unwrap();
    let single = Samples::from_rows(&[[xs.row(3)[0], xs.row(3)[1]]]).unwrap();
    let v1 = Ksd::new(Imq::default(), Estimator::V)
        .estimate(&p, &single, Par::Seq)
        .unwrap();
    assert!(close(v.value, v1.value, 1e-14, 0.0));
}

#[test]
fn kernel_parameters_that_overflow_are_errors() {
    assert!(matches!(
        Rbf::new(1e-160),
        Err(Error::InvalidParameter {
            name: "bandwidth",
            ..
        })
    ));
    assert!(Rbf::new(1e-150).is_ok());
    let k = Rbf::new(1e-150).unwrap();
    assert_eq!(k.value(&[0.0], &[0.0]), 1.0);
    assert!(matches!(
        Imq::new(1e-160, -0.5),
        Err(Error::InvalidParameter { name: "c", .. })
    ));
    assert!(matches!(
        Imq::new(1e160, -0.5),
        Err(Error::InvalidParameter { name: "c", .. })
    ));
}

/// Two tight clusters (spread 1e-6) one unit apart: the tiled Gram-product path against the
/// pair-by-pair definition. Centring removes the offset, not the spread, so this checks the
/// cancellation in ‖xᵢ − xⱼ‖² = ‖x̃ᵢ‖² + ‖x̃ⱼ‖² − 2 x̃ᵢ·x̃ⱼ within a cluster.
#[test]
fn tight_clusters_far_apart_match_the_pairwise_definition() {
    let p = Gaussian::standard(3).unwrap();
    let noise = Gaussian::standard(3)
        .unwrap()
        .sample_n(200, 4, Par::Seq)
        .unwrap();
    for (offset, spread) in [(1.0, 1e-6), (1e3, 1e-4), (1.0, 1e-8)] {
        let rows: Vec<[f64; 3]> = noise
            .rows()
            .enumerate()
            .map(|(i, r)| {
                let side = if i % 2 == 0 { offset } else { -offset };
                [
                    side + spread * r[0],
                    0.3 * side + spread * r[1],
                    spread * r[2],
                ]
            })
            .collect();
        let xs = Samples::from_rows(&rows).unwrap();
        for kernel in [Imq::default(), Imq::new(0.7, -0.3).unwrap()] {
            let ksd = Ksd::new(kernel, Estimator::V);
            let pts = ksd.points(&p, &xs, Par::Seq).unwrap();
            let s = &mut PairScratch::default();
            let n = xs.n();
            let mut total = 0.0;
            for i in 0..n {
                for j in 0..n {
                    total += pts.stein_kernel(i, j, s);
                }
            }
            let reference = total / (n * n) as f64;
            let tiled = pts.estimate(Estimator::V, Par::rayon(2)).unwrap().value;
            assert!(
                close(tiled, reference, 1e-11, 1e-13),
                "offset {offset} spread {spread}: {tiled} vs {reference}"
            );
        }
    }
}

#[test]
fn student_t_derivatives_stay_finite_beyond_the_square_overflow() {
    // For |z| > 1.3e154, z² overflows. Closed forms: s = −(ν+1)z/(ν+z²) ≈ −(ν+1)/z and
    // s′ = (ν+1)(z²−ν)/(ν+z²)² ≈ (ν+1)/z² (relative corrections ν/z² < 1e-300); log p
    // = log p(0) − (ν+1)/2 · (2 ln|z| − ln ν) to the same order. The closed-form model and
    // its autodiff twin must both agree with them.
    let nu = 3.0;
    let t = StudentT::new(0.0, 1.0, nu).unwrap();
    let log_p0 = t.log_density(&[0.0]);
    let twin = AutoDiff(t);
    for x in [1.3e154, -2e154, 1e155, -1e160, 1e200, f64::MAX, -f64::MAX] {
        let (mut s, mut h, mut sa, mut ha) = ([0.0], [0.0], [0.0], [0.0]);
        t.score_into(&[x], &mut s);
        t.hessian_into(&[x], &mut h);
        twin.score_into(&[x], &mut sa);
        twin.hessian_into(&[x], &mut ha);
        let score = -(nu + 1.0) / x;
        let curvature = (nu + 1.0) / x / x; // 0 once it underflows (x > 1e162)
        let log_p = log_p0 - 0.5 * (nu + 1.0) * (2.0 * x.abs().ln() - nu.ln());
        assert!(close(s[0], score, 1e-14, 0.0), "score at {x}: {}", s[0]);
        assert!(
            close(sa[0], score, 1e-14, 0.0),
            "autodiff score at {x}: {}",
            sa[0]
        );
        assert!(close(h[0], curvature, 1e-14, 1e-320), "s′ at {x}: {}", h[0]);
        assert!(
            close(ha[0], curvature, 1e-14, 1e-320),
            "autodiff s′ at {x}: {}",
            ha[0]
        );
        assert!(
            close(t.log_density(&[x]), log_p, 1e-14, 0.0),
            "log p at {x}"
        );
        assert!(
            close(twin.log_density(&[x]), log_p, 1e-14, 0.0),
            "autodiff log p at {x}"
        );
    }
}

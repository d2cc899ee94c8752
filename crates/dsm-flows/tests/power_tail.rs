//! The power-tail map t(u) = sign(u) √(α log(1 + u²/α)) (docs/math.md eq. 12.5) against its
//! closed forms: the value from the definition, t′ = u/((1 + u²/α) t), the log-derivative,
//! the inverse √(α (exp(y²/α) − 1)), and t″, t‴ against central differences of t′ (oracle);
//! from the origin (series branch) through the far tail (u up to 10³⁰⁰, log branch).

use dsm_core::testing::close;
use dsm_flows::*;

/// t from its definition, in the form that is accurate away from 0.
fn definition(u: f64, alpha: f64) -> f64 {
    (alpha * (u * u / alpha).ln_1p()).sqrt().copysign(u)
}

#[test]
fn the_map_matches_its_closed_forms_from_the_origin_to_the_far_tail() {
    for &alpha in &[0.05, 0.5, 1.0, 3.0, 10.0, 1e3, 1e6] {
        let t = PowerTail::new(alpha).unwrap();
        for &u in &[
            -1e300, -1e150, -1e20, -1e6, -50.0, -3.0, -0.7, -1e-2, -1e-9, 0.0, 1e-12, 1e-3, 0.2,
            1.5, 8.0, 1e4, 1e12, 1e100, 1e300,
        ] {
            let label = format!("α = {alpha}, u = {u}");
            let mut out = [[0.0; 4]];
            assert!(t.elementwise_derivatives_into(&[u], &mut out));
            let [y, d1, d2, d3] = out[0];
            let s = u * u / alpha;
            let reference = if s.is_finite() && s >= 1e-5 {
                definition(u, alpha)
            } else if s < 1e-5 {
                // Series of √(α log(1 + s)): u (1 − s/4 + 13s²/96 − …).
                u * (1.0 - s / 4.0 + 13.0 * s * s / 96.0)
            } else {
                (alpha * (2.0 * u.abs().ln() - alpha.ln()))
                    .sqrt()
                    .copysign(u)
            };
            assert!(
                close(y, reference, 1e-14, 1e-300),
                "{label}: t {y} vs {reference}"
            );
            // t′ = u/((1 + s) t), s = u²/α (1 at u = 0).
            let slope = if u == 0.0 {
                1.0
            } else {
                let s = u * u / alpha;
                if s.is_finite() {
                    u / ((1.0 + s) * y)
                } else {
                    alpha / (u * y)
                }
            };
            assert!(
                close(d1, slope, 1e-12, 1e-300),
                "{label}: t′ {d1} vs {slope}"
            );
            let log_slope = t.log_abs_det_jacobian(&[u]).unwrap();
            assert!(
                close(log_slope, slope.ln(), 1e-12, 1e-12),
                "{label}: log t′ {log_slope} vs {}",
                slope.ln()
            );
            let (x, _) = t.inverse(&[y]).unwrap();
            assert!(
                close(x[0], u, 1e-11, 1e-300),
                "{label}: inverse {} vs {u}",
                x[0]
            );
            // t″ and t‴ against central differences of the exact t′ and t″ (oracle).
            if u.abs() < 1e5 && u.abs() > 1e-6 {
                let h = 1e-5 * u.abs().max(1e-2);
                let derivs = |v: f64| {
                    let mut o = [[0.0; 4]];
                    t.elementwise_derivatives_into(&[v], &mut o);
                    o[0]
                };
                let (p, m) = (derivs(u + h), derivs(u - h));
                let d2_fd = (p[1] - m[1]) / (2.0 * h);
                let d3_fd = (p[2] - m[2]) / (2.0 * h);
                let scale2 = d1 / u.abs().max(1.0);
                let scale3 = scale2 / u.abs().max(1.0);
                assert!((d2 - d2_fd).abs() < 1e-6 * scale2.max(1e-3), "{label}: t″");
                assert!((d3 - d3_fd).abs() < 1e-5 * scale3.max(1e-3), "{label}: t‴");
            }
        }
    }
}

#[test]
fn the_pull_back_of_a_normal_is_student_like_and_the_tail_growth_is_that_of_the_gaussian_flow() {
    // exp(−t²/2) = (1 + u²/α)^(−α/2) exactly.
    let t = PowerTail::new(4.0).unwrap();
    for &u in &[0.3, 2.0, 40.0, 1e5] {
        let (y, _) = t.forward(&[u]).unwrap();
        let lhs = -0.5 * y[0] * y[0];
        let rhs = -2.0 * (u * u / 4.0_f64).ln_1p();
        assert!(close(lhs, rhs, 1e-13, 1e-13), "{u}");
    }
    // The Gaussian flow of a Student-t with ν grows like √(2ν log x): the ratio to the power
    // tail with α = ν tends to 1 (slowly, through the log).
    let nu = 5.0;
    let gaussian = GaussianFlow::new(0.0, 1.0, nu).unwrap();
    let tail = PowerTail::new(nu).unwrap();
    let ratio = |x: f64| gaussian.forward(&[x]).unwrap().0[0] / tail.forward(&[x]).unwrap().0[0];
    let (r1, r2) = (ratio(1e3), ratio(1e12));
    assert!((r2 - 1.0).abs() < (r1 - 1.0).abs(), "{r1} {r2}");
    assert!((r2 - 1.0).abs() < 0.05, "{r2}");
}

#[test]
fn bad_tail_indices_are_typed_errors() {
    for alpha in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            PowerTail::new(alpha),
            Err(dsm_core::Error::InvalidParameter { .. })
        ));
        assert!(PowerTailLayer::new(1, alpha).is_err());
    }
    let layer = PowerTailLayer::new(2, 3.0).unwrap();
    assert!(layer.with_params(&[0.0; 5]).is_err());
    for a in layer.tail_indices() {
        assert!(close(a, 3.0, 1e-15, 0.0));
    }
    let one = dsm_core::Samples::from_scalars(vec![1.0]).unwrap();
    assert!(matches!(
        PowerTailLayer::standardizing(&one, 3.0),
        Err(dsm_core::Error::TooFewSamples { .. })
    ));
}

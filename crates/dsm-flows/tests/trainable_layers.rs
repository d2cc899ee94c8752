//! The trainable layers against their own closed forms: round trips, log-determinants against
//! the Jacobian from dual numbers, `transform_with` at the layer's own parameters against
//! `transform`, `transform_prepared` against `transform_with`, and parameter vectors through
//! `with_params`, over many seeded parameter
//! regimes (scales from e⁻³ to e³, skews to ±3, tail weights from e⁻² to e²).

use dsm_core::testing::close;
use dsm_flows::*;

/// A small LCG in [−1, 1) (test data only).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

fn check<F: Trainable>(flow: &F, x: &[f64], label: &str) {
    let d = flow.dim();
    let (y, log_det) = flow.forward(x).unwrap();
    let (back, inv_log_det) = flow.inverse(&y).unwrap();
    for (a, b) in back.iter().zip(x) {
        assert!(close(*a, *b, 1e-9, 1e-9), "{label}: round trip {a} vs {b}");
    }
    assert!(close(log_det, -inv_log_det, 1e-9, 1e-9), "{label}");
    let mut jac = vec![0.0; d * d];
    flow.jacobian_into(x, &mut jac);
    let reference = log_abs_det(&jac, d).unwrap();
    assert!(
        close(log_det, reference, 1e-9, 1e-9),
        "{label}: log det {log_det} vs {reference}"
    );
    let mut y2 = vec![0.0; d];
    flow.transform_with(&flow.params(), x, &mut y2);
    for (a, b) in y2.iter().zip(&y) {
        assert!(
            close(*a, *b, 1e-14, 1e-14),
            "{label}: transform_with {a} vs {b}"
        );
    }
    assert_eq!(
        flow.with_params(&flow.params()).unwrap().params(),
        flow.params()
    );
    // The prepared path (a spline's knots once per φ) is the direct one, to the bit.
    let prepared = flow.prepare(&flow.params());
    assert_eq!(
        prepared.len(),
        flow.prepared_len(),
        "{label}: prepared length"
    );
    let mut y3 = vec![0.0; d];
    flow.transform_prepared(&prepared, x, &mut y3);
    assert_eq!(y3, y2, "{label}: transform_prepared");
}

#[test]
fn trainable_layers_invert_and_their_log_determinants_match_the_jacobian() {
    let mut rng = Lcg(17);
    for trial in 0..200 {
        let d = 1 + trial % 3;
        let affine = DiagonalAffine::identity(d).unwrap();
        let phi: Vec<f64> = (0..2 * d).map(|_| 3.0 * rng.next()).collect();
        let affine = affine.with_params(&phi).unwrap();
        let sas = SinhArcsinhLayer::identity(d).unwrap();
        let psi: Vec<f64> = (0..d)
            .flat_map(|_| {
                [
                    2.0 * rng.next(),
                    3.0 * rng.next(),
                    3.0 * rng.next(),
                    2.0 * rng.next(),
                ]
            })
            .collect();
        let sas = sas.with_params(&psi).unwrap();
        let x: Vec<f64> = (0..d).map(|_| 4.0 * rng.next()).collect();
        check(&affine, &x, &format!("affine {trial}"));
        check(&sas, &x, &format!("sinh-arcsinh {trial}"));
        let tri = LowerTriangularAffine::identity(d).unwrap();
        let lambda: Vec<f64> = (0..tri.n_params()).map(|_| 2.0 * rng.next()).collect();
        let tri = tri.with_params(&lambda).unwrap();
        check(&tri, &x, &format!("lower-triangular affine {trial}"));
        let spline = RationalQuadraticSpline::identity(d, 2 + trial % 7, 3.0).unwrap();
        let kappa: Vec<f64> = (0..spline.n_params()).map(|_| 2.0 * rng.next()).collect();
        let spline = spline.with_params(&kappa).unwrap();
        check(&spline, &x, &format!("spline {trial}"));
        // Far outside [−B, B] it is the identity.
        let far: Vec<f64> = x.iter().map(|v| v * 10.0 + 5.0_f64.copysign(*v)).collect();
        check(&spline, &far, &format!("spline tails {trial}"));
        // Tail indices from e⁻² to e⁴, points out to 10⁶ scales.
        let tail = PowerTailLayer::new(d, 1.0).unwrap();
        let tau: Vec<f64> = (0..d)
            .flat_map(|_| [2.0 * rng.next(), 2.0 * rng.next(), 1.0 + 3.0 * rng.next()])
            .collect();
        let tail = tail.with_params(&tau).unwrap();
        check(&tail, &x, &format!("power tail {trial}"));
        let farther: Vec<f64> = x.iter().map(|v| v * 1e6).collect();
        check(&tail, &farther, &format!("power tail, far {trial}"));
        let skew = SkewLayer::identity(d).unwrap();
        let sigma: Vec<f64> = (0..d)
            .flat_map(|_| [2.0 * rng.next(), 3.0 * rng.next(), 3.0 * rng.next()])
            .collect();
        let skew = skew.with_params(&sigma).unwrap();
        check(&skew, &x, &format!("skew {trial}"));
        check(&skew, &farther, &format!("skew, far {trial}"));
        let tail_then_skew = Compose::new(tail.clone(), skew).unwrap();
        check(
            &tail_then_skew,
            &x,
            &format!("power tail then skew {trial}"),
        );
        let bulk_and_tail = Compose::new(spline.clone(), tail.clone()).unwrap();
        check(
            &bulk_and_tail,
            &x,
            &format!("spline then power tail {trial}"),
        );
        if d >= 2 {
            let coupling = AffineCoupling::seeded(d, 4, trial % 2 == 0, 0.5, trial as u64).unwrap();
            let omega: Vec<f64> = (0..coupling.n_params()).map(|_| rng.next()).collect();
            let coupling = coupling.with_params(&omega).unwrap();
            assert_eq!(coupling.params(), omega);
            check(&coupling, &x, &format!("affine coupling {trial}"));
            let net = Compose::new(coupling, sas.clone()).unwrap();
            check(&net, &x, &format!("coupling then sinh-arcsinh {trial}"));
        }
        let chain = Compose::new(sas.clone(), affine.clone()).unwrap();
        check(&chain, &x, &format!("chain {trial}"));
        // A fixed manual (asinh) layer between trainable ones: no parameters of its own (the
        // manual flow is one-dimensional).
        if d > 1 {
            continue;
        }
        let manual = ManualFlow::new(0.0, 1.0, 1.0 + 0.5 * (rng.next() + 1.0)).unwrap();
        assert_eq!(manual.n_params(), 0);
        let tailed =
            Compose::new(sas.clone(), Compose::new(manual, affine.clone()).unwrap()).unwrap();
        check(&tailed, &x, &format!("log-tailed chain {trial}"));
        assert_eq!(tailed.params(), [psi.clone(), phi.clone()].concat());
        assert_eq!(chain.n_params(), 6 * d);
        let mut both = psi.clone();
        both.extend(&phi);
        assert_eq!(chain.params(), both);
    }
}

#[test]
fn bad_parameters_are_typed_errors() {
    let sas = SinhArcsinhLayer::identity(2).unwrap();
    assert!(matches!(
        sas.with_params(&[0.0; 7]),
        Err(dsm_core::Error::DimensionMismatch { .. })
    ));
    let mut bad = vec![0.0; 8];
    bad[3] = f64::NAN;
    assert!(matches!(
        sas.with_params(&bad),
        Err(dsm_core::Error::InvalidParameter { .. })
    ));
    assert!(DiagonalAffine::identity(0).is_err());
    let chain = Compose::new(sas, DiagonalAffine::identity(2).unwrap()).unwrap();
    let mut bad = vec![0.0; 12];
    bad[10] = f64::INFINITY;
    assert!(matches!(
        chain.with_params(&bad),
        Err(dsm_core::Error::InLayer { layer: 1, .. })
    ));
}

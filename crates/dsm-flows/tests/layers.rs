//! Constructor errors of every layer, and bad input through the objectives: a singular
//! Jacobian and a failed inverse are errors naming the sample.

use dsm_core::*;
use dsm_flows::*;

#[test]
fn constructors_reject_non_invertible_and_malformed_parameters() {
    use Error::*;
    assert!(matches!(
        Affine::new(0, vec![], vec![]),
        Err(InvalidParameter { name: "dim", .. })
    ));
    assert!(matches!(
        Affine::new(2, vec![1.0; 3], vec![0.0; 2]),
        Err(DimensionMismatch { .. })
    ));
    assert!(matches!(
        Affine::new(2, vec![1.0, 0.0, 0.0, 1.0], vec![0.0]),
        Err(DimensionMismatch { .. })
    ));
    assert!(matches!(
        Affine::new(2, vec![1.0, 2.0, 2.0, 4.0], vec![0.0; 2]),
        Err(SingularJacobian { .. })
    ));
    assert!(matches!(
        Affine::new(1, vec![f64::NAN], vec![0.0]),
        Err(NonFiniteMatrix { name: "a", .. })
    ));
    assert!(matches!(
        Affine::new(1, vec![1.0], vec![f64::INFINITY]),
        Err(NonFiniteMatrix { name: "shift", .. })
    ));

    assert!(matches!(
        Planar::new(vec![], vec![], 0.0),
        Err(InvalidParameter { name: "u", .. })
    ));
    assert!(matches!(
        Planar::new(vec![1.0], vec![1.0, 2.0], 0.0),
        Err(DimensionMismatch { .. })
    ));
    assert!(matches!(
        Planar::new(vec![-1.0], vec![1.0], 0.0),
        Err(InvalidParameter { name: "wᵀu", .. })
    ));
    assert!(matches!(
        Planar::new(vec![-3.0, 1.0], vec![1.0, 1.0], 0.0),
        Err(InvalidParameter { name: "wᵀu", .. })
    ));
    assert!(matches!(
        Planar::new(vec![f64::NAN], vec![1.0], 0.0),
        Err(InvalidParameter { .. })
    ));
    assert!(Planar::new(vec![-0.999], vec![1.0], 0.0).is_ok());

    assert!(matches!(
        Radial::new(vec![], 1.0, 0.0),
        Err(InvalidParameter { name: "centre", .. })
    ));
    assert!(matches!(
        Radial::new(vec![0.0], 0.0, 0.0),
        Err(InvalidParameter { name: "alpha", .. })
    ));
    assert!(matches!(
        Radial::new(vec![0.0], 1.0, -1.0),
        Err(InvalidParameter { name: "beta", .. })
    ));
    assert!(matches!(
        Radial::new(vec![0.0], 1.0, -2.0),
        Err(InvalidParameter { name: "beta", .. })
    ));
    assert!(Radial::new(vec![0.0], 1.0, -0.999).is_ok());

    assert!(matches!(
        AffineCoupling::seeded(1, 4, true, 0.5, 1),
        Err(InvalidParameter { name: "dim", .. })
    ));
    assert!(matches!(
        AffineCoupling::seeded(3, 0, true, 0.5, 1),
        Err(InvalidParameter { name: "hidden", .. })
    ));
    let w = CouplingWeights {
        w1: vec![0.0; 3],
        b1: vec![0.0; 2],
        ws: vec![0.0; 2],
        bs: vec![0.0],
        wt: vec![0.0; 2],
        bt: vec![0.0],
    };
    assert!(matches!(
        AffineCoupling::new(2, 2, true, w),
        Err(DimensionMismatch { .. })
    ));

    assert!(matches!(
        Elementwise::<ManualFlow>::new(vec![]),
        Err(InvalidParameter { name: "maps", .. })
    ));
    assert!(matches!(
        Chain::<Layer>::new(vec![]),
        Err(InvalidParameter { name: "layers", .. })
    ));
    let mixed = vec![
        Layer::from(Planar::new(vec![0.1], vec![1.0], 0.0).unwrap()),
        Layer::from(Planar::new(vec![0.1, 0.0], vec![1.0, 0.0], 0.0).unwrap()),
    ];
    let e = Chain::new(mixed).unwrap_err();
    assert!(matches!(e, InLayer { layer: 1, .. }), "{e:?}");
    assert!(matches!(
        e.root_cause(),
        DimensionMismatch {
            got: 2,
            expected: 1,
            ..
        }
    ));
    assert!(matches!(
        Pushforward::new(
            Gaussian::standard(2).unwrap(),
            ManualFlow::new(0.0, 1.0, 3.0).unwrap()
        ),
        Err(DimensionMismatch { .. })
    ));
}

/// t(x) = x³ + x·ε: strictly increasing, with t′(0) = ε; ε = 0 makes J singular at 0.
#[derive(Clone)]
struct Cubic(f64);
impl ScalarMap for Cubic {
    fn derivatives(&self, x: f64) -> [f64; 4] {
        [x * x * x + self.0 * x, 3.0 * x * x + self.0, 6.0 * x, 6.0]
    }
    fn scalar_inverse(&self, y: f64) -> Result<f64> {
        if self.0 != 0.0 {
            return Err(Error::InverseFailed {
                index: 0,
                iterations: 0,
            });
        }
        Ok(y.cbrt())
    }
}

#[test]
fn a_singular_jacobian_is_an_error_naming_the_sample() {
    let flow = Elementwise::uniform(Cubic(0.0), 1).unwrap();
    let m = FlowDiffusion::new(&flow);
    let p = StudentT::new(0.0, 1.0, 3.0).unwrap();
    let xs = Samples::from_scalars(vec![1.0, -0.5, 0.0, 2.0]).unwrap();
    assert_eq!(
        diffusion_score_matching_loss(&p, &m, &xs, Par::Seq),
        Err(Error::SingularJacobian {
            index: 2,
            rcond: 0.0
        })
    );
    assert_eq!(
        diffusion_fisher_divergence(
            &p,
            &StudentT::new(1.0, 1.0, 3.0).unwrap(),
            &m,
            &xs,
            Par::rayon(2)
        ),
        Err(Error::SingularJacobian {
            index: 2,
            rcond: 0.0
        })
    );
    let dksd = DiffusionKsd::new(Imq::default(), &m, Estimator::U).unwrap();
    assert_eq!(
        dksd.estimate(&p, &xs, Par::Seq),
        Err(Error::SingularJacobian {
            index: 2,
            rcond: 0.0
        })
    );
    assert_eq!(
        flow.log_abs_det_jacobian(&[0.0]),
        Err(Error::SingularJacobian {
            index: 0,
            rcond: 0.0
        })
    );
    let mut y = [0.0];
    assert_eq!(
        flow.forward_into(&[0.0], &mut y),
        Err(Error::SingularJacobian {
            index: 0,
            rcond: 0.0
        })
    );
}

#[test]
fn a_failed_inverse_is_an_error_naming_the_sample() {
    // Pushforward scores are NaN where T⁻¹ fails, and the objectives name the sample.
    let flow = Elementwise::uniform(Cubic(1.0), 1).unwrap();
    let pt = Pushforward::new(StudentT::new(0.0, 1.0, 3.0).unwrap(), flow).unwrap();
    let ys = Samples::from_scalars(vec![0.5, 1.0]).unwrap();
    assert_eq!(
        score_matching_loss(&pt, &ys, Par::Seq),
        Err(Error::NonFiniteValue {
            quantity: "score of p",
            index: 0
        })
    );
    assert!(pt.try_score(&[0.5]).is_err());
    assert!(pt.log_density(&[0.5]).is_nan());
}

#[test]
fn dsm_both_ways_with_a_chain() {
    // A downstream user: any chain of layers, DSM in x through FlowDiffusion, SM in y through
    // Pushforward; the two objectives differ by a function of T only (docs/math.md N4).
    let t = Chain::new(vec![
        Layer::from(Affine::new(2, vec![1.2, 0.3, -0.1, 0.9], vec![0.1, 0.0]).unwrap()),
        Layer::from(AffineCoupling::seeded(2, 6, true, 0.4, 3).unwrap()),
        Layer::from(Elementwise::uniform(SinhArcsinh::new(0.1, 0.8).unwrap(), 2).unwrap()),
        Layer::from(Radial::new(vec![0.0, 0.5], 0.7, 0.4).unwrap()),
    ])
    .unwrap();
    let q = Gaussian::new(vec![0.0, 0.0], &[1.0, 0.3, 0.3, 1.0]).unwrap();
    let xs = q.sample_n(200, 5, Par::Seq).unwrap();
    let ys: Vec<f64> = xs
        .rows()
        .flat_map(|x| {
            let mut y = [0.0; 2];
            t.transform(x, &mut y);
            y
        })
        .collect();
    let ys = Samples::new(ys, 2).unwrap();
    let m = FlowDiffusion::new(&t);
    let gap = |p: &MultivariateStudentT| {
        let a = diffusion_score_matching_loss(p, &m, &xs, Par::rayon(2))
            .unwrap()
            .value;
        let b = score_matching_loss(
            &Pushforward::new(p.clone(), &t).unwrap(),
            &ys,
            Par::rayon(2),
        )
        .unwrap()
        .value;
        a - b
    };
    let p1 = MultivariateStudentT::new(vec![0.5, 0.0], &[1.0, 0.0, 0.0, 1.0], 4.0).unwrap();
    let p2 = MultivariateStudentT::new(vec![-1.0, 1.0], &[2.0, 0.5, 0.5, 1.0], 2.0).unwrap();
    let (g1, g2) = (gap(&p1), gap(&p2));
    assert!((g1 - g2).abs() < 1e-9 * g1.abs().max(1.0), "{g1} vs {g2}");
}

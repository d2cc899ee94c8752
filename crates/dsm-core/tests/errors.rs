//! Every constructor error and every bad-input path of the public entry points: a typed error
//! naming what and where, never a panic or a NaN.

use dsm_core::*;

#[test]
fn samples_validation() {
    assert_eq!(Samples::new(vec![], 2), Err(Error::EmptySamples));
    assert_eq!(Samples::new(vec![1.0], 0), Err(Error::EmptySamples));
    assert!(matches!(
        Samples::new(vec![1.0, 2.0, 3.0], 2),
        Err(Error::DimensionMismatch { got: 3, .. })
    ));
    assert_eq!(
        Samples::new(vec![0.0, 1.0, 2.0, f64::NAN, 4.0, f64::INFINITY], 2),
        Err(Error::NonFiniteSample {
            index: 1,
            coordinate: 1
        })
    );
    assert_eq!(
        Samples::from_scalars(vec![0.0, 1.0, f64::NEG_INFINITY]),
        Err(Error::NonFiniteSample {
            index: 2,
            coordinate: 0
        })
    );
    assert!(matches!(
        Samples::from_rows(&[vec![1.0, 2.0], vec![3.0]]),
        Err(Error::DimensionMismatch {
            expected: 2,
            got: 1,
            ..
        })
    ));
    assert_eq!(
        Samples::from_rows::<Vec<f64>>(&[]),
        Err(Error::EmptySamples)
    );
    let xs = Samples::from_scalars(vec![1.0, 2.0, 3.0]).unwrap();
    assert!(matches!(
        xs.clone().with_weights(vec![1.0]),
        Err(Error::DimensionMismatch {
            expected: 3,
            got: 1,
            ..
        })
    ));
    assert_eq!(
        xs.clone().with_weights(vec![1.0, -1.0, 1.0]),
        Err(Error::InvalidWeight {
            index: 1,
            value: -1.0
        })
    );
    assert!(matches!(
        xs.clone().with_weights(vec![1.0, 1.0, f64::NAN]),
        Err(Error::InvalidWeight { index: 2, .. })
    ));
    assert_eq!(
        xs.clone().with_weights(vec![0.0; 3]),
        Err(Error::InvalidWeight {
            index: 3,
            value: 0.0
        })
    );
    assert!(xs.get(3).is_none());
}

#[test]
fn faer_round_trip() {
    let xs = Samples::new(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3).unwrap();
    let m = xs.to_faer();
    assert_eq!((m.nrows(), m.ncols()), (2, 3));
    assert_eq!(m[(1, 0)], 4.0);
    assert_eq!(Samples::from_faer(m.as_ref()).unwrap(), xs);
    assert_eq!(xs.as_faer()[(0, 2)], 3.0);
    assert_eq!(
        Samples::from_faer(faer::Mat::<f64>::zeros(0, 3).as_ref()),
        Err(Error::EmptySamples)
    );
}

#[test]
fn model_constructors() {
    use Error::*;
    // Gaussian
    assert!(matches!(
        Gaussian::new(vec![], &[]),
        Err(InvalidParameter { name: "mean", .. })
    ));
    assert!(matches!(
        Gaussian::new(vec![f64::NAN], &[1.0]),
        Err(NonFiniteMatrix {
            name: "mean",
            row: 0,
            ..
        })
    ));
    assert!(matches!(
        Gaussian::new(vec![0.0, 0.0], &[1.0, 0.0, 1.0]),
        Err(DimensionMismatch {
            expected: 4,
            got: 3,
            ..
        })
    ));
    assert_eq!(
        Gaussian::new(vec![0.0, 0.0], &[1.0, 0.5, 0.4, 1.0]),
        Err(NotSymmetric {
            name: "covariance",
            row: 1,
            col: 0
        })
    );
    assert_eq!(
        Gaussian::new(vec![0.0, 0.0], &[1.0, 2.0, 2.0, 1.0]),
        Err(NotPositiveDefinite {
            name: "covariance",
            index: None
        })
    );
    assert_eq!(
        Gaussian::new(vec![0.0], &[0.0]),
        Err(NotPositiveDefinite {
            name: "covariance",
            index: None
        })
    );
    assert_eq!(
        Gaussian::new(vec![0.0, 0.0], &[1.0, 0.0, 0.0, f64::INFINITY]),
        Err(NonFiniteMatrix {
            name: "covariance",
            row: 1,
            col: 1
        })
    );
    assert!(matches!(
        Gaussian::isotropic(vec![0.0], -1.0),
        Err(InvalidParameter {
            name: "variance",
            ..
        })
    ));
    assert!(matches!(
        Gaussian::standard(0),
        Err(InvalidParameter { name: "dim", .. })
    ));
    // Student-t
    for (loc, scale, dof, name) in [
        (f64::NAN, 1.0, 1.0, "location"),
        (f64::INFINITY, 1.0, 1.0, "location"),
        (0.0, 0.0, 1.0, "scale"),
        (0.0, -2.0, 1.0, "scale"),
        (0.0, f64::NAN, 1.0, "scale"),
        (0.0, 1.0, 0.0, "dof"),
        (0.0, 1.0, -3.0, "dof"),
        (0.0, 1.0, f64::NAN, "dof"),
        (0.0, 1.0, f64::INFINITY, "dof"),
    ] {
        match StudentT::new(loc, scale, dof) {
            Err(InvalidParameter { name: n, .. }) => assert_eq!(n, name),
            other => panic!("{loc} {scale} {dof}: {other:?}"),
        }
    }
    // Multivariate t
    assert!(matches!(
        MultivariateStudentT::new(vec![0.0], &[1.0], 0.0),
        Err(InvalidParameter { name: "dof", .. })
    ));
    assert!(matches!(
        MultivariateStudentT::new(vec![], &[], 1.0),
        Err(InvalidParameter {
            name: "location",
            ..
        })
    ));
    assert_eq!(
        MultivariateStudentT::new(vec![0.0, 0.0], &[1.0, 0.0, 0.0, -1.0], 3.0),
        Err(NotPositiveDefinite {
            name: "scale",
            index: None
        })
    );
}

#[test]
fn diffusion_constructors() {
    use Error::*;
    assert!(matches!(
        ConstantDiffusion::new(0, vec![]),
        Err(InvalidParameter { name: "dim", .. })
    ));
    assert!(matches!(
        ConstantDiffusion::new(2, vec![1.0; 3]),
        Err(DimensionMismatch {
            expected: 4,
            got: 3,
            ..
        })
    ));
    assert!(matches!(
        ConstantDiffusion::new(2, vec![1.0, 2.0, 2.0, 4.0]),
        Err(Singular { name: "m", .. })
    ));
    assert!(matches!(
        ConstantDiffusion::new(1, vec![0.0]),
        Err(Singular { name: "m", .. })
    ));
    assert_eq!(
        ConstantDiffusion::new(2, vec![1.0, f64::NAN, 0.0, 1.0]),
        Err(NonFiniteMatrix {
            name: "m",
            row: 0,
            col: 1
        })
    );
    // Non-symmetric but invertible is fine: m need not be symmetric.
    assert!(ConstantDiffusion::new(2, vec![1.0, 5.0, 0.0, 1.0]).is_ok());
}

/// A model whose score blows up at x = 0 and whose Hessian is NaN for x > 5.
struct Broken;
impl LogDensity for Broken {
    fn dim(&self) -> usize {
        1
    }
    fn log_density(&self, x: &[f64]) -> f64 {
        -x[0].abs().ln()
    }
}
impl Score for Broken {
    fn score_into(&self, x: &[f64], out: &mut [f64]) {
        out[0] = -1.0 / x[0];
    }
}
impl Hessian for Broken {
    fn hessian_into(&self, x: &[f64], out: &mut [f64]) {
        out[0] = if x[0] > 5.0 {
            f64::NAN
        } else {
            1.0 / (x[0] * x[0])
        };
    }
}

#[test]
fn objectives_reject_bad_input() {
    use Error::*;
    let g2 = Gaussian::standard(2).unwrap();
    let g1 = Gaussian::standard(1).unwrap();
    let xs2 = g2.sample_n(10, 1, Par::Seq).unwrap();
    let xs1 = Samples::from_scalars(vec![1.0, 2.0, 0.0, 3.0]).unwrap();
    let id1 = IdentityDiffusion::new(1);
    let id3 = IdentityDiffusion::new(3);
    let par = Par::rayon(2);
    assert!(matches!(
        fisher_divergence(&g1, &g2, &xs2, par),
        Err(DimensionMismatch {
            what: "dimension of q",
            ..
        })
    ));
    assert!(matches!(
        fisher_divergence(&g2, &g1, &xs2, par),
        Err(DimensionMismatch {
            what: "dimension of p",
            ..
        })
    ));
    assert!(matches!(
        score_matching_loss(&g1, &xs2, par),
        Err(DimensionMismatch {
            what: "dimension of p",
            got: 1,
            against: "dimension of the samples",
            expected: 2,
        })
    ));
    assert!(matches!(
        diffusion_fisher_divergence(&g2, &g2, &id3, &xs2, par),
        Err(DimensionMismatch {
            what: "dimension of the diffusion",
            got: 3,
            against: "dimension of the samples",
            expected: 2,
        })
    ));
    assert!(matches!(
        diffusion_score_matching_loss(&g2, &id1, &xs2, par),
        Err(DimensionMismatch {
            what: "dimension of the diffusion",
            ..
        })
    ));
    // A model that is not finite at a sample: the error names the first such sample.
    assert_eq!(
        score_matching_loss(&Broken, &xs1, par),
        Err(NonFiniteValue {
            quantity: "score of p",
            index: 2
        })
    );
    assert_eq!(
        fisher_divergence(&g1, &Broken, &xs1, par),
        Err(NonFiniteValue {
            quantity: "score of p",
            index: 2
        })
    );
    assert_eq!(
        fisher_divergence(&Broken, &g1, &xs1, par),
        Err(NonFiniteValue {
            quantity: "score of q",
            index: 2
        })
    );
    let far = Samples::from_scalars(vec![1.0, 6.0, 7.0]).unwrap();
    assert_eq!(
        diffusion_score_matching_loss(&Broken, &id1, &far, par),
        Err(NonFiniteValue {
            quantity: "hessian of log p",
            index: 1
        })
    );
    // A diffusion that is not finite somewhere.
    let bad_m = DiffusionFn::new(
        1,
        |x: &[f64], m: &mut [f64]| m[0] = if x[0] > 2.5 { f64::INFINITY } else { 1.0 },
        |_x: &[f64], dm: &mut [f64]| dm[0] = 0.0,
    );
    assert_eq!(
        diffusion_fisher_divergence(&g1, &g1, &bad_m, &xs1, par),
        Err(NonFiniteValue {
            quantity: "diffusion matrix",
            index: 3
        })
    );
    assert_eq!(
        diffusion_score_matching_loss(&g1, &bad_m, &xs1, par),
        Err(NonFiniteValue {
            quantity: "diffusion covariance m mᵀ",
            index: 3
        })
    );
    // Errors are found at the lowest index whatever the chunking: a bad point far down.
    let mut data = vec![1.0; 2000];
    data[1500] = 0.0;
    data[1900] = 0.0;
    let long = Samples::from_scalars(data).unwrap();
    assert_eq!(
        score_matching_loss(&Broken, &long, Par::rayon(8)),
        Err(NonFiniteValue {
            quantity: "score of p",
            index: 1500
        })
    );
}

#[test]
fn estimates_and_points_reject_bad_input() {
    use Error::*;
    assert_eq!(
        Estimate::from_values(&[], None, Par::Seq),
        Err(TooFewSamples { needed: 1, got: 0 })
    );
    assert_eq!(
        Estimate::from_values(&[1.0, f64::NAN], None, Par::Seq),
        Err(NonFiniteValue {
            quantity: "integrand",
            index: 1
        })
    );
    assert!(matches!(
        Estimate::from_values(&[1.0, 2.0], Some(&[1.0]), Par::Seq),
        Err(DimensionMismatch { .. })
    ));
    assert_eq!(
        Estimate::from_values(&[1.0, 2.0], Some(&[1.0, -1.0]), Par::Seq),
        Err(InvalidWeight {
            index: 1,
            value: -1.0
        })
    );
    assert_eq!(
        Estimate::from_values(&[1.0, 2.0], Some(&[0.0, 0.0]), Par::Seq),
        Err(InvalidWeight {
            index: 2,
            value: 0.0
        })
    );
    let g = Gaussian::standard(2).unwrap();
    assert!(matches!(
        g.try_score(&[1.0]),
        Err(DimensionMismatch {
            what: "length of the point",
            ..
        })
    ));
    assert_eq!(
        g.try_hessian(&[1.0, f64::NAN]),
        Err(NonFiniteSample {
            index: 0,
            coordinate: 1
        })
    );
    assert!(matches!(
        g.try_log_density(&[1.0, 2.0, 3.0]),
        Err(DimensionMismatch { .. })
    ));
    assert_eq!(
        Broken.try_score(&[0.0]),
        Err(NonFiniteValue {
            quantity: "score",
            index: 0
        })
    );
    assert_eq!(
        g.sample_n(0, 1, Par::Seq),
        Err(TooFewSamples { needed: 1, got: 0 })
    );
    assert!(matches!(
        quadrature::sinh_simpson(&g, 0.0, 1.0, 5.0, 100),
        Err(DimensionMismatch { .. })
    ));
    let t = StudentT::new(0.0, 1.0, 3.0).unwrap();
    assert!(matches!(
        quadrature::sinh_simpson(&t, 0.0, 0.0, 5.0, 100),
        Err(InvalidParameter { name: "scale", .. })
    ));
    assert!(matches!(
        quadrature::sinh_simpson(&t, 0.0, 1.0, 5.0, 1),
        Err(InvalidParameter {
            name: "intervals",
            ..
        })
    ));
}

#[test]
fn errors_display_what_and_where() {
    let e = Samples::new(vec![0.0, f64::NAN], 1).unwrap_err();
    assert_eq!(e.to_string(), "sample 1 is not finite (coordinate 0)");
    let e = StudentT::new(0.0, -1.0, 3.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid parameter `scale` of StudentT = -1: must be finite and > 0"
    );
    // A dimension mismatch says which side is the model and which the samples.
    let g2 = Gaussian::standard(2).unwrap();
    let xs1 = Samples::from_scalars(vec![1.0, 2.0]).unwrap();
    let e = score_matching_loss(&g2, &xs1, Par::Seq).unwrap_err();
    assert_eq!(
        e.to_string(),
        "dimension mismatch: dimension of p is 2, but dimension of the samples is 1"
    );
    let e = Samples::from_scalars(vec![1.0, 2.0])
        .unwrap()
        .with_weights(vec![1.0])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "dimension mismatch: number of weights is 1, but number of samples is 2"
    );
}

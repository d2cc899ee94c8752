//! Stein discrepancies and the KSD test from samples with precomputed scores (an MCMC run's
//! draws and gradients): the same values, to the bit, as from the model whose scores they are,
//! for the Langevin KSD (U, V, weighted), the diffusion KSD with a dense and a diagonal
//! diffusion, and the wild-bootstrap test (Rademacher and Markov chain); bad tables are typed
//! errors naming the sample.

use dsm_core::*;

fn scored_from(model: &impl Score, xs: &Samples) -> ScoredSamples {
    let mut scores = Vec::with_capacity(xs.n() * xs.dim());
    for x in xs.rows() {
        scores.extend(model.try_score(x).unwrap());
    }
    ScoredSamples::new(xs.clone(), scores).unwrap()
}

#[test]
fn precomputed_scores_give_the_model_s_values_to_the_bit() {
    let model = MultivariateStudentT::new(
        vec![0.2, -0.1, 0.4],
        &[1.0, 0.3, 0.0, 0.3, 2.0, 0.1, 0.0, 0.1, 0.5],
        4.0,
    )
    .unwrap();
    let xs = Gaussian::standard(3)
        .unwrap()
        .sample_n(150, 5, Par::Seq)
        .unwrap();
    let weighted = xs
        .clone()
        .with_weights((0..150).map(|i| 0.5 + (i % 7) as f64).collect())
        .unwrap();
    for samples in [&xs, &weighted] {
        let scored = scored_from(&model, samples);
        for estimator in [Estimator::U, Estimator::V] {
            let ksd = Ksd::new(Imq::default(), estimator);
            let (a, b) = (
                ksd.estimate_scored(&scored, Par::rayon(2)).unwrap(),
                ksd.estimate(&model, samples, Par::rayon(2)).unwrap(),
            );
            assert_eq!(
                (a.value, a.std_err),
                (b.value, b.std_err),
                "KSD {estimator:?}"
            );
            let dense = DiffusionFn::new(
                3,
                |x: &[f64], m: &mut [f64]| {
                    for j in 0..3 {
                        for k in 0..3 {
                            m[j * 3 + k] = if j == k {
                                (1.0 + x[j] * x[j]).sqrt()
                            } else {
                                0.1
                            };
                        }
                    }
                },
                |x: &[f64], dm: &mut [f64]| {
                    dm.fill(0.0);
                    for i in 0..3 {
                        dm[(i * 3 + i) * 3 + i] = x[i] / (1.0 + x[i] * x[i]).sqrt();
                    }
                },
            );
            let dksd = DiffusionKsd::new(Imq::default(), dense, estimator).unwrap();
            let (a, b) = (
                dksd.estimate_scored(&scored, Par::rayon(2)).unwrap(),
                dksd.estimate(&model, samples, Par::rayon(2)).unwrap(),
            );
            assert_eq!(
                (a.value, a.std_err),
                (b.value, b.std_err),
                "DKSD (dense) {estimator:?}"
            );
            let diagonal =
                ConstantDiffusion::new(3, vec![2.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 1.0])
                    .unwrap();
            let dksd = DiffusionKsd::new(Imq::default(), diagonal, estimator).unwrap();
            let (a, b) = (
                dksd.estimate_scored(&scored, Par::Seq).unwrap(),
                dksd.estimate(&model, samples, Par::Seq).unwrap(),
            );
            assert_eq!(a.value, b.value, "DKSD (diagonal) {estimator:?}");
        }
    }
    // The test, Rademacher and Markov chain with the flip probability from the data.
    let scored = scored_from(&model, &xs);
    for bootstrap in [Bootstrap::Rademacher, Bootstrap::MarkovChainAuto] {
        let test = KsdTest::new(bootstrap, 11).unwrap();
        let ksd = Ksd::new(Imq::default(), Estimator::V);
        let a = test.run_scored(&ksd, &scored, Par::rayon(2)).unwrap();
        let b = test.run(&ksd, &model, &xs, Par::rayon(2)).unwrap();
        assert_eq!(
            (a.statistic, a.p_value, a.flip_probability),
            (b.statistic, b.p_value, b.flip_probability)
        );
    }
}

#[test]
fn bad_score_tables_are_typed_errors_naming_the_sample() {
    let xs = Samples::new(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 2).unwrap();
    assert!(matches!(
        ScoredSamples::new(xs.clone(), vec![0.0; 5]),
        Err(Error::DimensionMismatch { .. })
    ));
    let mut scores = vec![0.5; 6];
    scores[3] = f64::NAN;
    assert!(matches!(
        ScoredSamples::new(xs.clone(), scores),
        Err(Error::NonFiniteValue { index: 1, .. })
    ));
    let mut scores = vec![0.5; 6];
    scores[4] = f64::INFINITY;
    assert!(matches!(
        ScoredSamples::new(xs.clone(), scores),
        Err(Error::NonFiniteValue { index: 2, .. })
    ));
    // A kernel of another dimension than the samples.
    let scored = ScoredSamples::new(xs, vec![0.1; 6]).unwrap();
    let dksd = DiffusionKsd::new(Imq::default(), IdentityDiffusion::new(3), Estimator::V).unwrap();
    assert!(matches!(
        dksd.estimate_scored(&scored, Par::Seq),
        Err(Error::DimensionMismatch { .. })
    ));
    // Too few samples for the test.
    let one =
        ScoredSamples::new(Samples::new(vec![0.0, 1.0], 2).unwrap(), vec![0.0, -1.0]).unwrap();
    let test = KsdTest::new(Bootstrap::Rademacher, 1).unwrap();
    assert!(matches!(
        test.run_scored(&Ksd::new(Imq::default(), Estimator::V), &one, Par::Seq),
        Err(Error::TooFewSamples { .. })
    ));
}

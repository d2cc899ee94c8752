//! The feature-map path of the Stein kernels (a pulled-back kernel, with and without a flow
//! diffusion) from precomputed scores equals the model-based path to the bit.

use dsm_core::*;
use dsm_flows::*;

#[test]
fn pulled_back_kernels_from_precomputed_scores_equal_the_model_path() {
    let model = StudentT::new(0.3, 1.0, 4.0).unwrap();
    let xs = model.sample_n(120, 8, Par::Seq).unwrap();
    let mut scores = Vec::new();
    for x in xs.rows() {
        scores.extend(model.try_score(x).unwrap());
    }
    let scored = ScoredSamples::new(xs.clone(), scores).unwrap();
    let flow = GaussianFlow::new(0.0, 1.0, 4.0).unwrap();
    let ksd = Ksd::new(PulledBackKernel::new(Imq::default(), flow), Estimator::V);
    let (a, b) = (
        ksd.estimate_scored(&scored, Par::rayon(2)).unwrap(),
        ksd.estimate(&model, &xs, Par::rayon(2)).unwrap(),
    );
    assert_eq!((a.value, a.std_err), (b.value, b.std_err));
    let dksd = DiffusionKsd::new(
        PulledBackKernel::new(Imq::default(), flow),
        FlowDiffusion::new(flow),
        Estimator::U,
    )
    .unwrap();
    let (a, b) = (
        dksd.estimate_scored(&scored, Par::Seq).unwrap(),
        dksd.estimate(&model, &xs, Par::Seq).unwrap(),
    );
    assert_eq!(a.value, b.value);
}

//! Mergeable partial estimates (docs/math.md eq. 16.1) and the integrands from precomputed
//! per-sample quantities: shards merge to the single-process estimate bit for bit, and the
//! precomputed integrands equal the model-based ones.

use dsm_core::{
    ChunkSums, Diffusion, Error, Estimate, Gaussian, Hessian, Par, PartialEstimate, Sampler, Score,
    TiltedDiffusion, diffusion_score_matching_integrand,
    diffusion_score_matching_integrand_precomputed, score_matching_integrand,
    score_matching_integrand_precomputed,
};

/// Values with a large common offset (a cancellation-prone mean) and a spread of scales.
fn values(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 1e3 + (i as f64 * 0.731).sin() * (1.0 + (i % 17) as f64))
        .collect()
}

fn shards(n: usize, sizes: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for &s in sizes {
        out.push(start..start + s);
        start += s;
    }
    out.push(start..n);
    out
}

#[test]
fn eight_shards_merge_to_the_single_process_estimate_bit_for_bit() {
    let n = 10_000;
    let h = values(n);
    let w: Vec<f64> = (0..n).map(|i| 0.5 + (i % 7) as f64 * 0.25).collect();
    // Unequal shards at multiples of 256, the last one ragged.
    let ranges = shards(n, &[1280, 256, 2560, 768, 1024, 512, 2048]);
    assert_eq!(ranges.len(), 8);
    for weights in [None, Some(&w[..])] {
        let whole = Estimate::from_values(&h, weights, Par::rayon(2)).unwrap();
        let parts: Vec<PartialEstimate> = ranges
            .iter()
            .map(|r| {
                PartialEstimate::from_values(
                    &h[r.clone()],
                    weights.map(|w| &w[r.clone()]),
                    r.start,
                    Par::Seq,
                )
                .unwrap()
            })
            .collect();
        let merged = PartialEstimate::merge(&parts).unwrap();
        assert_eq!(merged.n(), n);
        let e = merged.finish().unwrap();
        assert_eq!(e.value.to_bits(), whole.value.to_bits());
        assert_eq!(e.std_err.to_bits(), whole.std_err.to_bits());
        // Merging merged groups is the same as merging all at once.
        let left = PartialEstimate::merge(&parts[..3]).unwrap();
        let right = PartialEstimate::merge(&parts[3..]).unwrap();
        assert_eq!(PartialEstimate::merge(&[left, right]).unwrap(), merged);
        // Round trip through the chunk sums (what another process would send).
        let rebuilt = PartialEstimate::from_chunks(merged.first(), merged.chunks().to_vec());
        assert_eq!(rebuilt.unwrap(), merged);
    }
}

#[test]
fn the_chunked_standard_error_is_the_two_pass_formula() {
    // Independent reference: the textbook two-pass mean and variance, in long sums.
    let h = values(3001);
    let n = h.len() as f64;
    let mean = h.iter().sum::<f64>() / n;
    let var = h.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    let e = Estimate::from_values(&h, None, Par::Seq).unwrap();
    assert!((e.value - mean).abs() <= 1e-13 * mean.abs());
    assert!((e.std_err - (var / n).sqrt()).abs() <= 1e-12 * e.std_err);
    // Weighted: std_err² = Σ w̃² (h − v)² / (1 − Σ w̃²).
    let w: Vec<f64> = (0..h.len()).map(|i| 1.0 + (i % 5) as f64).collect();
    let total: f64 = w.iter().sum();
    let v = h.iter().zip(&w).map(|(h, w)| h * w).sum::<f64>() / total;
    let s2: f64 = w.iter().map(|w| (w / total).powi(2)).sum();
    let dev: f64 = h
        .iter()
        .zip(&w)
        .map(|(h, w)| (w / total).powi(2) * (h - v).powi(2))
        .sum();
    let e = Estimate::from_values(&h, Some(&w), Par::Seq).unwrap();
    assert!((e.value - v).abs() <= 1e-13 * v.abs());
    assert!((e.std_err - (dev / (1.0 - s2)).sqrt()).abs() <= 1e-12 * e.std_err);
}

#[test]
fn partial_states_refuse_what_would_not_merge() {
    let h = values(600);
    let misaligned = PartialEstimate::from_values(&h, None, 100, Par::Seq).unwrap_err();
    assert!(matches!(
        misaligned,
        Error::InvalidParameter { name: "first", .. }
    ));
    let a = PartialEstimate::from_values(&h[..256], None, 0, Par::Seq).unwrap();
    let c = PartialEstimate::from_values(&h[512..], None, 512, Par::Seq).unwrap();
    // A gap (256..512 missing), and parts out of order.
    assert!(PartialEstimate::merge(&[a.clone(), c.clone()]).is_err());
    assert!(PartialEstimate::merge(&[c, a]).is_err());
    assert!(PartialEstimate::merge(&[]).is_err());
    let mut bad = h.clone();
    bad[300] = f64::NAN;
    let err = PartialEstimate::from_values(&bad[256..], None, 256, Par::Seq).unwrap_err();
    assert!(
        matches!(err, Error::NonFiniteValue { index: 44, .. }),
        "{err}"
    );
    bad[300] = 1e200;
    let err = PartialEstimate::from_values(&bad, None, 0, Par::Seq).unwrap_err();
    assert!(
        matches!(err, Error::NonFiniteValue { index: 300, .. }),
        "{err}"
    );
    // The single-process estimate still handles such values, with a power-of-two scale.
    let e = Estimate::from_values(&bad, None, Par::Seq).unwrap();
    assert!((e.value - 1e200 / 600.0).abs() < 1e-10 * e.value);
    let chunk = |count| ChunkSums {
        count,
        weight: count as f64,
        weight_sq: count as f64,
        weighted_sum: 0.0,
        centred_sq: 0.0,
        centred: 0.0,
    };
    assert!(PartialEstimate::from_chunks(0, vec![chunk(100), chunk(256)]).is_err());
    assert!(PartialEstimate::from_chunks(0, vec![chunk(256), chunk(300)]).is_err());
    assert!(PartialEstimate::from_chunks(0, vec![]).is_err());
    let mut nan = chunk(256);
    nan.centred_sq = f64::NAN;
    assert!(PartialEstimate::from_chunks(0, vec![nan]).is_err());
    assert!(PartialEstimate::from_chunks(0, vec![chunk(256), chunk(3)]).is_ok());
}

fn gaussian() -> Gaussian {
    Gaussian::new(
        vec![0.5, -1.0, 2.0],
        &[2.0, 0.3, 0.1, 0.3, 1.0, -0.2, 0.1, -0.2, 0.7],
    )
    .unwrap()
}

#[test]
fn precomputed_sm_integrand_equals_the_model_based_one() {
    let p = gaussian();
    let xs = p.sample_n(700, 3, Par::Seq).unwrap();
    let d = 3;
    let mut scores = vec![0.0; 700 * d];
    let mut laplacians = vec![0.0; 700];
    let mut scratch = vec![0.0; d * d];
    for i in 0..700 {
        p.score_into(xs.row(i), &mut scores[i * d..(i + 1) * d]);
        laplacians[i] = p.laplacian(xs.row(i), &mut scratch);
    }
    let from_model = score_matching_integrand(&p, &xs, Par::Seq).unwrap();
    for par in [Par::Seq, Par::rayon(2), Par::rayon(3)] {
        let given = score_matching_integrand_precomputed(&scores, &laplacians, d, par).unwrap();
        for (a, b) in from_model.iter().zip(&given) {
            assert!((a - b).abs() <= 1e-13 * a.abs().max(1.0), "{a} vs {b}");
        }
    }
    // Errors name the sample.
    let mut bad = scores.clone();
    bad[3 * 300 + 1] = f64::INFINITY;
    let err = score_matching_integrand_precomputed(&bad, &laplacians, d, Par::rayon(2));
    assert!(matches!(err, Err(Error::NonFiniteValue { index: 300, .. })));
    assert!(score_matching_integrand_precomputed(&scores, &laplacians[1..], d, Par::Seq).is_err());
    assert!(score_matching_integrand_precomputed(&scores[1..], &laplacians, d, Par::Seq).is_err());
    assert!(score_matching_integrand_precomputed(&scores, &laplacians, 0, Par::Seq).is_err());
}

#[test]
fn precomputed_dsm_integrand_equals_the_model_based_one() {
    let p = gaussian();
    let m = TiltedDiffusion::new(vec![0.0, 0.0, 0.0], 1.0).unwrap();
    let xs = p.sample_n(600, 5, Par::Seq).unwrap();
    let d = 3;
    let n = xs.n();
    let (mut s, mut h, mut mm, mut div) = (
        vec![0.0; n * d],
        vec![0.0; n * d * d],
        vec![0.0; n * d * d],
        vec![0.0; n * d],
    );
    let mut work = dsm_core::DiffusionWork::new();
    let mut a = vec![0.0; d * d];
    for i in 0..n {
        let x = xs.row(i);
        p.score_and_hessian_into(
            x,
            &mut s[i * d..(i + 1) * d],
            &mut h[i * d * d..(i + 1) * d * d],
        );
        m.matrix_into(x, &mut mm[i * d * d..(i + 1) * d * d])
            .unwrap();
        m.covariance_into(x, &mut work, &mut a, &mut div[i * d..(i + 1) * d])
            .unwrap();
    }
    let from_model = diffusion_score_matching_integrand(&p, &m, &xs, Par::Seq).unwrap();
    let given = diffusion_score_matching_integrand_precomputed(&s, &h, &mm, &div, d, Par::rayon(2))
        .unwrap();
    for (a, b) in from_model.iter().zip(&given) {
        assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "{a} vs {b}");
    }
    // With m = I it is the SM integrand.
    let eye: Vec<f64> = (0..n)
        .flat_map(|_| [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
        .collect();
    let zero = vec![0.0; n * d];
    let dsm_eye =
        diffusion_score_matching_integrand_precomputed(&s, &h, &eye, &zero, d, Par::Seq).unwrap();
    let sm = score_matching_integrand(&p, &xs, Par::Seq).unwrap();
    for (a, b) in sm.iter().zip(&dsm_eye) {
        assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0));
    }
    let mut bad = mm.clone();
    bad[9 * 17] = f64::NAN;
    let err = diffusion_score_matching_integrand_precomputed(&s, &h, &bad, &div, d, Par::Seq);
    assert!(matches!(err, Err(Error::NonFiniteValue { index: 17, .. })));
    assert!(
        diffusion_score_matching_integrand_precomputed(&s, &h[9..], &mm, &div, d, Par::Seq)
            .is_err()
    );
    assert!(
        diffusion_score_matching_integrand_precomputed(&s, &h, &mm, &div, usize::MAX, Par::Seq)
            .is_err()
    );
}

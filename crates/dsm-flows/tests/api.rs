//! The flow API in the habits of zuko and flowjax: both directions named alike, batch calls
//! over `Samples`, `Invert`, a user's own flow composed with the built-in layers, and
//! sampling from a `Pushforward`.

use dsm_core::testing::{all_close, close, tol};
use dsm_core::*;
use dsm_flows::*;

/// A user's own flow: y = x + sinh(x)/2 per coordinate (strictly increasing, T′ ≥ 1).
struct Bump(usize);

impl Flow for Bump {
    fn dim(&self) -> usize {
        self.0
    }
    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        for (yi, xi) in y.iter_mut().zip(x) {
            *yi = *xi + xi.sinh() * 0.5;
        }
    }
    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        for (xi, yi) in x.iter_mut().zip(y) {
            // Newton from asinh-scale start: z + sinh(z)/2 is convex for z > 0, concave below.
            let mut z = (2.0 * yi).asinh();
            for _ in 0..200 {
                let step = (z + 0.5 * z.sinh() - yi) / (1.0 + 0.5 * z.cosh());
                z -= step;
                if step.abs() <= 1e-16 * z.abs().max(1.0) {
                    break;
                }
            }
            *xi = z;
        }
        Ok(())
    }
}

fn jacobian<F: Flow>(f: &F, x: &[f64]) -> Vec<f64> {
    let d = f.dim();
    let mut j = vec![0.0; d * d];
    f.jacobian_into(x, &mut j);
    j
}

fn built_in_chain() -> Chain<Layer> {
    Chain::new(vec![
        Layer::from(Affine::new(2, vec![1.0, 0.5, -0.3, 2.0], vec![0.0, 1.0]).unwrap()),
        Layer::from(Planar::new(vec![0.3, 0.2], vec![1.0, -1.0], 0.1).unwrap()),
        Layer::from(Radial::new(vec![0.5, 0.5], 1.0, 0.7).unwrap()),
    ])
    .unwrap()
}

/// Round trip and log-det against the LU of the full Jacobian, in both directions: the inverse's
/// log-det is checked against the Jacobian of `Invert`, i.e. J⁻¹ at y, not only against −forward.
fn check_both_directions<F: Flow>(t: &F, x: &[f64]) {
    let d = t.dim();
    let (y, log_det) = t.forward(x).unwrap();
    let (back, inv_log_det) = t.inverse(&y).unwrap();
    assert!(all_close(&back, x, 1e-9), "round trip {x:?} -> {back:?}");
    let lu = log_abs_det(&jacobian(t, x), d).unwrap();
    assert!(
        close(log_det, lu, 1e-9, 1e-9),
        "forward {log_det} vs LU {lu}"
    );
    let lu_inv = log_abs_det(&jacobian(&Invert::new(t), &y), d).unwrap();
    assert!(
        close(inv_log_det, lu_inv, 1e-9, 1e-9),
        "inverse {inv_log_det} vs LU {lu_inv}"
    );
    assert!(close(inv_log_det, -log_det, 1e-9, 1e-9));
    // The buffer versions agree with the allocating ones bit for bit.
    let (mut y2, mut x2) = (vec![0.0; d], vec![0.0; d]);
    assert_eq!(t.forward_into(x, &mut y2).unwrap(), log_det);
    assert_eq!(y2, y);
    assert_eq!(t.inverse_into(&y, &mut x2).unwrap(), inv_log_det);
    assert_eq!(x2, back);
}

#[test]
fn both_directions_are_named_alike_and_agree_with_the_lu_of_the_jacobian() {
    check_both_directions(&built_in_chain(), &[0.3, -0.8]);
    check_both_directions(&Affine::new(1, vec![-2.0], vec![1.0]).unwrap(), &[0.7]);
    check_both_directions(&GaussianFlow::new(0.5, 2.0, 3.0).unwrap(), &[40.0]);
    check_both_directions(
        &Elementwise::uniform(SinhArcsinh::new(0.3, 0.7).unwrap(), 2).unwrap(),
        &[-1.5, 2.5],
    );
    check_both_directions(
        &AffineCoupling::seeded(4, 8, true, 0.3, 11).unwrap(),
        &[0.3, -1.0, 2.0, 0.1],
    );
}

#[test]
fn checked_directions_reject_bad_points() {
    let t = built_in_chain();
    assert!(matches!(
        t.forward(&[1.0]),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        t.inverse(&[1.0, 2.0, 3.0]),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        t.forward(&[0.0, f64::NAN]),
        Err(Error::NonFiniteSample { coordinate: 1, .. })
    ));
    assert!(matches!(
        t.inverse(&[f64::INFINITY, 0.0]),
        Err(Error::NonFiniteSample { coordinate: 0, .. })
    ));
}

#[test]
fn batches_match_single_points_and_are_bit_identical_for_any_thread_count() {
    let t = built_in_chain().then(Bump(2)).unwrap();
    let n = 3 * dsm_core::mc::CHUNK_SIZE + 17;
    let data: Vec<f64> = (0..2 * n)
        .map(|k| ((k as f64) * 0.37).sin() * 3.0)
        .collect();
    let weights: Vec<f64> = (0..n).map(|k| 1.0 + (k % 3) as f64).collect();
    let xs = Samples::new(data, 2)
        .unwrap()
        .with_weights(weights)
        .unwrap();
    let (ys, log_det) = t.forward_batch(&xs, Par::Seq).unwrap();
    assert_eq!((ys.n(), ys.dim(), log_det.len()), (n, 2, n));
    assert_eq!(ys.weights(), xs.weights());
    for i in [0, 1, 255, 256, n - 1] {
        let (y, l) = t.forward(xs.row(i)).unwrap();
        assert_eq!((ys.row(i), log_det[i]), (y.as_slice(), l));
    }
    for threads in [1, 2, 3] {
        let (ys_p, ld_p) = t.forward_batch(&xs, Par::rayon(threads)).unwrap();
        assert_eq!(ys_p.as_slice(), ys.as_slice());
        assert_eq!(ld_p, log_det);
    }
    let (back, inv) = t.inverse_batch(&ys, Par::rayon(2)).unwrap();
    let (back_seq, inv_seq) = t.inverse_batch(&ys, Par::Seq).unwrap();
    assert_eq!((back.as_slice(), &inv), (back_seq.as_slice(), &inv_seq));
    assert!(all_close(back.as_slice(), xs.as_slice(), 1e-9));
    for i in 0..n {
        assert!(close(inv[i], -log_det[i], 1e-9, 1e-9));
    }
    let wrong = Samples::new(vec![0.0; 3], 3).unwrap();
    assert!(matches!(
        t.forward_batch(&wrong, Par::Seq),
        Err(Error::DimensionMismatch { .. })
    ));
}

#[test]
fn batch_errors_name_the_sample_and_the_layer() {
    // Layer 0 Affine, layers 1-2 built-ins, layer 3 the user's Bump (overflows past x ≈ 710),
    // layer 4 a huge Affine (overflows for |y| ≳ 1).
    let identity = Chain::new(vec![
        Layer::from(Affine::new(1, vec![1.0], vec![0.0]).unwrap()),
        Layer::from(Affine::new(1, vec![1.0], vec![0.0]).unwrap()),
        Layer::from(Affine::new(1, vec![1.0], vec![0.0]).unwrap()),
    ])
    .unwrap();
    let t = identity
        .then(Bump(1))
        .unwrap()
        .then(Affine::new(1, vec![1e308], vec![0.0]).unwrap())
        .unwrap();
    assert_eq!(t.layer_count(), 5);
    let mut values = vec![0.0; 600];
    values[300] = 800.0;
    let xs = Samples::from_scalars(values.clone()).unwrap();
    for par in [Par::Seq, Par::rayon(2)] {
        assert!(matches!(
            t.forward_batch(&xs, par),
            Err(Error::NonFiniteLayerOutput {
                layer: 3,
                index: 300,
                coordinate: 0
            })
        ));
    }
    values[300] = 0.0;
    values[400] = 5.0;
    values[500] = 800.0;
    let xs = Samples::from_scalars(values).unwrap();
    assert!(matches!(
        t.forward_batch(&xs, Par::rayon(2)),
        Err(Error::NonFiniteLayerOutput {
            layer: 4,
            index: 400,
            coordinate: 0
        })
    ));
    // The inverse direction: a Gaussian flow cannot invert beyond the top of its range.
    let g = GaussianFlow::new(0.0, 1.0, 3.0).unwrap();
    let top = g.derivatives(f64::MAX)[0];
    let mut ys = vec![0.5; 700];
    ys[650] = top * 1.01 + 1.0;
    let ys = Samples::from_scalars(ys).unwrap();
    assert!(matches!(
        g.inverse_batch(&ys, Par::rayon(2)),
        Err(Error::InverseFailed { index: 650, .. })
    ));
}

#[test]
fn a_user_flow_chains_with_built_in_layers() {
    let t = built_in_chain().then(Bump(2)).unwrap();
    let t2 = Bump(2).then(built_in_chain()).unwrap();
    for x in [[0.3, -0.8], [2.0, 1.5], [-3.0, 0.1]] {
        check_both_directions(&t, &x);
        check_both_directions(&t2, &x);
        // J = J_Bump(A(x)) J_A(x)
        let (mid, _) = built_in_chain().forward(&x).unwrap();
        let (ja, jb) = (jacobian(&built_in_chain(), &x), jacobian(&Bump(2), &mid));
        let j = jacobian(&t, &x);
        for r in 0..2 {
            for c in 0..2 {
                let want = jb[r * 2] * ja[c] + jb[r * 2 + 1] * ja[2 + c];
                assert!(close(j[r * 2 + c], want, tol::EXACT_REL, 1e-14));
            }
        }
    }
    // The composite is an ordinary flow: FlowDiffusion takes it, with exact derivatives.
    let m = FlowDiffusion::new(t);
    let x = [0.4, -0.2];
    let mut div = [0.0; 2];
    let mut work = DiffusionWork::new();
    m.divergence_into(&x, &mut work, &mut div).unwrap();
    let fd = dsm_core::testing::finite_difference_diffusion_gradient(&m, &x, 1e-5);
    let mut dm = [0.0; 8];
    m.matrix_gradient_into(&x, &mut dm).unwrap();
    assert!(
        all_close(&dm, &fd, tol::FINITE_DIFF_REL),
        "{dm:?} vs {fd:?}"
    );
    for (k, dk) in div.iter().enumerate() {
        // (div m)_k = Σ_i ∂_i m_ik
        let want: f64 = (0..2).map(|i| fd[(i * 2 + i) * 2 + k]).sum();
        assert!(
            close(*dk, want, tol::FINITE_DIFF_REL, 1e-8),
            "{dk} vs {want}"
        );
    }
}

/// Central differences of a flow's Jacobian: ∂_i J_jk at (i·d + j)·d + k.
fn fd_jacobian_gradient<F: Flow>(f: &F, x: &[f64], h: f64) -> Vec<f64> {
    let d = f.dim();
    let mut out = vec![0.0; d * d * d];
    for i in 0..d {
        let (mut up, mut down) = (x.to_vec(), x.to_vec());
        up[i] += h;
        down[i] -= h;
        let (ju, jd) = (jacobian(f, &up), jacobian(f, &down));
        for jk in 0..d * d {
            out[i * d * d + jk] = (ju[jk] - jd[jk]) / (2.0 * h);
        }
    }
    out
}

#[test]
fn invert_is_exact_in_values_jacobians_and_higher_derivatives() {
    let t = built_in_chain().then(Bump(2)).unwrap();
    let s = Invert::new(&t);
    for x in [[0.3, -0.8], [1.0, 1.5]] {
        let (y, log_det) = t.forward(&x).unwrap();
        // Values and log-dets are T's own, swapped.
        let (x2, log_det_s) = s.forward(&y).unwrap();
        assert!(all_close(&x2, &x, 1e-10) && close(log_det_s, -log_det, 1e-10, 1e-10));
        let (y2, inv_s) = s.inverse(&x).unwrap();
        assert_eq!((y2.as_slice(), inv_s), (y.as_slice(), log_det));
        check_both_directions(&s, &y);
        // J_S(y) = J_T(x)⁻¹, and the dual-number path gives the same Jacobian.
        let js = jacobian(&s, &y);
        let mut jt_inv = vec![0.0; 4];
        invert_into(&jacobian(&t, &x), 2, &mut jt_inv).unwrap();
        assert!(all_close(&js, &jt_inv, tol::EXACT_REL));
        let mut dual_j = vec![0.0; 4];
        let mut ys: Vec<num_dual::Dual64> =
            y.iter().map(|&v| num_dual::Dual64::from_re(v)).collect();
        let mut out = vec![num_dual::Dual64::from_re(0.0); 2];
        for k in 0..2 {
            ys[k].eps = 1.0;
            s.transform(&ys, &mut out);
            ys[k].eps = 0.0;
            for j in 0..2 {
                dual_j[j * 2 + k] = out[j].eps;
                assert_eq!(out[j].re, x2[j], "the real part is T's f64 inverse");
            }
        }
        assert!(all_close(&dual_j, &js, 1e-12));
        // Second derivatives (HyperDual Newton) against central differences of the exact J.
        let mut dj = vec![0.0; 8];
        s.jacobian_gradient_into(&y, &mut dj);
        let fd = fd_jacobian_gradient(&s, &y, 1e-5);
        assert!(
            all_close(&dj, &fd, tol::FINITE_DIFF_REL),
            "{dj:?} vs {fd:?}"
        );
        // Third derivatives (HyperHyperDual) against central differences of the second.
        let mut t3 = vec![0.0; 16];
        s.third_derivatives_into(&y, &mut t3);
        let h = 1e-4;
        for i in 0..2 {
            let (mut up, mut down) = (y.clone(), y.clone());
            up[i] += h;
            down[i] -= h;
            let (mut du, mut dd) = (vec![0.0; 8], vec![0.0; 8]);
            s.jacobian_gradient_into(&up, &mut du);
            s.jacobian_gradient_into(&down, &mut dd);
            for l in 0..2 {
                for jk in 0..4 {
                    let want = (du[l * 4 + jk] - dd[l * 4 + jk]) / (2.0 * h);
                    let got = t3[(i * 2 + l) * 4 + jk];
                    assert!(close(got, want, 1e-5, 1e-7), "{got} vs {want}");
                }
            }
        }
        // Inverting twice gives T back, derivatives included.
        let ss = Invert::new(Invert::new(&t));
        let (mut a, mut b) = (vec![0.0; 8], vec![0.0; 8]);
        ss.jacobian_gradient_into(&x, &mut a);
        t.jacobian_gradient_into(&x, &mut b);
        assert!(all_close(&a, &b, 1e-9), "{a:?} vs {b:?}");
    }
}

#[test]
fn the_pushforward_by_the_inverse_undoes_the_pushforward() {
    // p_T pushed by T⁻¹ is p again: score and Hessian (third derivatives of T⁻¹) must match.
    let p = Gaussian::new(vec![0.2, -0.1], &[1.0, 0.3, 0.3, 0.5]).unwrap();
    let t = built_in_chain().then(Bump(2)).unwrap();
    let p_t = Pushforward::new(p.clone(), &t).unwrap();
    let back = Pushforward::new(p_t, Invert::new(&t)).unwrap();
    for x in [[0.3, -0.8], [1.0, 0.5]] {
        assert!(close(back.log_density(&x), p.log_density(&x), 1e-9, 1e-9));
        assert!(all_close(
            &back.try_score(&x).unwrap(),
            &p.try_score(&x).unwrap(),
            1e-8
        ));
        assert!(all_close(
            &back.try_hessian(&x).unwrap(),
            &p.try_hessian(&x).unwrap(),
            1e-7
        ));
    }
}

#[test]
fn invert_reports_the_inner_errors() {
    let g = GaussianFlow::new(0.0, 1.0, 3.0).unwrap();
    let top = g.derivatives(f64::MAX)[0];
    let s = Invert::new(g);
    assert!(matches!(
        s.forward(&[top * 1.01 + 1.0]),
        Err(Error::InverseFailed { .. })
    ));
    let mut j = [0.0];
    s.jacobian_into(&[top * 1.01 + 1.0], &mut j);
    assert!(j[0].is_nan(), "no silent value where T⁻¹ fails");
    let mut y = [num_dual::Dual64::from_re(0.0)];
    s.transform(&[num_dual::Dual64::new(top * 1.01 + 1.0, 1.0)], &mut y);
    assert!(y[0].re.is_nan() && y[0].eps.is_nan());
}

#[test]
fn sampling_a_pushforward_of_a_gaussian_through_an_affine_map_has_the_affine_moments() {
    // y = A x + c, x ~ N(μ, Σ): E y = A μ + c, Cov y = A Σ Aᵀ. Fixed seed; each moment is
    // checked at tol::MC_SIGMAS = 4 standard errors (two-sided α ≈ 6·10⁻⁵ per check under
    // normality; 5 checks).
    let mu = [1.0, -2.0];
    let sigma = [1.0, 0.4, 0.4, 2.0];
    let a = [2.0, 0.0, 1.0, -1.5];
    let c = [0.5, 3.0];
    let base = Gaussian::new(mu.to_vec(), &sigma).unwrap();
    let t = Affine::new(2, a.to_vec(), c.to_vec()).unwrap();
    let p = Pushforward::new(base.clone(), t.clone()).unwrap();
    let n = 40_000;
    let ys = p.sample_n(n, 2024, Par::Seq).unwrap();
    let mean_want: Vec<f64> = (0..2)
        .map(|i| a[i * 2] * mu[0] + a[i * 2 + 1] * mu[1] + c[i])
        .collect();
    let mut s_want = [0.0; 4];
    for i in 0..2 {
        for j in 0..2 {
            for k in 0..2 {
                for l in 0..2 {
                    s_want[i * 2 + j] += a[i * 2 + k] * sigma[k * 2 + l] * a[j * 2 + l];
                }
            }
        }
    }
    let nf = n as f64;
    let mean: Vec<f64> = (0..2)
        .map(|i| ys.rows().map(|y| y[i]).sum::<f64>() / nf)
        .collect();
    for i in 0..2 {
        let se = (s_want[i * 3] / nf).sqrt();
        assert!(
            (mean[i] - mean_want[i]).abs() < tol::MC_SIGMAS * se,
            "mean {i}: {} vs {}",
            mean[i],
            mean_want[i]
        );
    }
    for (i, j) in [(0, 0), (0, 1), (1, 1)] {
        let cov = ys
            .rows()
            .map(|y| (y[i] - mean[i]) * (y[j] - mean[j]))
            .sum::<f64>()
            / (nf - 1.0);
        // Var of a Gaussian sample covariance: (S_ii S_jj + S_ij²) / n.
        let se = ((s_want[i * 3] * s_want[j * 3] + s_want[i * 2 + j].powi(2)) / nf).sqrt();
        assert!(
            (cov - s_want[i * 2 + j]).abs() < tol::MC_SIGMAS * se,
            "cov {i}{j}: {cov} vs {}",
            s_want[i * 2 + j]
        );
    }
    // The draws are T of the base's own draws, bit for bit, for any thread count.
    let (direct, _) = t
        .forward_batch(&base.sample_n(n, 2024, Par::Seq).unwrap(), Par::Seq)
        .unwrap();
    assert_eq!(ys.as_slice(), direct.as_slice());
    assert_eq!(
        p.sample_n(n, 2024, Par::rayon(3)).unwrap().as_slice(),
        ys.as_slice()
    );
    // One draw at a time comes from the same stream as the first chunk.
    let mut rng = dsm_core::mc::random_stream(2024, dsm_core::mc::RandomPurpose::Sampling, 0);
    let mut y0 = [0.0; 2];
    p.sample_into(&mut rng, &mut y0);
    assert_eq!(&y0, ys.row(0));
}

#[test]
fn sampling_a_pushforward_reports_a_non_finite_draw_with_its_index_and_layer() {
    let base = Gaussian::new(vec![0.0], &[1.0]).unwrap();
    let t = Chain::new(vec![
        Layer::from(Affine::new(1, vec![1.0], vec![0.0]).unwrap()),
        Layer::from(Affine::new(1, vec![1e308], vec![0.0]).unwrap()),
    ])
    .unwrap();
    let p = Pushforward::new(base, t).unwrap();
    // |x| > 1.8 overflows; in 1000 standard normal draws some do (P(|x| > 1.8) ≈ 0.07).
    match p.sample_n(1000, 5, Par::rayon(2)) {
        Err(Error::NonFiniteLayerOutput {
            layer: 1,
            index,
            coordinate: 0,
        }) => {
            let xs = p.base().sample_n(1000, 5, Par::Seq).unwrap();
            let first = xs
                .rows()
                .position(|x| (x[0] * 1e308).is_infinite())
                .unwrap();
            assert_eq!(index, first);
        }
        other => panic!("expected a non-finite layer output, got {other:?}"),
    }
    let mut rng = dsm_core::mc::random_stream(5, dsm_core::mc::RandomPurpose::Sampling, 0);
    let mut y = [0.0];
    let mut saw_nan = false;
    for _ in 0..200 {
        p.sample_into(&mut rng, &mut y);
        saw_nan |= y[0].is_nan();
        assert!(y[0].is_nan() || y[0].is_finite());
    }
    assert!(saw_nan);
}

#[test]
fn composing_flows_of_different_dimensions_is_an_error() {
    let two = built_in_chain();
    let one = Affine::new(1, vec![2.0], vec![0.0]).unwrap();
    assert!(matches!(
        Compose::new(two.clone(), one.clone()),
        Err(Error::DimensionMismatch {
            expected: 2,
            got: 1,
            ..
        })
    ));
    assert!(matches!(
        two.then(Bump(3)),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        one.then(Bump(2)),
        Err(Error::DimensionMismatch { .. })
    ));
    let c = Compose::new(Bump(2), Invert::new(built_in_chain())).unwrap();
    assert_eq!((c.dim(), c.layer_count(), c.first().dim()), (2, 4, 2));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Invert of a random planar-radial-user composite: round trip, log-dets against the LU of
        /// the Jacobian in both directions, J_S = J_T⁻¹, and ∂J_S against central differences.
        #[test]
        fn invert_of_a_composite_is_exact(
            u in prop::collection::vec(-0.9..0.9f64, 2),
            w in prop::collection::vec(-1.0..1.0f64, 2),
            b in -1.0..1.0f64,
            beta in -0.9..2.0f64,
            x in prop::collection::vec(-2.0..2.0f64, 2),
        ) {
            // wᵀu > −1 keeps the planar layer invertible: |u|, |w| < 1 in each of 2 coordinates
            // bounds |wᵀu| < 1.8, so rescale u when needed.
            let dot = u[0] * w[0] + u[1] * w[1];
            let u: Vec<f64> = if dot <= -0.5 { u.iter().map(|v| v * (-0.5 / dot)).collect() } else { u };
            let t = Planar::new(u, w, b).unwrap()
                .then(Radial::new(vec![0.2, -0.3], 1.0, beta).unwrap()).unwrap()
                .then(Bump(2)).unwrap();
            check_both_directions(&t, &x);
            let (y, _) = t.forward(&x).unwrap();
            let s = Invert::new(&t);
            check_both_directions(&s, &y);
            let mut jt_inv = vec![0.0; 4];
            invert_into(&jacobian(&t, &x), 2, &mut jt_inv).unwrap();
            prop_assert!(all_close(&jacobian(&s, &y), &jt_inv, 1e-10));
            let mut dj = vec![0.0; 8];
            s.jacobian_gradient_into(&y, &mut dj);
            let fd = fd_jacobian_gradient(&s, &y, 1e-5);
            prop_assert!(all_close(&dj, &fd, 1e-5), "{:?} vs {:?}", dj, fd);
        }
    }
}

/// A user flow whose inverse always fails: the error a chain or composite reports must carry
/// the failing layer's position and keep the layer's own error as its source.
struct NoInverse;

impl Flow for NoInverse {
    fn dim(&self) -> usize {
        2
    }
    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        y.copy_from_slice(x);
    }
    fn inverse_unchecked_into(&self, _y: &[f64], _x: &mut [f64]) -> Result<()> {
        Err(Error::InverseFailed {
            index: 0,
            iterations: 7,
        })
    }
}

#[test]
fn errors_inside_a_composite_name_the_layer_and_keep_the_source() {
    use std::error::Error as _;
    // built_in_chain has 3 layers, so the user flow after it is layer 3.
    let flow = built_in_chain().then(NoInverse).unwrap();
    let mut x = [0.0; 2];
    let e = flow.inverse_into(&[0.1, 0.2], &mut x).unwrap_err();
    let inner = Error::InverseFailed {
        index: 0,
        iterations: 7,
    };
    assert_eq!(
        e,
        Error::InLayer {
            layer: 3,
            source: Box::new(inner.clone())
        }
    );
    assert_eq!(e.root_cause(), &inner);
    assert_eq!(e.source().map(|s| s.to_string()), Some(inner.to_string()));
    assert_eq!(
        e.to_string(),
        "layer 3 of the flow: the inverse did not converge at sample 0 after 7 iterations"
    );
    // Re-indexed by the engines: the sample index reaches the inner error.
    assert_eq!(
        e.clone().at_sample(5).root_cause(),
        &Error::InverseFailed {
            index: 5,
            iterations: 7
        }
    );
    // The same flow placed first: layer 0, and the chain behind it is not blamed.
    let first = NoInverse.then(built_in_chain()).unwrap();
    assert!(matches!(
        first.inverse_into(&[0.1, 0.2], &mut x),
        Err(Error::InLayer { layer: 0, .. })
    ));
}

#[test]
fn a_chain_of_mixed_dimensions_names_the_layer_and_both_sizes() {
    let mixed = vec![
        Layer::from(Affine::new(2, vec![1.0, 0.0, 0.0, 1.0], vec![0.0, 0.0]).unwrap()),
        Layer::from(Planar::new(vec![0.3, 0.2], vec![1.0, -1.0], 0.1).unwrap()),
        Layer::from(Planar::new(vec![0.1], vec![1.0], 0.0).unwrap()),
    ];
    let e = Chain::new(mixed).unwrap_err();
    assert_eq!(
        e.to_string(),
        "layer 2 of the flow: dimension mismatch: dimension of this layer is 1, \
         but dimension of the first layer is 2"
    );
}

#[test]
fn invalid_parameters_name_their_owner() {
    let e = GaussianFlow::new(0.0, -1.0, 3.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid parameter `scale` of GaussianFlow = -1: must be finite and > 0"
    );
    assert!(matches!(
        Planar::new(vec![1.0], vec![-2.0], 0.0),
        Err(Error::InvalidParameter {
            owner: "Planar",
            name: "wᵀu",
            ..
        })
    ));
}

#[test]
fn a_singular_flow_jacobian_reports_its_rcond() {
    // A rank-deficient affine map: J = [[1, 2], [2, 4]] has rcond 0 after equilibration (the
    // LU's pivot vanishes), and a nearly singular one reports a tiny positive rcond.
    for (a, positive) in [
        (vec![1.0, 2.0, 2.0, 4.0], false),
        (vec![1.0, 2.0, 2.0, 4.0 + 1e-15], true),
    ] {
        let Err(e) = Affine::new(2, a, vec![0.0, 0.0]) else {
            panic!("a singular affine matrix was accepted");
        };
        match e {
            Error::Singular { rcond, .. } | Error::SingularJacobian { rcond, .. } => {
                assert!((0.0..1e-14).contains(&rcond), "rcond {rcond}");
                assert_eq!(rcond > 0.0, positive, "rcond {rcond}");
                assert!(e.to_string().contains("reciprocal condition number"), "{e}");
            }
            other => panic!("unexpected error {other}"),
        }
    }
}

/// The diffusion of a flow through the trait's default paths only (m and ∂m, then A, ∇·A and
/// ∇·m assembled by `covariance_from_parts` and the default divergence): the reference the
/// one-pass overrides of `FlowDiffusion` are checked against.
struct DefaultPaths<F>(FlowDiffusion<F>);

impl<F: Flow> Diffusion for DefaultPaths<F> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn matrix_into(&self, x: &[f64], m: &mut [f64]) -> Result<()> {
        // m from faer's LU of the autodiff Jacobian: independent of the scratch inverse.
        let d = x.len();
        invert_into(&jacobian(self.0.flow(), x), d, m)
    }
    fn matrix_gradient_into(&self, x: &[f64], dm: &mut [f64]) -> Result<()> {
        self.0.matrix_gradient_into(x, dm)
    }
}

fn elementwise_chain() -> Chain<Layer> {
    Chain::new(vec![
        Layer::from(
            Elementwise::new(vec![
                GaussianFlow::new(0.2, 1.3, 4.0).unwrap(),
                GaussianFlow::new(-0.5, 0.7, 12.0).unwrap(),
            ])
            .unwrap(),
        ),
        Layer::from(Elementwise::uniform(SinhArcsinh::new(0.3, 0.8).unwrap(), 2).unwrap()),
        Layer::from(Elementwise::uniform(ManualFlow::new(0.1, 1.0, 6.0).unwrap(), 2).unwrap()),
    ])
    .unwrap()
}

#[test]
fn elementwise_chains_compose_their_derivatives_exactly() {
    // Faà di Bruno (docs/math.md eq. 4.12c) against the hyper-dual derivatives of the chain.
    let t = elementwise_chain();
    assert!(t.is_elementwise() && !built_in_chain().is_elementwise());
    for x in [[0.3, -1.2], [4.0, 0.01], [-25.0, 60.0]] {
        let mut out = [[0.0; 4]; 2];
        assert!(t.elementwise_derivatives_into(&x, &mut out));
        let (y, _) = t.forward(&x).unwrap();
        let j = jacobian(&t, &x);
        let mut dj = vec![0.0; 8];
        t.jacobian_gradient_into(&x, &mut dj);
        let mut t3 = vec![0.0; 16];
        t.third_derivatives_into(&x, &mut t3);
        for i in 0..2 {
            let expect = [
                y[i],
                j[i * 2 + i],
                dj[(i * 2 + i) * 2 + i],
                t3[((i * 2 + i) * 2 + i) * 2 + i],
            ];
            for (k, (a, b)) in out[i].iter().zip(&expect).enumerate() {
                assert!(
                    close(*a, *b, 1e-12, 1e-300),
                    "x={x:?} coordinate {i} order {k}: {a} vs {b}"
                );
            }
        }
    }
    assert!(!built_in_chain().elementwise_derivatives_into(&[0.0, 0.0], &mut [[0.0; 4]; 2]));
}

#[test]
fn the_one_pass_diffusion_equals_the_default_assembly() {
    fn check<F: Flow>(flow: F, points: &[[f64; 2]]) {
        let fast = FlowDiffusion::new(flow);
        let slow = DefaultPaths(FlowDiffusion::new(fast.flow()));
        let mut work = DiffusionWork::new();
        for x in points {
            let (mut a1, mut da1, mut a2, mut da2) = ([0.0; 4], [0.0; 2], [0.0; 4], [0.0; 2]);
            fast.covariance_into(x, &mut work, &mut a1, &mut da1)
                .unwrap();
            slow.covariance_into(x, &mut work, &mut a2, &mut da2)
                .unwrap();
            let (mut m1, mut dv1, mut m2, mut dv2) = ([0.0; 4], [0.0; 2], [0.0; 4], [0.0; 2]);
            fast.matrix_and_divergence_into(x, &mut work, &mut m1, &mut dv1)
                .unwrap();
            slow.matrix_and_divergence_into(x, &mut work, &mut m2, &mut dv2)
                .unwrap();
            let mut m3 = [0.0; 4];
            fast.matrix_into(x, &mut m3).unwrap();
            let scale = |v: &[f64]| v.iter().fold(1e-300f64, |m, e| m.max(e.abs()));
            for (got, want) in [
                (&a1[..], &a2[..]),
                (&da1, &da2),
                (&m1, &m2),
                (&dv1, &dv2),
                (&m3, &m2),
            ] {
                let s = scale(want);
                for (g, w) in got.iter().zip(want) {
                    assert!((g - w).abs() <= 1e-12 * s, "x={x:?}: {got:?} vs {want:?}");
                }
            }
        }
    }
    let points = [[0.3, -1.2], [2.0, 0.5], [-3.0, 7.0]];
    check(built_in_chain(), &points);
    check(elementwise_chain(), &points);
    check(
        Elementwise::uniform(GaussianFlow::new(0.0, 1.0, 3.0).unwrap(), 2).unwrap(),
        &points,
    );
    check(
        Planar::new(vec![0.3, 0.2], vec![1.0, -1.0], 0.1)
            .unwrap()
            .then(Bump(2))
            .unwrap(),
        &points,
    );
    // Inverses: J and ∂J by the inverse function theorem (Invert::jacobian_and_gradient_into,
    // itself checked against central differences in `invert_of_a_composite_is_exact`).
    check(Invert::new(elementwise_chain()), &points);
    check(Invert::new(built_in_chain()), &points);
}

/// A radial kernel with its profile hidden: the Stein kernels then take their general path,
/// the per-pair derivatives (the reference for the per-point feature-map path).
struct HiddenProfile<K>(K);

impl<K: Kernel> Kernel for HiddenProfile<K> {
    fn value(&self, x: &[f64], y: &[f64]) -> f64 {
        self.0.value(x, y)
    }
    fn derivatives_into(
        &self,
        x: &[f64],
        y: &[f64],
        gx: &mut [f64],
        gy: &mut [f64],
        c: &mut [f64],
    ) -> f64 {
        self.0.derivatives_into(x, y, gx, gy, c)
    }
}

#[test]
fn pulled_back_kernels_are_paired_per_point_as_per_pair() {
    let model = MultivariateStudentT::new(vec![0.2, -0.1], &[1.0, 0.3, 0.3, 2.0], 5.0).unwrap();
    let xs = model.sample_n(60, 9, Par::Seq).unwrap();
    let flow = built_in_chain();
    let fast = PulledBackKernel::new(Imq::default(), &flow);
    let slow = PulledBackKernel::new(HiddenProfile(Imq::default()), &flow);
    assert!(fast.has_feature_map() && !slow.has_feature_map());
    for estimator in [Estimator::U, Estimator::V] {
        let (a, b) = (
            Ksd::new(&fast, estimator)
                .estimate(&model, &xs, Par::rayon(2))
                .unwrap(),
            Ksd::new(&slow, estimator)
                .estimate(&model, &xs, Par::Seq)
                .unwrap(),
        );
        assert!(close(a.value, b.value, 1e-12, 1e-14), "KSD {a} vs {b}");
        for m in [
            FlowDiffusion::new(Layer::from(Radial::new(vec![0.1, 0.0], 1.0, 0.4).unwrap())),
            FlowDiffusion::new(Layer::from(
                Elementwise::uniform(GaussianFlow::new(0.0, 1.0, 4.0).unwrap(), 2).unwrap(),
            )),
        ] {
            let (a, b) = (
                DiffusionKsd::new(&fast, &m, estimator)
                    .unwrap()
                    .estimate(&model, &xs, Par::Seq)
                    .unwrap(),
                DiffusionKsd::new(&slow, &m, estimator)
                    .unwrap()
                    .estimate(&model, &xs, Par::Seq)
                    .unwrap(),
            );
            assert!(close(a.value, b.value, 1e-12, 1e-14), "DKSD {a} vs {b}");
        }
    }
    // A point the flow cannot map is an error naming the sample.
    let bad = Samples::new(vec![0.0, 0.0, 1e308, -1e308], 2).unwrap();
    let overflow = PulledBackKernel::new(
        Imq::default(),
        Elementwise::uniform(SinhArcsinh::new(0.0, 3.0).unwrap(), 2).unwrap(),
    );
    let e = Ksd::new(&overflow, Estimator::V)
        .estimate(&model, &bad, Par::Seq)
        .unwrap_err();
    assert!(
        matches!(e, Error::NonFiniteLayerOutput { index: 1, .. }),
        "{e:?}"
    );
}

#[test]
fn elementwise_diffusions_stay_finite_far_in_the_tails() {
    // At |x| = 1e200 the Gaussian flow's slope t′ is far below 1e-154, so t′² underflows;
    // m = 1/t′ and ∇·m = −t″/t′² must still come out finite, equal to the dense path's.
    let flow = Elementwise::uniform(GaussianFlow::new(0.0, 1.0, 3.0).unwrap(), 2).unwrap();
    let fast = FlowDiffusion::new(&flow);
    let slow = DefaultPaths(FlowDiffusion::new(&flow));
    let mut work = DiffusionWork::new();
    for x in [[1e200, -3.0], [-1e250, 1e160]] {
        let (mut m1, mut d1, mut m2, mut d2) = ([0.0; 4], [0.0; 2], [0.0; 4], [0.0; 2]);
        fast.matrix_and_divergence_into(&x, &mut work, &mut m1, &mut d1)
            .unwrap();
        slow.matrix_and_divergence_into(&x, &mut work, &mut m2, &mut d2)
            .unwrap();
        assert!(m1.iter().chain(&d1).all(|v| v.is_finite()), "{m1:?} {d1:?}");
        for (a, b) in m1.iter().zip(&m2).chain(d1.iter().zip(&d2)) {
            assert!(close(*a, *b, 1e-12, 1e-300), "x={x:?}: {a} vs {b}");
        }
    }
}

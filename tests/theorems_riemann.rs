//! Property-based proofs (proptest, 256 random cases each, d from 1 to 6) of Proposition 3.1,
//! the metric-tensor reading (docs/math.md eqs. 13, 33 and N10), and of the triangle
//! flow / diffusion / metric.

use dsm::core::testing::close;
use dsm::core::*;
use dsm::flows::*;
use dsm::riemann::*;
use proptest::prelude::*;
mod common;
use common::config;

/// G(x) = L(x) L(x)ᵀ + ½ I with L(x) = B + 0.3 diag(tanh(W x)) — a random smooth SPD field.
struct Field {
    d: usize,
    p: Vec<f64>,
}
impl GenericMetric for Field {
    fn dim(&self) -> usize {
        self.d
    }
    fn metric_generic<D: Scalar>(&self, x: &[D], g: &mut [D]) -> Result<()> {
        let d = self.d;
        let mut l = vec![D::from(0.0); d * d];
        for a in 0..d {
            let wx = (0..d).fold(D::from(0.0), |acc, k| {
                acc + x[k] * self.p[(a * d + k + 50) % self.p.len()]
            });
            for b in 0..d {
                l[a * d + b] =
                    D::from(self.p[(a * d + b) % self.p.len()] + if a == b { 1.0 } else { 0.0 });
            }
            l[a * d + a] += wx.tanh() * 0.3;
        }
        for a in 0..d {
            for b in 0..d {
                g[a * d + b] = (0..d).fold(D::from(if a == b { 0.5 } else { 0.0 }), |acc, c| {
                    acc + l[a * d + c] * l[b * d + c]
                });
            }
        }
        Ok(())
    }
}

/// m R for a fixed orthogonal R (a product of Givens rotations): same A = m mᵀ.
struct Rotated<M> {
    inner: M,
    r: Vec<f64>,
}
impl<M: Diffusion> Diffusion for Rotated<M> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn matrix_into(&self, x: &[f64], m: &mut [f64]) -> Result<()> {
        let d = x.len();
        let mut base = vec![0.0; d * d];
        self.inner.matrix_into(x, &mut base)?;
        for a in 0..d {
            for b in 0..d {
                m[a * d + b] = (0..d).map(|c| base[a * d + c] * self.r[c * d + b]).sum();
            }
        }
        Ok(())
    }
    fn matrix_gradient_into(&self, x: &[f64], dm: &mut [f64]) -> Result<()> {
        let d = x.len();
        let mut base = vec![0.0; d * d * d];
        self.inner.matrix_gradient_into(x, &mut base)?;
        for i in 0..d {
            for a in 0..d {
                for b in 0..d {
                    dm[(i * d + a) * d + b] = (0..d)
                        .map(|c| base[(i * d + a) * d + c] * self.r[c * d + b])
                        .sum();
                }
            }
        }
        Ok(())
    }
}

fn givens(d: usize, angles: &[f64]) -> Vec<f64> {
    let mut r: Vec<f64> = (0..d * d)
        .map(|k| if k / d == k % d { 1.0 } else { 0.0 })
        .collect();
    for (k, &t) in angles.iter().enumerate().take(d.saturating_sub(1) * 2) {
        let (i, j) = (k % d, (k + 1) % d);
        if i == j {
            continue;
        }
        let (c, s) = (t.cos(), t.sin());
        for row in 0..d {
            let (u, v) = (r[row * d + i], r[row * d + j]);
            r[row * d + i] = c * u - s * v;
            r[row * d + j] = s * u + c * v;
        }
    }
    r
}

fn models(d: usize, p: &[f64]) -> (Gaussian, MultivariateStudentT) {
    let s: Vec<f64> = (0..d * d)
        .map(|k| {
            if k / d == k % d {
                1.0 + 0.5 * p[k % p.len()].abs()
            } else {
                0.0
            }
        })
        .collect();
    (
        Gaussian::new((0..d).map(|i| 0.3 * p[(i + 3) % p.len()]).collect(), &s).unwrap(),
        MultivariateStudentT::new(
            (0..d).map(|i| p[(i + 9) % p.len()]).collect(),
            &s,
            2.0 + 3.0 * p[0].abs(),
        )
        .unwrap(),
    )
}

/// A random flow: affine, planar, sinh-arcsinh.
fn flow(d: usize, p: &[f64]) -> Chain<Layer> {
    let a: Vec<f64> = (0..d * d)
        .map(|k| {
            0.2 * p[(k + 20) % p.len()] / (d as f64).sqrt() + if k / d == k % d { 1.5 } else { 0.0 }
        })
        .collect();
    let w: Vec<f64> = (0..d).map(|i| p[(i + 40) % p.len()]).collect();
    let mut u: Vec<f64> = (0..d).map(|i| 0.5 * p[(i + 47) % p.len()]).collect();
    let w2: f64 = w.iter().map(|v| v * v).sum::<f64>().max(1e-3);
    let wu: f64 = w.iter().zip(&u).map(|(a, b)| a * b).sum();
    if wu < -0.8 {
        for (ui, wi) in u.iter_mut().zip(&w) {
            *ui += (-0.8 - wu) * wi / w2;
        }
    }
    Chain::new(vec![
        Layer::from(Affine::new(d, a, vec![0.1; d]).unwrap()),
        Layer::from(Planar::new(u, if w2 > 1e-3 { w } else { vec![0.1; d] }, 0.2).unwrap()),
        Layer::from(
            Elementwise::uniform(
                SinhArcsinh::new(0.2 * p[1], 0.7 + 0.5 * p[2].abs()).unwrap(),
                d,
            )
            .unwrap(),
        ),
    ])
    .unwrap()
}

fn case() -> impl Strategy<Value = (usize, Vec<f64>, Vec<f64>)> {
    (1usize..=6).prop_flat_map(|d| {
        (
            Just(d),
            prop::collection::vec(-1.0..1.0f64, 80),
            prop::collection::vec(-2.0..2.0f64, 3 * d),
        )
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn eq_33_is_the_diffusion_fisher_divergence_with_m_mt_equal_g_inverse((d, p, x) in case()) {
        // N10: δᵀG⁻¹δ (Cholesky solve, no m) = ‖mᵀδ‖² with m = C⁻ᵀ, per sample.
        let (q, pm) = models(d, &p);
        let metric = AutoDiff(Field { d, p: p.clone() });
        let xs = Samples::new(x, d).unwrap();
        let a = riemannian_fisher_divergence_integrand(&q, &pm, &metric, &xs, Par::Seq).unwrap();
        let b = diffusion_fisher_divergence_integrand(&q, &pm, &MetricDiffusion::new(&metric), &xs, Par::Seq).unwrap();
        for (u, v) in a.iter().zip(&b) {
            prop_assert!(close(*u, *v, 1e-10, 1e-12), "{u} vs {v}");
        }
    }

    #[test]
    fn objectives_are_invariant_under_m_to_m_r((d, p, x) in case()) {
        // The Cholesky root C⁻ᵀ and C⁻ᵀR give the same D_m and DSM (they see only m mᵀ = G⁻¹),
        // and the metric's direct (∇·A) route agrees with the generic one through m and ∂m.
        let (q, pm) = models(d, &p);
        let md = MetricDiffusion::new(AutoDiff(Field { d, p: p.clone() }));
        let rotated = Rotated { inner: &md, r: givens(d, &p[60..]) };
        let xs = Samples::new(x, d).unwrap();
        let (f1, f2) = (
            diffusion_fisher_divergence_integrand(&q, &pm, &md, &xs, Par::Seq).unwrap(),
            diffusion_fisher_divergence_integrand(&q, &pm, &rotated, &xs, Par::Seq).unwrap(),
        );
        let (s1, s2) = (
            diffusion_score_matching_integrand(&pm, &md, &xs, Par::Seq).unwrap(),
            diffusion_score_matching_integrand(&pm, &rotated, &xs, Par::Seq).unwrap(),
        );
        for i in 0..xs.n() {
            prop_assert!(close(f1[i], f2[i], 1e-10, 1e-10), "D_m {} vs {}", f1[i], f2[i]);
            prop_assert!(close(s1[i], s2[i], 1e-9, 1e-9), "DSM {} vs {}", s1[i], s2[i]);
        }
    }

    #[test]
    fn cholesky_root_derivative_matches_differences((d, p, x) in case()) {
        let md = MetricDiffusion::new(AutoDiff(Field { d, p: p.clone() }));
        let x = &x[..d];
        let mut dm = vec![0.0; d * d * d];
        md.matrix_gradient_into(x, &mut dm).unwrap();
        let fd = dsm::core::testing::finite_difference_diffusion_gradient(&md, x, 1e-6);
        let scale = fd.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (a, b) in dm.iter().zip(&fd) {
            prop_assert!(close(*a, *b, 1e-5, 1e-5 * scale), "{a} vs {b}");
        }
    }

    #[test]
    fn the_triangle_flow_diffusion_metric_closes((d, p, x) in case()) {
        // G = JᵀJ: the Riemannian divergence is F(q_T‖p_T) at T(x) (Theorems 3.1 and
        // Proposition 3.1), and DSM through MetricDiffusion equals DSM through FlowDiffusion.
        let t = flow(d, &p);
        let (q, pm) = models(d, &p);
        let xs = Samples::new(x, d).unwrap();
        let metric = FlowMetric::new(&t);
        let riem = riemannian_fisher_divergence_integrand(&q, &pm, &metric, &xs, Par::Seq).unwrap();
        let (qt, pt) = (Pushforward::new(q.clone(), &t).unwrap(), Pushforward::new(pm.clone(), &t).unwrap());
        for (i, xi) in xs.rows().enumerate() {
            let mut y = vec![0.0; d];
            t.transform(xi, &mut y);
            let (a, b) = (qt.try_score(&y).unwrap(), pt.try_score(&y).unwrap());
            let fy: f64 = a.iter().zip(&b).map(|(u, v)| (u - v) * (u - v)).sum();
            prop_assert!(close(riem[i], fy, 1e-8, 1e-10), "{} vs F(q_T‖p_T) {fy}", riem[i]);
        }
        let via_metric = diffusion_score_matching_integrand(&pm, &MetricDiffusion::new(&metric), &xs, Par::Seq).unwrap();
        let via_flow = diffusion_score_matching_integrand(&pm, &FlowDiffusion::new(&t), &xs, Par::Seq).unwrap();
        for (u, v) in via_metric.iter().zip(&via_flow) {
            prop_assert!(close(*u, *v, 1e-8, 1e-8), "metric {u} vs flow {v}");
        }
    }
}

#[test]
fn a_metric_that_is_not_spd_at_a_sample_is_an_error_naming_it() {
    let g = Gaussian::standard(2).unwrap();
    let p = Gaussian::isotropic(vec![1.0, 0.0], 1.0).unwrap();
    // Indefinite for x₀ > 1.
    let bad = MetricFn::new(
        2,
        |x: &[f64], g: &mut [f64]| {
            let off = if x[0] > 1.0 { 3.0 } else { 0.1 };
            g.copy_from_slice(&[1.0, off, off, 1.0]);
        },
        |_x: &[f64], dg: &mut [f64]| dg.fill(0.0),
    );
    let xs = Samples::from_rows(&[[0.0, 0.0], [0.5, 1.0], [1.5, 0.0], [2.0, 1.0]]).unwrap();
    let expected = Err(Error::NotPositiveDefinite {
        name: "metric",
        index: Some(2),
    });
    assert_eq!(
        riemannian_fisher_divergence(&g, &p, &bad, &xs, Par::Seq).map(|e| e.value),
        expected.clone()
    );
    let md = MetricDiffusion::new(&bad);
    assert_eq!(
        diffusion_fisher_divergence(&g, &p, &md, &xs, Par::rayon(2)).map(|e| e.value),
        expected.clone()
    );
    assert_eq!(
        diffusion_score_matching_loss(&p, &md, &xs, Par::Seq).map(|e| e.value),
        expected
    );
    // Outside the hyperbolic half-plane.
    let h = HyperbolicHalfSpace::new(2).unwrap();
    let ys = Samples::from_rows(&[[0.0, 1.0], [0.0, 2.0], [0.3, -0.1]]).unwrap();
    assert!(matches!(
        riemannian_fisher_divergence(&g, &p, &h, &ys, Par::Seq),
        Err(Error::NotPositiveDefinite { index: Some(2), .. })
    ));
    assert!(matches!(
        diffusion_score_matching_loss(&p, &MetricDiffusion::new(h), &ys, Par::Seq),
        Err(Error::NotPositiveDefinite { index: Some(2), .. })
    ));
    assert_eq!(
        Error::NotPositiveDefinite {
            name: "metric",
            index: Some(2)
        }
        .to_string(),
        "matrix `metric` is not positive definite at sample 2"
    );
}

#[test]
fn bad_input() {
    use Error::*;
    assert!(matches!(
        ConstantMetric::new(0, vec![]),
        Err(InvalidParameter { name: "dim", .. })
    ));
    assert!(matches!(
        ConstantMetric::new(2, vec![1.0; 3]),
        Err(DimensionMismatch { .. })
    ));
    assert_eq!(
        ConstantMetric::new(2, vec![1.0, 0.5, 0.2, 1.0]),
        Err(NotSymmetric {
            name: "metric",
            row: 1,
            col: 0
        })
    );
    assert_eq!(
        ConstantMetric::new(2, vec![1.0, 2.0, 2.0, 1.0]),
        Err(NotPositiveDefinite {
            name: "metric",
            index: None
        })
    );
    assert!(matches!(
        ConstantMetric::new(1, vec![f64::NAN]),
        Err(NonFiniteMatrix { name: "metric", .. })
    ));
    assert!(matches!(
        HyperbolicHalfSpace::new(0),
        Err(InvalidParameter { .. })
    ));
    let g = Gaussian::standard(2).unwrap();
    let xs = g.sample_n(5, 1, Par::Seq).unwrap();
    let m3 = ConstantMetric::new(3, vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]).unwrap();
    assert!(matches!(
        riemannian_fisher_divergence(&g, &g, &m3, &xs, Par::Seq),
        Err(DimensionMismatch {
            what: "dimension of the metric",
            ..
        })
    ));
    assert!(matches!(
        diffusion_score_matching_loss(&g, &MetricDiffusion::new(m3), &xs, Par::Seq),
        Err(DimensionMismatch {
            what: "dimension of the diffusion",
            ..
        })
    ));
}

#[test]
fn hyperbolic_diffusion_is_x_d_times_identity() {
    // G = I/x_d²: m = x_d I, and its DSM matches the closed form with A = x_d² I, ∇·A = 2x_d e_d.
    let h = MetricDiffusion::new(HyperbolicHalfSpace::new(2).unwrap());
    let p = Gaussian::new(vec![0.0, 2.0], &[1.0, 0.2, 0.2, 0.5]).unwrap();
    let xs = Samples::from_rows(&[[0.3, 1.5], [-1.0, 0.4], [2.0, 3.0]]).unwrap();
    let dsm = diffusion_score_matching_integrand(&p, &h, &xs, Par::Seq).unwrap();
    for (i, x) in xs.rows().enumerate() {
        let mut m = [0.0; 4];
        h.matrix_into(x, &mut m).unwrap();
        assert!(close(m[0], x[1], 1e-14, 0.0) && close(m[3], x[1], 1e-14, 0.0) && m[1] == 0.0);
        let s = p.try_score(x).unwrap();
        let hs = p.try_hessian(x).unwrap();
        let a = x[1] * x[1];
        let closed =
            a * (s[0] * s[0] + s[1] * s[1]) + 2.0 * (2.0 * x[1] * s[1] + a * (hs[0] + hs[3]));
        assert!(
            close(dsm[i], closed, 1e-12, 1e-12),
            "{} vs {closed}",
            dsm[i]
        );
    }
}

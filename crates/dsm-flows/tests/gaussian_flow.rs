//! The Gaussian flow Φ⁻¹ ∘ F_t (docs/math.md eq. 12): tail values against a committed mpmath
//! table, monotonicity and finiteness up to |x| = 1e12, the inverse, exact derivatives, the
//! pushforward N(0, 1) (N9) and the Gaussian-flow DSM integrand and surrogate (§6.3, N8).

use dsm_core::quadrature::sinh_simpson;
use dsm_core::testing::close;
use dsm_core::*;
use dsm_flows::*;

/// (ν, x, T) from tests/reference/gaussian_flow_tails.py (mpmath, 60 digits).
fn table() -> Vec<(f64, f64, f64)> {
    include_str!("reference/gaussian_flow_tails.csv")
        .lines()
        .skip(1)
        .map(|l| {
            let v: Vec<f64> = l.split(',').map(|s| s.parse().unwrap()).collect();
            (v[0], v[1], v[2])
        })
        .collect()
}

#[test]
fn tail_values_match_mpmath() {
    let mut worst = 0.0f64;
    for (nu, x, t) in table() {
        let flow = GaussianFlow::new(0.0, 1.0, nu).unwrap();
        let mut y = [0.0];
        flow.transform(&[x], &mut y);
        let err = (y[0] - t).abs() / t.abs().max(1.0);
        worst = worst.max(err);
        assert!(
            err < 1e-13,
            "ν = {nu}, x = {x}: {} vs mpmath {t} (rel {err:e})",
            y[0]
        );
    }
    eprintln!("worst relative error against mpmath: {worst:e}");
}

#[test]
fn location_and_scale_are_honoured() {
    for (nu, x, t) in table() {
        let flow = GaussianFlow::new(-3.0, 2.5, nu).unwrap();
        let mut y = [0.0];
        flow.transform(&[-3.0 + 2.5 * x], &mut y);
        assert!(close(y[0], t, 1e-12, 1e-12), "{nu} {x}");
    }
}

#[test]
fn finite_strictly_monotone_and_invertible_up_to_1e12() {
    for nu in [0.7, 1.0, 2.5, 10.0, 30.0, 100.0] {
        let flow = GaussianFlow::new(0.0, 1.0, nu).unwrap();
        // A signed log grid from −1e12 to 1e12 through 0.
        let mut xs: Vec<f64> = (0..=600)
            .map(|k| 10f64.powf(-3.0 + 15.0 * k as f64 / 600.0))
            .collect();
        let neg: Vec<f64> = xs.iter().rev().map(|v| -v).collect();
        xs = neg
            .into_iter()
            .chain(std::iter::once(0.0))
            .chain(xs)
            .collect();
        let mut prev = f64::NEG_INFINITY;
        for &x in &xs {
            let [t, t1, t2, t3] = flow.derivatives(x);
            assert!(
                t.is_finite() && t1.is_finite() && t2.is_finite() && t3.is_finite(),
                "ν = {nu}, x = {x}"
            );
            assert!(t1 > 0.0, "T′ > 0 at ν = {nu}, x = {x}");
            assert!(flow.log_derivative(x).is_finite());
            assert!(
                t > prev,
                "strictly increasing at ν = {nu}, x = {x}: {t} after {prev}"
            );
            prev = t;
            let back = flow.scalar_inverse(t).unwrap();
            assert!(
                close(back, x, 1e-11, 1e-300),
                "inverse at ν = {nu}, x = {x}: {back}"
            );
        }
    }
}

#[test]
fn derivatives_match_central_differences() {
    for nu in [1.0, 3.0, 10.0] {
        let flow = GaussianFlow::new(0.5, 1.5, nu).unwrap();
        for x in [-40.0f64, -3.0, -0.2, 0.5, 1.7, 8.0, 120.0] {
            let h = 1e-5 * x.abs().max(1.0);
            let [_, t1, t2, t3] = flow.derivatives(x);
            let [tp, t1p, t2p, _] = flow.derivatives(x + h);
            let [tm, t1m, t2m, _] = flow.derivatives(x - h);
            assert!(close(t1, (tp - tm) / (2.0 * h), 1e-7, 1e-12), "T′ at {x}");
            assert!(close(t2, (t1p - t1m) / (2.0 * h), 1e-6, 1e-10), "T″ at {x}");
            assert!(close(t3, (t2p - t2m) / (2.0 * h), 1e-5, 1e-9), "T‴ at {x}");
            assert!(close(flow.log_derivative(x), t1.ln(), 1e-12, 1e-14));
        }
    }
}

#[test]
fn the_pushforward_is_exactly_standard_normal() {
    // docs/math.md N9: p_T = N(0, 1): log p_T(y) = log φ(y), score −y, Hessian −1.
    for nu in [1.5, 3.0, 10.0] {
        let p = StudentT::new(0.7, 2.0, nu).unwrap();
        let pt = Pushforward::new(p, GaussianFlow::new(0.7, 2.0, nu).unwrap()).unwrap();
        for y in [-7.0, -2.0, -0.3, 0.0, 0.4, 1.9, 6.5] {
            let log_phi = -0.5 * y * y - 0.5 * (2.0 * std::f64::consts::PI).ln();
            assert!(
                close(pt.log_density(&[y]), log_phi, 1e-11, 1e-11),
                "log p_T at {y}"
            );
            assert!(
                close(pt.try_score(&[y]).unwrap()[0], -y, 1e-9, 1e-9),
                "score at {y}"
            );
            assert!(
                close(pt.try_hessian(&[y]).unwrap()[0], -1.0, 1e-8, 1e-8),
                "hessian at {y}"
            );
        }
    }
}

#[test]
fn gaussian_flow_dsm_integrand_closed_forms() {
    // h_G = −3m²s² − 4msT + 2m²s′ = (T² − 2) + (mg)² + 2(m²g)′, g = s + T/m
    // (docs/math.md (3.12), N9)
    let nu = 5.0;
    let p = StudentT::new(0.0, 1.0, nu).unwrap();
    let flow = GaussianFlow::new(0.0, 1.0, nu).unwrap();
    let xs =
        Samples::from_scalars(vec![-30.0, -4.0, -1.0, -0.1, 0.0, 0.3, 2.0, 9.0, 100.0]).unwrap();
    let dsm =
        diffusion_score_matching_integrand(&p, &FlowDiffusion::new(flow), &xs, Par::Seq).unwrap();
    for (i, x) in xs.rows().enumerate() {
        let x = x[0];
        let [t, t1, _, _] = flow.derivatives(x);
        let m = 1.0 / t1;
        let s = p.try_score(&[x]).unwrap()[0];
        let s1 = p.try_hessian(&[x]).unwrap()[0];
        let closed = -3.0 * m * m * s * s - 4.0 * m * s * t + 2.0 * m * m * s1;
        assert!(
            close(dsm[i], closed, 1e-10, 1e-10),
            "x = {x}: {} vs {closed}",
            dsm[i]
        );
        // Second form, with (m²g)′ by central differences.
        let g_of = |x: f64| {
            let [t, t1, _, _] = flow.derivatives(x);
            let m = 1.0 / t1;
            let s = p.try_score(&[x]).unwrap()[0];
            m * m * (s + t / m)
        };
        let h = 1e-5 * x.abs().max(1.0);
        let g = s + t / m;
        let second =
            (t * t - 2.0) + (m * g).powi(2) + 2.0 * (g_of(x + h) - g_of(x - h)) / (2.0 * h);
        assert!(
            close(dsm[i], second, 1e-6, 1e-6),
            "x = {x}: {} vs {second}",
            dsm[i]
        );
    }
    // Per-sample growth is logarithmic (docs/math.md §6.3, ν = 5): h_G(10) = 10.749,
    // h_G(100) = 31.799.
    let far = Samples::from_scalars(vec![10.0, 100.0, 1000.0]).unwrap();
    let v =
        diffusion_score_matching_integrand(&p, &FlowDiffusion::new(flow), &far, Par::Seq).unwrap();
    assert!(
        close(v[0], 10.749, 1e-4, 0.0)
            && close(v[1], 31.799, 1e-4, 0.0)
            && close(v[2], 53.439, 1e-4, 0.0),
        "{v:?}"
    );
}

#[test]
fn gaussian_flow_surrogate_at_the_truth() {
    // docs/math.md N8: L_G(μ*) = −E_p[m_G² s²] = −1.717688 (ν = 5), −2.319482 (ν = 3),
    // −1.329828 (ν = 10).
    for (nu, expected) in [(5.0, -1.717688), (3.0, -2.319482), (10.0, -1.329828)] {
        let p = StudentT::new(0.0, 1.0, nu).unwrap();
        let nodes = sinh_simpson(&p, 0.0, 1.0, 9.0, 6000).unwrap();
        let m = FlowDiffusion::new(GaussianFlow::new(0.0, 1.0, nu).unwrap());
        let l = diffusion_score_matching_loss(&p, &m, &nodes, Par::rayon(2)).unwrap();
        assert!(
            close(l.value, expected, 5e-6, 0.0),
            "ν = {nu}: {} vs {expected}",
            l.value
        );
    }
}

#[test]
fn constructor_errors() {
    assert!(matches!(
        GaussianFlow::new(f64::NAN, 1.0, 3.0),
        Err(Error::InvalidParameter {
            name: "location",
            ..
        })
    ));
    assert!(matches!(
        GaussianFlow::new(0.0, 0.0, 3.0),
        Err(Error::InvalidParameter { name: "scale", .. })
    ));
    assert!(matches!(
        GaussianFlow::new(0.0, 1.0, -1.0),
        Err(Error::InvalidParameter { name: "dof", .. })
    ));
    assert!(matches!(
        ManualFlow::new(0.0, -1.0, 3.0),
        Err(Error::InvalidParameter { name: "scale", .. })
    ));
    assert!(matches!(
        ManualFlow::new(0.0, 1.0, 0.0),
        Err(Error::InvalidParameter { name: "dof", .. })
    ));
    assert!(matches!(
        SinhArcsinh::new(0.0, 0.0),
        Err(Error::InvalidParameter { name: "tail", .. })
    ));
    assert!(matches!(
        SinhArcsinh::new(f64::INFINITY, 1.0),
        Err(Error::InvalidParameter { name: "skew", .. })
    ));
    assert!(matches!(
        dsm_core::special_functions::normal::ndtri_log(0.1),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        dsm_core::special_functions::normal::ndtri_log(f64::NAN),
        Err(Error::InvalidParameter { .. })
    ));
}

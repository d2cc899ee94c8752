//! Property-based checks (proptest) of the dsm-core identities on random instances:
//! the num-dual adapter against the closed forms, the reduction of DSM to SM for m = I,
//! DSM's dependence on m only through m mᵀ (docs/math.md N10), and the per-sample decomposition
//! of the DSM integrand.

use dsm::prelude::*;
use dsm_core::testing::{all_close, close};
use proptest::prelude::*;
mod common;
use common::config;

/// A random SPD matrix A Aᵀ + 0.3 I from d² entries.
fn spd(d: usize, a: &[f64]) -> Vec<f64> {
    let mut s = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            s[i * d + j] = (0..d).map(|k| a[i * d + k] * a[j * d + k]).sum::<f64>()
                + if i == j { 0.3 } else { 0.0 };
        }
    }
    s
}

/// (d, location, matrix entries, point) with d in 1..=6.
fn instance() -> impl Strategy<Value = (usize, Vec<f64>, Vec<f64>, Vec<f64>)> {
    (1usize..=6).prop_flat_map(|d| {
        (
            Just(d),
            prop::collection::vec(-3.0..3.0f64, d),
            prop::collection::vec(-1.5..1.5f64, d * d),
            prop::collection::vec(-6.0..6.0f64, d),
        )
    })
}

/// The symmetric diffusion m(x) = I + ¼ diag(tanh(W x)) + ¼ S, written once over the scalar.
struct Field {
    d: usize,
    w: Vec<f64>,
}
impl GenericDiffusion for Field {
    fn dim(&self) -> usize {
        self.d
    }
    fn matrix_generic<D: Scalar>(&self, x: &[D], m: &mut [D]) {
        let d = self.d;
        for j in 0..d {
            let wx = (0..d).fold(D::from(0.0), |acc, k| acc + x[k] * self.w[j * d + k]);
            for k in 0..d {
                m[j * d + k] = D::from(if j == k { 1.0 } else { 0.0 } + 0.1 * self.w[k * d + j]);
            }
            m[j * d + j] += wx.tanh() * 0.25;
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn autodiff_matches_closed_forms((d, mu, a, x) in instance(), nu in 0.5..30.0f64) {
        let g = Gaussian::new(mu.clone(), &spd(d, &a)).unwrap();
        let t = MultivariateStudentT::new(mu, &spd(d, &a), nu).unwrap();
        let (ag, at) = (AutoDiff::new(g.clone()), AutoDiff::new(t.clone()));
        prop_assert!(all_close(&g.try_score(&x).unwrap(), &ag.try_score(&x).unwrap(), 1e-12));
        prop_assert!(all_close(&g.try_hessian(&x).unwrap(), &ag.try_hessian(&x).unwrap(), 1e-12));
        prop_assert!(all_close(&t.try_score(&x).unwrap(), &at.try_score(&x).unwrap(), 1e-12));
        prop_assert!(all_close(&t.try_hessian(&x).unwrap(), &at.try_hessian(&x).unwrap(), 1e-12));
    }

    #[test]
    fn student_t_autodiff_matches_closed_form(mu in -5.0..5.0f64, sigma in 0.05..20.0f64, nu in 0.2..100.0f64, x in -100.0..100.0f64) {
        let t = StudentT::new(mu, sigma, nu).unwrap();
        let at = AutoDiff::new(t);
        prop_assert!(all_close(&t.try_score(&[x]).unwrap(), &at.try_score(&[x]).unwrap(), 1e-12));
        prop_assert!(all_close(&t.try_hessian(&[x]).unwrap(), &at.try_hessian(&[x]).unwrap(), 1e-12));
    }

    #[test]
    fn dsm_with_identity_is_sm_and_rotations_do_not_matter(
        (d, mu, a, x) in instance(), nu in 1.0..20.0f64, angle in 0.0..6.3f64,
    ) {
        let p = MultivariateStudentT::new(mu, &spd(d, &a), nu).unwrap();
        let xs = Samples::new(x.clone(), d).unwrap();
        let sm = score_matching_integrand(&p, &xs, Par::Seq).unwrap();
        let dsm = diffusion_score_matching_integrand(&p, &IdentityDiffusion::new(d), &xs, Par::Seq).unwrap();
        prop_assert!(close(sm[0], dsm[0], 1e-12, 1e-12));

        // A constant m and m R (R a Givens rotation in the first two coordinates) give the same A.
        let mut m: Vec<f64> = a.iter().map(|v| 0.5 * v).collect();
        for i in 0..d { m[i * d + i] += 2.0; }
        let mut mr = m.clone();
        if d >= 2 {
            let (c, s) = (angle.cos(), angle.sin());
            for j in 0..d {
                let (u, v) = (m[j * d], m[j * d + 1]);
                mr[j * d] = c * u + s * v;
                mr[j * d + 1] = -s * u + c * v;
            }
        }
        let (cm, cmr) = (ConstantDiffusion::new(d, m).unwrap(), ConstantDiffusion::new(d, mr).unwrap());
        let v1 = diffusion_score_matching_integrand(&p, &cm, &xs, Par::Seq).unwrap();
        let v2 = diffusion_score_matching_integrand(&p, &cmr, &xs, Par::Seq).unwrap();
        prop_assert!(close(v1[0], v2[0], 1e-10, 1e-10), "{} vs {}", v1[0], v2[0]);
    }

    #[test]
    fn dsm_integrand_is_the_expanded_divergence((d, mu, a, x) in instance(), nu in 1.0..20.0f64) {
        // ‖mᵀs‖² + 2∇·(m mᵀ s) with ∇·(A s) taken by central differences of the vector field A s.
        let p = MultivariateStudentT::new(mu, &spd(d, &a), nu).unwrap();
        let field = AutoDiff::new(Field { d, w: a.clone() });
        let xs = Samples::new(x.clone(), d).unwrap();
        let got = diffusion_score_matching_integrand(&p, &field, &xs, Par::Seq).unwrap()[0];
        let a_s = |y: &[f64]| {
            let s = p.try_score(y).unwrap();
            let mut m = vec![0.0; d * d];
            field.matrix_into(y, &mut m).unwrap();
            (0..d).map(|i| (0..d).map(|j| (0..d).map(|k| m[i * d + k] * m[j * d + k]).sum::<f64>() * s[j]).sum::<f64>()).collect::<Vec<f64>>()
        };
        let h = 1e-5;
        let mut div = 0.0;
        for i in 0..d {
            let (mut up, mut dn) = (x.clone(), x.clone());
            up[i] += h;
            dn[i] -= h;
            div += (a_s(&up)[i] - a_s(&dn)[i]) / (2.0 * h);
        }
        let s = p.try_score(&x).unwrap();
        let quad: f64 = a_s(&x).iter().zip(&s).map(|(u, v)| u * v).sum();
        let expected = quad + 2.0 * div;
        prop_assert!(close(got, expected, 1e-6, 1e-6), "{got} vs {expected}");
    }
}

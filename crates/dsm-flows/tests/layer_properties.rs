//! Property tests (proptest, 256 random cases each, d from 1 to 6) of every built-in layer
//! and of random chains of two or three (docs/math.md section 9): the round trip, log |det J|
//! against the LU of the full Jacobian in both directions and per layer, and J, ∂J and the
//! third derivatives against central differences, in every branch of the parameter space
//! (planar with wᵀu near −1, radial with β near −α).

use dsm_core::linalg::log_abs_det;
use dsm_core::testing::{all_close, close};
use dsm_flows::*;
use proptest::prelude::*;
mod common;
use common::{case, config, flow, forward, jacobian};

proptest! {
    #![proptest_config(config())]

    #[test]
    fn layers_round_trip_and_log_det_in_both_directions((d, kinds, p, x, _) in case()) {
        let t = flow(d, &kinds, &p);
        let mut y = vec![0.0; d];
        let log_det = t.forward_into(&x, &mut y).unwrap();
        let mut back = vec![0.0; d];
        let inv_log_det = t.inverse_into(&y, &mut back).unwrap();
        prop_assert!(all_close(&back, &x, 1e-9), "round trip {:?} -> {:?}", x, back);
        prop_assert!(close(inv_log_det, -log_det, 1e-9, 1e-9));
        // The closed-form log-det against the LU of the full Jacobian (never a round trip only).
        let lu = log_abs_det(&jacobian(&t, &x), d).unwrap();
        prop_assert!(close(log_det, lu, 1e-9, 1e-9), "{kinds:?}: closed {log_det} vs LU {lu}");
        // Every single layer too, at its own input.
        let mut cur = x.clone();
        for l in t.layers() {
            let own = l.log_abs_det_jacobian(&cur).unwrap();
            let lu = log_abs_det(&jacobian(l, &cur), d).unwrap();
            prop_assert!(close(own, lu, 1e-9, 1e-9), "{l:?}: {own} vs {lu}");
            let next = forward(l, &cur);
            let mut inv = vec![0.0; d];
            prop_assert!(close(l.inverse_into(&next, &mut inv).unwrap(), -own, 1e-9, 1e-9));
            cur = next;
        }
    }

    #[test]
    fn jacobian_and_its_derivatives_match_differences((d, kinds, p, x, _) in case()) {
        let t = flow(d, &kinds, &p);
        let h = 1e-6;
        let j = jacobian(&t, &x);
        let mut dj = vec![0.0; d * d * d];
        t.jacobian_gradient_into(&x, &mut dj);
        let mut t3 = vec![0.0; d * d * d * d];
        t.third_derivatives_into(&x, &mut t3);
        for i in 0..d {
            let (mut up, mut dn) = (x.clone(), x.clone());
            up[i] += h;
            dn[i] -= h;
            let (yu, yd) = (forward(&t, &up), forward(&t, &dn));
            let col: Vec<f64> = (0..d).map(|r| (yu[r] - yd[r]) / (2.0 * h)).collect();
            let got: Vec<f64> = (0..d).map(|r| j[r * d + i]).collect();
            prop_assert!(all_close(&got, &col, 1e-5), "J column {i}");
            let (ju, jd) = (jacobian(&t, &up), jacobian(&t, &dn));
            let fd: Vec<f64> = (0..d * d).map(|k| (ju[k] - jd[k]) / (2.0 * h)).collect();
            prop_assert!(all_close(&dj[i * d * d..(i + 1) * d * d], &fd, 1e-4), "∂J {i}");
            let (mut gu, mut gd) = (vec![0.0; d * d * d], vec![0.0; d * d * d]);
            t.jacobian_gradient_into(&up, &mut gu);
            t.jacobian_gradient_into(&dn, &mut gd);
            let fd3: Vec<f64> = (0..d * d * d).map(|k| (gu[k] - gd[k]) / (2.0 * h)).collect();
            // t3[((i·d + l)·d + j)·d + k] = ∂ᵢ(∂ₗJⱼₖ)
            prop_assert!(all_close(&t3[i * d * d * d..(i + 1) * d * d * d], &fd3, 1e-3), "third derivatives {i}");
        }
    }
}

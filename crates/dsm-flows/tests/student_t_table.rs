//! The one Student-t (dsm-core `special_functions`) and the Gaussian flow built on it, against
//! a committed mpmath table (80-digit arithmetic, 30 digits kept) (tests/reference/student_t_mpmath.py): ν from 0.3 to 1e10,
//! |x| from 1e-3 to 1e300 on both sides.
//!
//! Targets (docs/flows.md): T within 1e-12 relative (1e-14 absolute where |T| < 1e-2),
//! log m = −log T′ within 1e-12 absolute, log F and log(1 − F) within 1e-13 relative (1e-300
//! absolute where they underflow); the inverse returns x to 1e-12 relative.

use dsm_core::special_functions::StudentTFunctions;
use dsm_flows::{Flow, GaussianFlow, ScalarMap};

struct Row {
    nu: f64,
    x: f64,
    log_cdf: f64,
    log_sf: f64,
    t: f64,
    log_m: f64,
}

fn table() -> Vec<Row> {
    include_str!("reference/student_t_mpmath.csv")
        .lines()
        .skip(1)
        .map(|l| {
            let v: Vec<f64> = l.split(',').map(|s| s.parse().unwrap()).collect();
            Row {
                nu: v[0],
                x: v[1],
                log_cdf: v[2],
                log_sf: v[3],
                t: v[4],
                log_m: v[5],
            }
        })
        .collect()
}

/// Relative error, absolute below `floor`.
fn err(got: f64, want: f64, floor: f64) -> f64 {
    (got - want).abs() / want.abs().max(floor)
}

#[test]
fn gaussian_flow_matches_mpmath_for_every_dof_and_x() {
    let rows = table();
    assert_eq!(rows.len(), 451);
    let mut report = String::new();
    let mut worst_all = [0.0f64; 3];
    let mut nus: Vec<f64> = rows.iter().map(|r| r.nu).collect();
    nus.dedup();
    for nu in nus {
        let flow = GaussianFlow::new(0.0, 1.0, nu).unwrap();
        let mut worst = [0.0f64; 3];
        for r in rows.iter().filter(|r| r.nu == nu) {
            let [t, _, _, _] = flow.derivatives(r.x);
            let log_m = -flow.log_derivative(r.x);
            // 1e-12 relative, i.e. 1e-14 absolute below |T| = 1e-2.
            let e_t = err(t, r.t, 1e-2) * if r.t.abs() < 1e-2 { 1e-2 } else { 1.0 };
            let e_m = (log_m - r.log_m).abs();
            assert!(
                e_t <= if r.t.abs() < 1e-2 { 1e-14 } else { 1e-12 },
                "T: nu {nu} x {}: {t} vs {} ({e_t:e})",
                r.x,
                r.t
            );
            assert!(
                e_m <= 1e-12,
                "log m: nu {nu} x {}: {log_m} vs {} ({e_m:e})",
                r.x,
                r.log_m
            );
            let mut back = [0.0];
            flow.try_inverse_into(&[t], &mut back).unwrap();
            let e_inv = err(back[0], r.x, 1e-300);
            assert!(
                e_inv <= 1e-12,
                "inverse: nu {nu} x {}: {} ({e_inv:e})",
                r.x,
                back[0]
            );
            worst = [worst[0].max(e_t), worst[1].max(e_m), worst[2].max(e_inv)];
        }
        for k in 0..3 {
            worst_all[k] = worst_all[k].max(worst[k]);
        }
        report += &format!(
            "nu {nu:>7e}: T {:.1e}  log m {:.1e}  inverse {:.1e}\n",
            worst[0], worst[1], worst[2]
        );
    }
    println!(
        "worst errors by dof (T relative/abs near 0, log m absolute, x after inverse relative):\n{report}"
    );
}

#[test]
fn student_t_log_cdf_and_sf_match_mpmath() {
    for r in table() {
        let t = StudentTFunctions::new(r.nu).unwrap();
        let (lc, ls) = (t.log_cdf(r.x).unwrap(), t.log_sf(r.x).unwrap());
        assert!(
            err(lc, r.log_cdf, 1e-300) <= 1e-13 || (lc - r.log_cdf).abs() <= 1e-300,
            "log cdf: nu {} x {}: {lc} vs {}",
            r.nu,
            r.x,
            r.log_cdf
        );
        assert!(
            err(ls, r.log_sf, 1e-300) <= 1e-13 || (ls - r.log_sf).abs() <= 1e-300,
            "log sf: nu {} x {}: {ls} vs {}",
            r.nu,
            r.x,
            r.log_sf
        );
    }
}

/// T is finite and strictly increasing along a dense grid from −f64::MAX to f64::MAX (each
/// point 1.5× the last in magnitude), for dofs from 1e-3 to 1e300.
#[test]
fn gaussian_flow_is_finite_and_increasing_everywhere() {
    let mut xs = vec![0.0];
    let mut v = 1e-300;
    while v < f64::MAX / 1.5 {
        xs.push(v);
        v *= 1.5;
    }
    xs.push(f64::MAX);
    let mut grid: Vec<f64> = xs.iter().rev().map(|v| -v).collect();
    grid.extend(xs.iter().skip(1));
    for nu in [1e-3, 0.3, 1.0, 3.0, 29.9, 30.0, 1e3, 1e7, 1e15, 1e300] {
        let flow = GaussianFlow::new(0.0, 1.0, nu).unwrap();
        let mut last = f64::NEG_INFINITY;
        for &x in &grid {
            let d = flow.derivatives(x);
            assert!(d.iter().all(|v| v.is_finite()), "nu {nu} x {x}: {d:?}");
            assert!(
                d[0] > last || (x.abs() < 1e-280 && d[0] >= last),
                "nu {nu} x {x}: {} after {last}",
                d[0]
            );
            assert!(flow.log_abs_det_jacobian(&[x]).unwrap().is_finite());
            last = d[0];
        }
    }
}

/// Every y in the range of T inverts; beyond the range (T(f64::MAX)) it is `InverseFailed`.
#[test]
fn inverse_converges_in_range_and_fails_cleanly_beyond() {
    for nu in [0.3, 3.0, 30.0, 1e5, 1e10] {
        let flow = GaussianFlow::new(0.0, 1.0, nu).unwrap();
        let top = flow.derivatives(f64::MAX)[0];
        let mut y = 1e-12;
        while y < top {
            let mut x = [0.0];
            flow.try_inverse_into(&[y], &mut x).unwrap();
            let again = flow.derivatives(x[0])[0];
            assert!(
                (again - y).abs() <= 1e-12 * y.max(1.0),
                "nu {nu} y {y}: {again}"
            );
            flow.try_inverse_into(&[-y], &mut x).unwrap();
            y *= 1.3;
        }
        let mut x = [0.0];
        assert!(matches!(
            flow.try_inverse_into(&[top * 1.01 + 1.0], &mut x),
            Err(dsm_core::Error::InverseFailed { .. })
        ));
        assert!(flow.try_inverse_into(&[f64::NAN], &mut x).is_err());
    }
}

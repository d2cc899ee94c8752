//! `Scalar::lift` (the chain rule of Faà di Bruno to third order) for every implementing type,
//! against num-dual's own `exp`, `sin` and `ln` applied to the same dual number, with g and its
//! derivatives given in closed form.

use dsm_core::num_dual::{Dual2_64, Dual3_64, Dual64, DualNum, HyperDual64, HyperHyperDual64};
use dsm_core::testing::{close, tol};
use dsm_core::{Scalar, derivatives_of};

/// All parts of a dual number, real part first.
trait Parts: Scalar {
    fn parts(&self) -> Vec<f64>;
}

impl Parts for f64 {
    fn parts(&self) -> Vec<f64> {
        vec![*self]
    }
}

impl Parts for Dual64 {
    fn parts(&self) -> Vec<f64> {
        vec![self.re, self.eps]
    }
}

impl Parts for Dual2_64 {
    fn parts(&self) -> Vec<f64> {
        vec![self.re, self.v1, self.v2]
    }
}

impl Parts for Dual3_64 {
    fn parts(&self) -> Vec<f64> {
        vec![self.re, self.v1, self.v2, self.v3]
    }
}

impl Parts for HyperDual64 {
    fn parts(&self) -> Vec<f64> {
        vec![self.re, self.eps1, self.eps2, self.eps1eps2]
    }
}

impl Parts for HyperHyperDual64 {
    fn parts(&self) -> Vec<f64> {
        vec![
            self.re,
            self.eps1,
            self.eps2,
            self.eps3,
            self.eps1eps2,
            self.eps1eps3,
            self.eps2eps3,
            self.eps1eps2eps3,
        ]
    }
}

/// A test function: its name, [g, g′, g″, g‴] at a in closed form, and num-dual's g.
type Case<T> = (&'static str, fn(f64) -> [f64; 4], fn(T) -> T);

fn cases<T: Scalar>() -> [Case<T>; 3] {
    [
        ("exp", |a| [a.exp(); 4], |x| x.exp()),
        (
            "sin",
            |a| [a.sin(), a.cos(), -a.sin(), -a.cos()],
            |x| x.sin(),
        ),
        (
            "ln",
            |a| [a.ln(), 1.0 / a, -1.0 / (a * a), 2.0 / (a * a * a)],
            |x| x.ln(),
        ),
    ]
}

/// `lift` against num-dual on `x`, part by part, relative to the largest part.
fn check<T: Parts>(label: &str, x: T) {
    for (name, closed_form, reference) in cases::<T>() {
        let a = x.value();
        if name == "ln" && a <= 0.0 {
            continue;
        }
        let got = x.lift(closed_form(a)).parts();
        let want = reference(x).parts();
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert_eq!(got.len(), want.len());
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                close(*g, *w, tol::LIFT_REL, tol::LIFT_REL * scale),
                "{label}: {name} at a = {a}, part {k}: lift {g:e}, num-dual {w:e}"
            );
        }
    }
}

const POINTS: [f64; 5] = [-2.3, -0.4, 0.3, 0.7, 3.5];

#[test]
fn lift_on_f64_is_the_value() {
    for a in POINTS {
        check("f64", a);
        assert_eq!(a.lift([1.5, 2.0, 3.0, 4.0]), 1.5);
        assert_eq!(a.value(), a);
    }
}

#[test]
fn lift_on_dual64_matches_num_dual() {
    for a in POINTS {
        check("Dual64", Dual64::new(a, -1.3));
    }
}

#[test]
fn lift_on_dual2_matches_num_dual() {
    for a in POINTS {
        check("Dual2_64", Dual2_64::new(a, -1.3, 0.4));
    }
}

#[test]
fn lift_on_dual3_matches_num_dual() {
    for a in POINTS {
        check("Dual3_64", Dual3_64::new(a, -1.3, 0.4, 2.1));
    }
}

#[test]
fn lift_on_hyperdual_matches_num_dual() {
    for a in POINTS {
        check("HyperDual64", HyperDual64::new(a, -1.3, 0.4, 2.1));
    }
}

#[test]
fn lift_on_hyperhyperdual_matches_num_dual() {
    for a in POINTS {
        check(
            "HyperHyperDual64",
            HyperHyperDual64::new(a, -1.3, 0.4, 2.1, 0.9, -0.6, 1.7, -0.8),
        );
    }
}

#[test]
fn lift_of_a_composition_is_the_composition() {
    // g(x) = exp(sin x): lift with the closed-form derivatives of the composite,
    //   g′ = cos·e^{sin}, g″ = (cos² − sin)·e^{sin}, g‴ = (cos³ − 3 sin cos − cos)·e^{sin},
    // against num-dual's exp(sin(x)), in third order.
    for a in POINTS {
        let (s, c, e) = (a.sin(), a.cos(), a.sin().exp());
        let g = [e, c * e, (c * c - s) * e, (c * c * c - 3.0 * s * c - c) * e];
        let x = HyperHyperDual64::new(a, -1.3, 0.4, 2.1, 0.9, -0.6, 1.7, -0.8);
        let got = x.lift(g).parts();
        let want = x.sin().exp().parts();
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (k, (gk, wk)) in got.iter().zip(&want).enumerate() {
            // The closed-form g⁽ⁿ⁾ are themselves rounded: a few more ulps than `lift` alone.
            assert!(
                close(*gk, *wk, 8.0 * tol::LIFT_REL, 8.0 * tol::LIFT_REL * scale),
                "exp∘sin at a = {a}, part {k}: lift {gk:e}, num-dual {wk:e}"
            );
        }
    }
}

#[test]
fn derivatives_of_gives_the_closed_forms() {
    for a in POINTS {
        let sin = derivatives_of(|x| x.sin(), a);
        let closed = [a.sin(), a.cos(), -a.sin(), -a.cos()];
        for (g, c) in sin.iter().zip(&closed) {
            assert!(close(*g, *c, tol::LIFT_REL, tol::LIFT_REL));
        }
        assert_eq!(derivatives_of(|x| x.exp(), a), [a.exp(); 4]);
    }
}

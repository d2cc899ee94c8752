//! The scalar types flows are written over: f64 for values, dual numbers for exact
//! derivatives of first, second and third order.

use num_dual::{Dual64, DualNum, HyperDual64, HyperHyperDual64};

/// A scalar that a flow layer can be evaluated in: `f64` for values, [`Dual64`] for the
/// Jacobian, [`HyperDual64`] for its first derivatives (second derivatives of T) and
/// [`HyperHyperDual64`] for third derivatives of T.
///
/// Besides the elementary functions of num-dual, a layer may apply any scalar function g
/// whose value and first three derivatives it knows in closed form ([`FlowScalar::lift`]):
/// this is how special functions (Φ⁻¹, the Student-t CDF) get exact derivatives.
pub trait FlowScalar: DualNum<Primitive = f64> + Copy + Send + Sync {
    /// g(self), given `g = [g(a), g′(a), g″(a), g‴(a)]` at a = the real part of self
    /// (the chain rule of Faà di Bruno up to third order).
    fn lift(self, g: [f64; 4]) -> Self;

    /// The real part.
    fn value(&self) -> f64;
}

impl FlowScalar for f64 {
    #[inline]
    fn lift(self, g: [f64; 4]) -> Self {
        g[0]
    }
    #[inline]
    fn value(&self) -> f64 {
        *self
    }
}

impl FlowScalar for Dual64 {
    #[inline]
    fn lift(self, g: [f64; 4]) -> Self {
        Dual64::new(g[0], g[1] * self.eps)
    }
    #[inline]
    fn value(&self) -> f64 {
        self.re
    }
}

impl FlowScalar for HyperDual64 {
    #[inline]
    fn lift(self, g: [f64; 4]) -> Self {
        HyperDual64::new(
            g[0],
            g[1] * self.eps1,
            g[1] * self.eps2,
            g[1] * self.eps1eps2 + g[2] * self.eps1 * self.eps2,
        )
    }
    #[inline]
    fn value(&self) -> f64 {
        self.re
    }
}

impl FlowScalar for HyperHyperDual64 {
    #[inline]
    fn lift(self, g: [f64; 4]) -> Self {
        let a = self;
        HyperHyperDual64::new(
            g[0],
            g[1] * a.eps1,
            g[1] * a.eps2,
            g[1] * a.eps3,
            g[1] * a.eps1eps2 + g[2] * a.eps1 * a.eps2,
            g[1] * a.eps1eps3 + g[2] * a.eps1 * a.eps3,
            g[1] * a.eps2eps3 + g[2] * a.eps2 * a.eps3,
            g[1] * a.eps1eps2eps3
                + g[2] * (a.eps1 * a.eps2eps3 + a.eps2 * a.eps1eps3 + a.eps3 * a.eps1eps2)
                + g[3] * a.eps1 * a.eps2 * a.eps3,
        )
    }
    #[inline]
    fn value(&self) -> f64 {
        self.re
    }
}

/// [g, g′, g″, g‴] of an elementary scalar function at x, by one [`HyperHyperDual64`] pass.
pub fn derivatives_of(g: impl Fn(HyperHyperDual64) -> HyperHyperDual64, x: f64) -> [f64; 4] {
    let r = g(HyperHyperDual64::new(x, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0));
    [r.re, r.eps1, r.eps1eps2, r.eps1eps2eps3]
}

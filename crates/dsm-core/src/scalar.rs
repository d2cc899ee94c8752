//! The one scalar trait of the workspace: models, diffusions, flow layers, drifts and metrics
//! are written once over it, so that `f64` gives values and num-dual's types give exact
//! derivatives of first, second and third order.

use num_dual::{Dual2_64, Dual3_64, Dual64, DualNum, HyperDual64, HyperHyperDual64};

/// A scalar that generic code is evaluated in: `f64` for values, and the num-dual types
/// [`Dual64`] (first derivatives: scores, Jacobians), [`HyperDual64`] (second derivatives:
/// Hessians, derivatives of Jacobians), [`HyperHyperDual64`] (third derivatives), and the
/// univariate [`Dual2_64`] and [`Dual3_64`].
///
/// It is num-dual's `DualNum<Primitive = f64> + Copy` (every elementary function: `exp`,
/// `ln`, `powi`, `sqrt`, `asinh`, …) plus two methods: [`Scalar::value`], the real part, and
/// [`Scalar::lift`], which applies any function g whose value and first three derivatives at
/// the real part are known in closed form. That is how special functions (Φ⁻¹, the Student-t
/// CDF) get exact derivatives. `lift` is the chain rule of Faà di Bruno to third order: for
/// directions i, j, k of the dual parts of x,
///
/// ```text
/// g(x)                 = g(a)                                  a = Re x
/// ∂ᵢ g(x)              = g′ ∂ᵢx
/// ∂ᵢ∂ⱼ g(x)            = g′ ∂ᵢ∂ⱼx + g″ ∂ᵢx ∂ⱼx
/// ∂ᵢ∂ⱼ∂ₖ g(x)          = g′ ∂ᵢ∂ⱼ∂ₖx + g″ (∂ᵢx ∂ⱼ∂ₖx + ∂ⱼx ∂ᵢ∂ₖx + ∂ₖx ∂ᵢ∂ⱼx) + g‴ ∂ᵢx ∂ⱼx ∂ₖx
/// ```
/// with g⁽ⁿ⁾ evaluated at a.
///
/// # Examples
/// The logistic function σ with its closed-form derivatives σ′ = σ(1 − σ),
/// σ″ = σ′(1 − 2σ), σ‴ = σ′(1 − 6σ′), written once and differentiated exactly:
/// ```
/// use dsm_core::Scalar;
/// use dsm_core::num_dual::{Dual64, DualNum};
///
/// fn logistic<D: Scalar>(x: D) -> D {
///     let s = 1.0 / (1.0 + (-x.value()).exp());
///     let s1 = s * (1.0 - s);
///     x.lift([s, s1, s1 * (1.0 - 2.0 * s), s1 * (1.0 - 6.0 * s1)])
/// }
///
/// let x = Dual64::new(0.3, 1.0);
/// let reference = ((-x).exp() + 1.0).recip(); // num-dual's own elementary functions
/// assert!((logistic(x).eps - reference.eps).abs() < 1e-15);
/// assert_eq!(logistic(0.0), 0.5);
/// ```
pub trait Scalar: DualNum<Primitive = f64> + Copy + Send + Sync {
    /// g(self), given `g = [g(a), g′(a), g″(a), g‴(a)]` at a = the real part of self (the
    /// chain rule of Faà di Bruno up to third order). A type of order k reads only
    /// `g[0..=k]`: `f64` only g(a).
    fn lift(self, g: [f64; 4]) -> Self;

    /// The real part.
    fn value(&self) -> f64;
}

impl Scalar for f64 {
    #[inline]
    fn lift(self, g: [f64; 4]) -> Self {
        g[0]
    }
    #[inline]
    fn value(&self) -> f64 {
        *self
    }
}

impl Scalar for Dual64 {
    #[inline]
    fn lift(self, g: [f64; 4]) -> Self {
        Dual64::new(g[0], g[1] * self.eps)
    }
    #[inline]
    fn value(&self) -> f64 {
        self.re
    }
}

impl Scalar for Dual2_64 {
    #[inline]
    fn lift(self, g: [f64; 4]) -> Self {
        Dual2_64::new(
            g[0],
            g[1] * self.v1,
            g[1] * self.v2 + g[2] * self.v1 * self.v1,
        )
    }
    #[inline]
    fn value(&self) -> f64 {
        self.re
    }
}

impl Scalar for Dual3_64 {
    #[inline]
    fn lift(self, g: [f64; 4]) -> Self {
        let a = self;
        Dual3_64::new(
            g[0],
            g[1] * a.v1,
            g[2] * a.v1 * a.v1 + g[1] * a.v2,
            g[3] * a.v1 * a.v1 * a.v1 + 3.0 * g[2] * a.v1 * a.v2 + g[1] * a.v3,
        )
    }
    #[inline]
    fn value(&self) -> f64 {
        self.re
    }
}

impl Scalar for HyperDual64 {
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

impl Scalar for HyperHyperDual64 {
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

/// [g, g′, g″, g‴] of an elementary scalar function at x, by one [`HyperHyperDual64`] pass:
/// the input of [`Scalar::lift`] for a function num-dual can already differentiate.
///
/// # Examples
/// ```
/// use dsm_core::derivatives_of;
/// use dsm_core::num_dual::DualNum;
///
/// let g = derivatives_of(|x| x.sin(), 0.5);
/// assert_eq!(g, [0.5f64.sin(), 0.5f64.cos(), -0.5f64.sin(), -0.5f64.cos()]);
/// ```
pub fn derivatives_of(g: impl Fn(HyperHyperDual64) -> HyperHyperDual64, x: f64) -> [f64; 4] {
    let r = g(HyperHyperDual64::new(x, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0));
    [r.re, r.eps1, r.eps1eps2, r.eps1eps2eps3]
}

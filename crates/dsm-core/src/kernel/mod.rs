//! Positive-definite kernels k(x, y) with the derivatives a Stein kernel needs.
//!
//! Every kernel gives its value, its gradients in each argument and the cross second
//! derivatives ∂²k/∂x_a∂y_b in closed form ([`Kernel::derivatives_into`]). Radial kernels
//! k = φ(‖x − y‖²) also give the profile (φ, φ′, φ″) ([`Kernel::radial_profile`]), from which
//! the Stein kernels contract everything in O(d) (Langevin) or O(d²) (diffusion) per pair:
//!
//! ```text
//! r = x − y,  u = ‖r‖²:   ∇_x k = 2φ′ r,   ∇_y k = −2φ′ r,   ∂²k/∂x_a∂y_b = −2φ′ δ_ab − 4φ″ r_a r_b
//! ```

mod imq;
mod rbf;

pub use imq::Imq;
pub use rbf::{MEDIAN_HEURISTIC_POINTS, Rbf};

/// A kernel k: ℝᵈ × ℝᵈ → ℝ with closed-form derivatives.
pub trait Kernel: Sync {
    /// The dimension the kernel is defined on, or `None` for any dimension (the built-in
    /// radial kernels). The Stein discrepancies check it against the samples.
    fn dim(&self) -> Option<usize> {
        None
    }

    /// k(x, y) with its inputs checked: equal lengths (and [`Kernel::dim`]), finite entries,
    /// a finite value.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`](crate::Error::DimensionMismatch);
    /// [`Error::NonFiniteSample`](crate::Error::NonFiniteSample) for a non-finite input
    /// (index 0 for x, 1 for y); [`Error::NonFiniteValue`](crate::Error::NonFiniteValue) when
    /// the value is not finite.
    fn try_value(&self, x: &[f64], y: &[f64]) -> crate::Result<f64> {
        crate::error::same_dim("length of y", y.len(), "length of x", x.len())?;
        if let Some(d) = self.dim() {
            crate::error::same_dim("length of x", x.len(), "dimension of the kernel", d)?;
        }
        for (index, v) in [x, y].iter().enumerate() {
            if let Some(coordinate) = v.iter().position(|c| !c.is_finite()) {
                return Err(crate::Error::NonFiniteSample { index, coordinate });
            }
        }
        let k = self.value(x, y);
        if k.is_finite() {
            Ok(k)
        } else {
            Err(crate::Error::NonFiniteValue {
                quantity: "kernel value",
                index: 0,
            })
        }
    }

    /// k(x, y), for x and y of the same length (unchecked: use [`Kernel::try_value`] for
    /// input that may be ragged or non-finite).
    fn value(&self, x: &[f64], y: &[f64]) -> f64;

    /// Writes ∇_x k (d), ∇_y k (d) and the cross derivatives ∂²k/∂x_a∂y_b (row-major d × d)
    /// and returns k(x, y).
    fn derivatives_into(
        &self,
        x: &[f64],
        y: &[f64],
        grad_x: &mut [f64],
        grad_y: &mut [f64],
        cross: &mut [f64],
    ) -> f64;

    /// For a radial kernel k = φ(u), u = ‖x − y‖²: `Some([φ(u), φ′(u), φ″(u)])`. `None` (the
    /// default) for other kernels, which the Stein kernels then handle through
    /// [`Kernel::derivatives_into`].
    fn radial_profile(&self, _sq_dist: f64) -> Option<[f64; 3]> {
        None
    }

    /// Whether this kernel is a radial k̃ read through a point map T, K(x, y) = k̃(T(x), T(y))
    /// (a flow's pulled-back kernel): the Stein kernels then transform and differentiate
    /// each point once ([`Kernel::feature_map_into`]) and pair the images with
    /// [`Kernel::feature_profile`], instead of calling [`Kernel::derivatives_into`] per pair.
    fn has_feature_map(&self) -> bool {
        false
    }

    /// For a kernel with a feature map ([`Kernel::has_feature_map`]): writes T(x) (d) and
    /// its Jacobian ∂T/∂x (d², row-major). Kernels without one leave the buffers alone.
    ///
    /// # Errors
    /// Where T cannot be evaluated at x (a non-finite image), with sample index 0.
    fn feature_map_into(&self, _x: &[f64], _tx: &mut [f64], _jac: &mut [f64]) -> crate::Result<()> {
        Ok(())
    }

    /// For a kernel with a feature map: the radial profile [φ, φ′, φ″] of k̃ at
    /// u = ‖T(x) − T(y)‖²; `None` otherwise.
    fn feature_profile(&self, _sq_dist: f64) -> Option<[f64; 3]> {
        None
    }

    /// [`Kernel::radial_profile`] over many squared distances: calls `f(a, [φ, φ′, φ″](uₐ))`
    /// for every a in order and returns `true`, or returns `false` without calling `f` for a
    /// kernel that is not radial. The default calls [`Kernel::radial_profile`] per entry;
    /// kernels override it to take their branches once, outside the loop, so that the loop
    /// and the inlined `f` vectorise together (the values must equal the one-at-a-time ones
    /// bit for bit).
    #[inline]
    fn radial_profile_each<F: FnMut(usize, [f64; 3])>(&self, u: &[f64], mut f: F) -> bool
    where
        Self: Sized,
    {
        if self.radial_profile(0.0).is_none() {
            return false;
        }
        for (a, &ua) in u.iter().enumerate() {
            f(a, self.radial_profile(ua).unwrap_or([f64::NAN; 3]));
        }
        true
    }
}

/// [`Kernel::derivatives_into`] of a radial kernel from its profile.
pub(crate) fn radial_derivatives(
    profile: [f64; 3],
    x: &[f64],
    y: &[f64],
    grad_x: &mut [f64],
    grad_y: &mut [f64],
    cross: &mut [f64],
) -> f64 {
    let [phi, d1, d2] = profile;
    let d = x.len();
    for a in 0..d {
        let ra = x[a] - y[a];
        grad_x[a] = 2.0 * d1 * ra;
        grad_y[a] = -2.0 * d1 * ra;
        for b in 0..d {
            let rb = x[b] - y[b];
            cross[a * d + b] = -4.0 * d2 * ra * rb - if a == b { 2.0 * d1 } else { 0.0 };
        }
    }
    phi
}

/// ‖x − y‖².
#[inline]
pub(crate) fn sq_dist(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum()
}

impl<T: Kernel + ?Sized> Kernel for &T {
    fn dim(&self) -> Option<usize> {
        (**self).dim()
    }
    fn value(&self, x: &[f64], y: &[f64]) -> f64 {
        (**self).value(x, y)
    }
    fn derivatives_into(
        &self,
        x: &[f64],
        y: &[f64],
        gx: &mut [f64],
        gy: &mut [f64],
        c: &mut [f64],
    ) -> f64 {
        (**self).derivatives_into(x, y, gx, gy, c)
    }
    fn radial_profile(&self, u: f64) -> Option<[f64; 3]> {
        (**self).radial_profile(u)
    }
    fn has_feature_map(&self) -> bool {
        (**self).has_feature_map()
    }
    fn feature_map_into(&self, x: &[f64], tx: &mut [f64], jac: &mut [f64]) -> crate::Result<()> {
        (**self).feature_map_into(x, tx, jac)
    }
    fn feature_profile(&self, u: f64) -> Option<[f64; 3]> {
        (**self).feature_profile(u)
    }
}

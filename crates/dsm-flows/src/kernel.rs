//! A base kernel pulled back through a flow: K(x, x′) = k̃(T(x), T(x′)).

use crate::flow::Flow;
use dsm_core::Kernel;

/// The kernel k̃(T(x), T(x′)) of a base kernel k̃ and a flow T: with it, the diffusion KSD of
/// (q, p) with m = J⁻¹ equals the Langevin KSD of the pushforwards (q_T, p_T) with k̃, pair by
/// pair (Theorem 3.2 applied to both arguments, docs/math.md section 7.5 and N6).
///
/// ```text
/// ∇ₓK = J(x)ᵀ ∇₁k̃,   ∇ₓ′K = J(x′)ᵀ ∇₂k̃,   ∂²K/∂x_a∂x′_b = Σ_cd J(x)_ca ∂²k̃/∂y_c∂y′_d J(x′)_db
/// ```
/// With a radial base kernel it exposes T as a feature map ([`Kernel::has_feature_map`]): the
/// Stein kernels then compute T(x) and J(x) once per point and pair the images in O(d²) per
/// pair (docs/math.md eq. 7.15: eq. 7.6 with r = T(x) − T(y) and m replaced by J m); with any other base
/// kernel they use the general path (O(d³) per pair plus two Jacobians).
#[derive(Debug, Clone, PartialEq)]
pub struct PulledBackKernel<K, F> {
    kernel: K,
    flow: F,
}

impl<K: Kernel, F: Flow> PulledBackKernel<K, F> {
    /// k̃(T(·), T(·)).
    pub fn new(kernel: K, flow: F) -> Self {
        Self { kernel, flow }
    }
}

impl<K: Kernel, F: Flow> Kernel for PulledBackKernel<K, F> {
    /// The flow's dimension: the Stein discrepancies check it against the samples.
    fn dim(&self) -> Option<usize> {
        Some(self.flow.dim())
    }

    /// A feature map when the base kernel is radial.
    fn has_feature_map(&self) -> bool {
        self.kernel.radial_profile(0.0).is_some()
    }

    /// T(x) (checked: a non-finite image is an error naming the layer) and J(x).
    fn feature_map_into(&self, x: &[f64], tx: &mut [f64], jac: &mut [f64]) -> dsm_core::Result<()> {
        self.flow.try_transform_into(x, tx)?;
        self.flow.jacobian_into(x, jac);
        Ok(())
    }

    fn feature_profile(&self, u: f64) -> Option<[f64; 3]> {
        self.kernel.radial_profile(u)
    }

    /// k̃(T(x), T(y)); NaN where x or y has the wrong length or T overflows (the Stein
    /// discrepancies report it as an error; [`Kernel::try_value`] does so directly).
    fn value(&self, x: &[f64], y: &[f64]) -> f64 {
        let d = self.flow.dim();
        let (mut tx, mut ty) = (vec![0.0; d], vec![0.0; d]);
        if self.flow.try_transform_into(x, &mut tx).is_err()
            || self.flow.try_transform_into(y, &mut ty).is_err()
        {
            return f64::NAN;
        }
        self.kernel.value(&tx, &ty)
    }

    fn derivatives_into(
        &self,
        x: &[f64],
        y: &[f64],
        gx: &mut [f64],
        gy: &mut [f64],
        cross: &mut [f64],
    ) -> f64 {
        let d = self.flow.dim();
        let (mut tx, mut ty) = (vec![0.0; d], vec![0.0; d]);
        if self.flow.try_transform_into(x, &mut tx).is_err()
            || self.flow.try_transform_into(y, &mut ty).is_err()
            || gx.len() != d
            || gy.len() != d
            || cross.len() != d * d
        {
            gx.fill(f64::NAN);
            gy.fill(f64::NAN);
            cross.fill(f64::NAN);
            return f64::NAN;
        }
        let (mut jx, mut jy) = (vec![0.0; d * d], vec![0.0; d * d]);
        self.flow.jacobian_into(x, &mut jx);
        self.flow.jacobian_into(y, &mut jy);
        let (mut g1, mut g2, mut c) = (vec![0.0; d], vec![0.0; d], vec![0.0; d * d]);
        let k = self
            .kernel
            .derivatives_into(&tx, &ty, &mut g1, &mut g2, &mut c);
        for a in 0..d {
            gx[a] = (0..d).map(|c_| jx[c_ * d + a] * g1[c_]).sum();
            gy[a] = (0..d).map(|c_| jy[c_ * d + a] * g2[c_]).sum();
        }
        for a in 0..d {
            for b in 0..d {
                let mut acc = 0.0;
                for c_ in 0..d {
                    let left = jx[c_ * d + a];
                    for e in 0..d {
                        acc += left * c[c_ * d + e] * jy[e * d + b];
                    }
                }
                cross[a * d + b] = acc;
            }
        }
        k
    }
}

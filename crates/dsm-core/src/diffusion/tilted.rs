//! The tilted diffusion m(x) = (1 + ‖x − c‖²)^{γ/2} I (docs/math.md eq. 14.6).

use super::{Diffusion, DiffusionWork};
use crate::error::{Error, Result};
use crate::samples::Samples;

/// A scalar diffusion that grows (γ > 0) or shrinks (γ < 0) polynomially away from a centre c:
///
/// ```text
/// m(x)      = f^{γ/2} I,        f = 1 + ‖x − c‖²
/// ∂ᵢ m_jj   = γ f^{γ/2 − 1} (xᵢ − cᵢ)
/// (∇·m)_k   = γ f^{γ/2 − 1} (x_k − c_k)
/// ```
/// With γ = 1 the diffusion KSD weighs the tails like a first moment: it detects heavier
/// tails than the model's, where the Langevin KSD with a bounded kernel sees little
/// (docs/math.md section 14). γ = 0 is the identity.
///
/// # Examples
/// ```
/// use dsm_core::{Diffusion, TiltedDiffusion};
/// let m = TiltedDiffusion::new(vec![0.0, 0.0], 1.0)?;
/// let mut out = [0.0; 4];
/// m.matrix_into(&[3.0, 0.0], &mut out)?;
/// assert!((out[0] - 10f64.sqrt()).abs() < 1e-15 && out[1] == 0.0);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TiltedDiffusion {
    centre: Vec<f64>,
    gamma: f64,
}

impl TiltedDiffusion {
    /// The tilted diffusion with centre `centre` and exponent `gamma`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an empty centre, a non-finite centre entry or a
    /// non-finite γ.
    pub fn new(centre: Vec<f64>, gamma: f64) -> Result<Self> {
        if centre.is_empty() {
            return Err(Error::InvalidParameter {
                owner: "TiltedDiffusion",
                name: "centre",
                value: 0.0,
                constraint: "at least one coordinate",
            });
        }
        if let Some(&bad) = centre.iter().find(|v| !v.is_finite()) {
            return Err(Error::InvalidParameter {
                owner: "TiltedDiffusion",
                name: "centre",
                value: bad,
                constraint: "finite in every entry",
            });
        }
        if !gamma.is_finite() {
            return Err(Error::InvalidParameter {
                owner: "TiltedDiffusion",
                name: "gamma",
                value: gamma,
                constraint: "finite",
            });
        }
        Ok(Self { centre, gamma })
    }

    /// Centred on the (weighted) sample mean.
    ///
    /// # Errors
    /// As [`TiltedDiffusion::new`]; [`Error::TooFewSamples`] for no samples.
    pub fn centred_on(samples: &Samples, gamma: f64) -> Result<Self> {
        let n = samples.n();
        if n == 0 {
            return Err(Error::TooFewSamples { needed: 1, got: 0 });
        }
        let d = samples.dim();
        let w = |i: usize| samples.weights().map_or(1.0, |w| w[i]);
        let total: f64 = (0..n).map(w).sum();
        let mut centre = vec![0.0; d];
        for (i, x) in samples.rows().enumerate() {
            for (c, v) in centre.iter_mut().zip(x) {
                *c += w(i) / total * v;
            }
        }
        Self::new(centre, gamma)
    }

    /// The centre c.
    pub fn centre(&self) -> &[f64] {
        &self.centre
    }

    /// The exponent γ.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    /// f = 1 + ‖x − c‖², f^{γ/2} and γ f^{γ/2 − 1}.
    fn parts(&self, x: &[f64]) -> (f64, f64) {
        let f = 1.0
            + x.iter()
                .zip(&self.centre)
                .map(|(a, c)| (a - c) * (a - c))
                .sum::<f64>();
        let scale = f.powf(0.5 * self.gamma);
        (scale, self.gamma * scale / f)
    }
}

impl Diffusion for TiltedDiffusion {
    fn dim(&self) -> usize {
        self.centre.len()
    }
    fn matrix_into(&self, x: &[f64], m: &mut [f64]) -> Result<()> {
        let d = self.dim();
        let (scale, _) = self.parts(x);
        m.fill(0.0);
        for j in 0..d {
            m[j * d + j] = scale;
        }
        Ok(())
    }
    fn matrix_gradient_into(&self, x: &[f64], dm: &mut [f64]) -> Result<()> {
        let d = self.dim();
        let (_, slope) = self.parts(x);
        dm.fill(0.0);
        for i in 0..d {
            let g = slope * (x[i] - self.centre[i]);
            for j in 0..d {
                dm[(i * d + j) * d + j] = g;
            }
        }
        Ok(())
    }
    fn divergence_into(&self, x: &[f64], _work: &mut DiffusionWork, div: &mut [f64]) -> Result<()> {
        let (_, slope) = self.parts(x);
        for ((slot, a), c) in div.iter_mut().zip(x).zip(&self.centre) {
            *slot = slope * (a - c);
        }
        Ok(())
    }
    fn is_diagonal(&self) -> bool {
        true
    }
}

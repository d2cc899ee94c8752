//! The "manual flow" of docs/math.md eq. 40: the flow whose diffusion is the tail-growing
//! m(x) = sqrt(1 + (x − μ)²/(νσ²)).

use num_dual::DualNum as _;

use super::elementwise::{ScalarMap, scalar_flow};
use dsm_core::validate::{finite, positive};
use dsm_core::{Result, derivatives_of};

/// T(x) = √ν σ asinh((x − μ)/(√ν σ)) (docs/math.md eq. 40), so that 1/T′(x) = m(x) =
/// sqrt(1 + (x − μ)²/(νσ²)), the manual diffusion of section 6.2.
///
/// ```text
/// T⁻¹(y) = μ + √ν σ sinh(y/(√ν σ)),     log T′(x) = −½ log(1 + (x − μ)²/(νσ²))
/// ```
///
/// # Examples
/// ```
/// use dsm_flows::{Flow, ManualFlow};
/// let t = ManualFlow::new(1.0, 2.0, 5.0)?;
/// let mut j = [0.0];
/// t.jacobian_into(&[3.0], &mut j);
/// assert!((1.0 / j[0] - (1.0f64 + 4.0 / 20.0).sqrt()).abs() < 1e-15);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ManualFlow {
    location: f64,
    width: f64,
}

impl ManualFlow {
    /// The manual flow centred at `location` with scale `scale` and degrees of freedom `dof`
    /// (width √ν σ).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](dsm_core::Error::InvalidParameter) for a non-finite
    /// location or a scale or dof that is not finite and positive.
    pub fn new(location: f64, scale: f64, dof: f64) -> Result<Self> {
        finite("ManualFlow", "location", location)?;
        positive("ManualFlow", "scale", scale)?;
        positive("ManualFlow", "dof", dof)?;
        Ok(Self {
            location,
            width: dof.sqrt() * scale,
        })
    }
}

impl ScalarMap for ManualFlow {
    fn derivatives(&self, x: f64) -> [f64; 4] {
        let (mu, w) = (self.location, self.width);
        derivatives_of(|x| ((x - mu) / w).asinh() * w, x)
    }

    fn log_derivative(&self, x: f64) -> f64 {
        let z = (x - self.location) / self.width;
        -0.5 * (z * z).ln_1p()
    }

    fn scalar_inverse(&self, y: f64) -> Result<f64> {
        super::elementwise::finite_inverse(self.location + self.width * (y / self.width).sinh())
    }
}

scalar_flow!(ManualFlow);

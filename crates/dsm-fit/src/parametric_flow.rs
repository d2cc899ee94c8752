//! Flows that move with the model's parameters: the diffusion m(x; θ) = (∇ₓT(x; θ))⁻¹ of the
//! paper's §2.2, where the Gaussian flow of the model moves with θ.

use dsm_core::{Error, Result, Scalar};
use dsm_flows::Flow;

use crate::duals::STACK_LEN;

/// A flow T(x; θ) that depends on the model's parameters, written once over the scalar type
/// in both x and θ, so that the diffusion m(x; θ) = (∇ₓT)⁻¹ and its θ-derivatives are exact
/// (docs/math.md eq. 11.6). Its θ is the model's θ (the same length and order).
pub trait ParametricFlow: Sync {
    /// The dimension d.
    fn dim(&self) -> usize;

    /// The number of parameters p (that of the model it moves with).
    fn n_params(&self) -> usize;

    /// y = T(x; θ) in the scalar type `D`.
    fn transform_generic<D: Scalar>(&self, theta: &[D], x: &[D], y: &mut [D]);

    /// Whether yᵢ depends on xᵢ alone (a diagonal ∇ₓT); the moving-diffusion gradient
    /// needs it.
    fn is_elementwise(&self) -> bool;
}

/// How a [`LocationScaleFlow`] reads its scale σ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// A fixed σ > 0 (the model has no scale parameter).
    Fixed(f64),
    /// σ = exp(θₖ), k the index.
    LogParameter(usize),
}

/// Whether a [`LocationScaleFlow`] multiplies its output by σ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// T(x; θ) = F((x − μ)/σ): the convention of `GaussianFlow`, whose image is N(0, I)
    /// whatever σ (m = σ/F′).
    Standard,
    /// T(x; θ) = σ F((x − μ)/σ): the convention of `ManualFlow` (m = 1/F′(z)).
    Scaled,
}

/// The elementwise flow F of a standardised variable, moved to location μ = (θₗ, …, θₗ₊d₋₁)
/// (l = `location`) and scale σ (fixed, or exp(θₖ)):
///
/// ```text
/// T(x; θ) = F((x − μ)/σ)   (Output::Standard)   or   σ F((x − μ)/σ)   (Output::Scaled)
/// ```
/// With F = `GaussianFlow::new(0, 1, ν)` and [`Output::Standard`] it is the Gaussian flow of
/// St(μ, σ, ν) at every θ; with `ManualFlow::new(0, 1, ν₀)` and [`Output::Scaled`] the manual
/// flow of docs/math.md eq. 40. [`StudentTFamily`](crate::StudentTFamily) builds both.
///
/// # Examples
/// ```
/// use dsm_fit::{LocationScaleFlow, Output, ParametricFlow, Scale};
/// use dsm_flows::{Flow, GaussianFlow};
/// let moving = LocationScaleFlow::new(GaussianFlow::new(0.0, 1.0, 5.0)?, 2, 0, Scale::LogParameter(1), Output::Standard)?;
/// let fixed = GaussianFlow::new(1.5, 2.0, 5.0)?;
/// let (mut a, mut b) = ([0.0], [0.0]);
/// moving.transform_generic(&[1.5, 2f64.ln()], &[4.0], &mut a);
/// fixed.transform(&[4.0], &mut b);
/// assert!((a[0] - b[0]).abs() < 1e-14);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LocationScaleFlow<F> {
    base: F,
    n_params: usize,
    location: usize,
    scale: Scale,
    output: Output,
}

impl<F: Flow> LocationScaleFlow<F> {
    /// The flow `base` (elementwise, of a standardised variable) moved by θ of length
    /// `n_params`, with the location at θ entries `location .. location + d` and the scale
    /// `scale`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for a base that is not elementwise; [`Error::InvalidParameter`]
    /// for indices past `n_params` or a fixed scale that is not finite and positive.
    pub fn new(
        base: F,
        n_params: usize,
        location: usize,
        scale: Scale,
        output: Output,
    ) -> Result<Self> {
        if !base.is_elementwise() {
            return Err(Error::Unsupported {
                what: "a LocationScaleFlow of a flow that is not elementwise",
            });
        }
        let d = base.dim();
        if location.checked_add(d).is_none_or(|end| end > n_params) {
            return Err(Error::InvalidParameter {
                owner: "LocationScaleFlow",
                name: "location",
                value: location as f64,
                constraint: "location + dim <= n_params",
            });
        }
        match scale {
            Scale::Fixed(sigma) => {
                dsm_core::validate::positive("LocationScaleFlow", "scale", sigma)?;
            }
            Scale::LogParameter(k) if k >= n_params => {
                return Err(Error::InvalidParameter {
                    owner: "LocationScaleFlow",
                    name: "scale index",
                    value: k as f64,
                    constraint: "< n_params",
                });
            }
            Scale::LogParameter(_) => {}
        }
        Ok(Self {
            base,
            n_params,
            location,
            scale,
            output,
        })
    }

    /// A fitted flow T̂ moved with a model's location (docs/math.md §12):
    /// T(x; θ) = T̂(x − μ + c), μ = θ entries `location .. location + d`, so that at μ = c it is
    /// the fitted flow itself. With c the fitted flow's own centre (a power-tail layer's ξ, for
    /// one) this is the learned diffusion moving with the model as the oracle Gaussian flow
    /// does.
    ///
    /// # Errors
    /// Those of [`LocationScaleFlow::new`]; [`Error::DimensionMismatch`] for a centre of
    /// another length than the flow's dimension; [`Error::InvalidParameter`] for a non-finite
    /// centre.
    ///
    /// # Examples
    /// ```
    /// use dsm_fit::{LocationScaleFlow, ParametricFlow};
    /// use dsm_flows::{Flow, PowerTailLayer};
    /// let fitted = PowerTailLayer::new(1, 4.0)?;
    /// let moving = LocationScaleFlow::following(fitted.clone(), &[0.5], 1, 0)?;
    /// let (mut a, mut b) = ([0.0], [0.0]);
    /// moving.transform_generic(&[2.0], &[3.0], &mut a); // T̂(3 − 2 + 0.5)
    /// fitted.transform(&[1.5], &mut b);
    /// assert!((a[0] - b[0]).abs() < 1e-15);
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    pub fn following(
        flow: F,
        centre: &[f64],
        n_params: usize,
        location: usize,
    ) -> Result<LocationScaleFlow<dsm_flows::Compose<dsm_flows::DiagonalAffine, F>>> {
        use dsm_flows::Trainable as _;
        let d = flow.dim();
        dsm_core::validate::same_dim(
            "length of the centre",
            centre.len(),
            "dimension of the flow",
            d,
        )?;
        let mut shift = vec![0.0; 2 * d];
        shift[d..].copy_from_slice(centre);
        let shift = dsm_flows::DiagonalAffine::identity(d)?.with_params(&shift)?;
        LocationScaleFlow::new(
            dsm_flows::Compose::new(shift, flow)?,
            n_params,
            location,
            Scale::Fixed(1.0),
            Output::Standard,
        )
    }

    /// The flow of the standardised variable.
    pub fn base(&self) -> &F {
        &self.base
    }
}

impl<F: Flow> ParametricFlow for LocationScaleFlow<F> {
    fn dim(&self) -> usize {
        self.base.dim()
    }
    fn n_params(&self) -> usize {
        self.n_params
    }
    fn transform_generic<D: Scalar>(&self, theta: &[D], x: &[D], y: &mut [D]) {
        let sigma = match self.scale {
            Scale::Fixed(s) => D::from(s),
            Scale::LogParameter(k) => theta[k].exp(),
        };
        let d = x.len();
        let standardise = |z: &mut [D]| {
            for (i, zi) in z.iter_mut().enumerate() {
                *zi = (x[i] - theta[self.location + i]) / sigma;
            }
        };
        if d <= STACK_LEN {
            let mut z = [D::from(0.0); STACK_LEN];
            standardise(&mut z[..d]);
            self.base.transform(&z[..d], y);
        } else {
            let mut z = vec![D::from(0.0); d];
            standardise(&mut z);
            self.base.transform(&z, y);
        }
        if self.output == Output::Scaled {
            for yi in y.iter_mut() {
                *yi *= sigma;
            }
        }
    }
    fn is_elementwise(&self) -> bool {
        true
    }
}

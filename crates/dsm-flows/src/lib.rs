//! # dsm-flows
//!
//! Normalizing flows read as diffusions (Gong & Li): a flow T defines the diffusion
//! m(x) = (∂T/∂x)⁻¹, and diffusion score matching with that m is score matching in the space
//! of T (Theorem 3.1), the diffusion Stein discrepancy is the Stein discrepancy there
//! (Theorem 3.2), and along an ODE flow the Fisher divergence changes at the rate of
//! Proposition 3.2.
//!
//! * [`Flow`]: an invertible map written once over dsm-core's scalar trait ([`Scalar`],
//!   re-exported here), with exact Jacobians, their derivatives and third derivatives by
//!   forward-mode autodiff, and closed-form inverses and log-determinants.
//! * Layers: [`Affine`], [`GaussianFlow`] (Φ⁻¹ ∘ F_t, eq. 12, tail-accurate),
//!   [`ManualFlow`] (eq. 40), [`SinhArcsinh`], [`PowerTail`] (eq. 12.5), [`Planar`],
//!   [`Radial`], [`RadialGaussianFlow`] (the multivariate t's, eq. 13.3), [`AffineCoupling`],
//!   [`Elementwise`] lifting of 1-D maps, and [`Chain`] of any [`Layer`]; [`Compose`] (or
//!   [`Flow::then`]) joins any two flows, a user's own among them; [`Invert`] turns T⁻¹
//!   into a flow.
//! * Both directions named alike: [`Flow::forward`] gives (y, log |det J(x)|),
//!   [`Flow::inverse`] gives (x, log |det J⁻¹(y)|); `_into` and `_batch` (over
//!   [`dsm_core::Samples`]) versions of each.
//! * [`FlowDiffusion`]: m = J⁻¹ as a [`dsm_core::Diffusion`] (Piola identity for ∇·m).
//! * [`Pushforward`]: the density of y = T(x) with score and Hessian in y.
//! * [`EulerFlow`]: x_{k+1} = x_k + h f(x_k, t_k), with [`FisherTrajectory`].
//! * [`PulledBackKernel`]: k̃(T(x), T(x′)), the kernel of the DKSD–KSD correspondence.
//!
//! ```
//! use dsm_core::*;
//! use dsm_flows::*;
//!
//! // DSM with the Gaussian flow's diffusion equals SM of the pushforwards, up to a term that
//! // depends on T only (docs/math.md N4), so both rank models the same way.
//! let q = StudentT::new(0.0, 1.0, 5.0)?;
//! let xs = q.sample_n(300, 1, Par::Seq)?;
//! let flow = GaussianFlow::new(0.0, 1.0, 5.0)?;
//! let m = FlowDiffusion::new(flow);
//! let p = StudentT::new(0.5, 1.0, 5.0)?;
//! let dsm_x = diffusion_score_matching_integrand(&p, &m, &xs, Par::Seq)?;
//! let ys = Samples::from_scalars(xs.rows().map(|x| { let mut y = [0.0]; flow.transform(x, &mut y); y[0] }).collect())?;
//! let sm_y = score_matching_integrand(&Pushforward::new(p, flow)?, &ys, Par::Seq)?;
//! let p2 = StudentT::new(-1.0, 1.0, 5.0)?;
//! let dsm_x2 = diffusion_score_matching_integrand(&p2, &m, &xs, Par::Seq)?;
//! let sm_y2 = score_matching_integrand(&Pushforward::new(p2, flow)?, &ys, Par::Seq)?;
//! for i in 0..xs.n() {
//!     assert!(((dsm_x[i] - sm_y[i]) - (dsm_x2[i] - sm_y2[i])).abs() < 1e-6);
//! }
//! # Ok::<(), dsm_core::Error>(())
//! ```

mod diffusion;
mod euler;
mod flow;
mod invert;
mod kernel;
pub mod layers;
mod pushforward;
mod trainable;

pub use diffusion::FlowDiffusion;
pub use dsm_core::{Scalar, derivatives_of};
pub use euler::{Drift, EulerFlow, FisherTrajectory, MAX_EULER_STEPS, MAX_TRAJECTORY_BYTES};
pub use flow::{Flow, STACK_DIM, invert_into, log_abs_det};
pub use invert::Invert;
pub use kernel::PulledBackKernel;
pub use layers::{
    Affine, AffineCoupling, Chain, Compose, CouplingWeights, Elementwise, GaussianFlow, Layer,
    ManualFlow, Planar, PowerTail, Radial, RadialGaussianFlow, ScalarMap, SinhArcsinh,
};
pub use pushforward::{MAX_PUSHFORWARD_DIM, Pushforward};
pub use trainable::{
    DiagonalAffine, LowerTriangularAffine, PowerTailLayer, RationalQuadraticSpline,
    SinhArcsinhLayer, SkewLayer, Trainable,
};

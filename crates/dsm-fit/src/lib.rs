//! # dsm-fit
//!
//! Fitting unnormalised models with the objectives of dsm (docs/math.md section 11).
//!
//! * [`ParametricModel`]: log p(x; θ) written once over the scalar type in both x and θ;
//!   [`ParametricModel::at`] gives the model at a fixed θ to every dsm-core objective.
//! * [`score_matching_gradient`]: the SM loss and its exact θ-gradient, averaged and per
//!   sample, from mixed third derivatives in dual numbers (no finite differences);
//!   [`diffusion_score_matching_gradient`] the same for DSM with a diffusion fixed in θ.
//! * Built-in families: [`StudentTFamily`] (location, log-scale, optionally log-dof),
//!   [`GaussianMeanFamily`], [`MultivariateStudentTFamily`] (location).
//! * [`ExponentialFamily`] of a [`SufficientStatistic`]: the SM loss is quadratic in θ, and
//!   [`ExponentialFamily::fit_score_matching`] solves it in closed form with sandwich standard
//!   errors ([`Fit`]); [`GaussianStatistic`] is the Gaussian as such a family.
//!
//! ```
//! use dsm_core::{Gaussian, Par, Sampler};
//! use dsm_fit::{ExponentialFamily, GaussianStatistic, ParametricModel, score_matching_gradient};
//!
//! let xs = Gaussian::new(vec![1.0, -2.0], &[2.0, 0.3, 0.3, 0.5])?.sample_n(4000, 7, Par::Seq)?;
//! let family = ExponentialFamily::new(GaussianStatistic::new(2)?);
//! let fit = family.fit_score_matching(&xs, Par::rayon(2))?;
//! // At the minimum the exact gradient of the loss vanishes.
//! let g = score_matching_gradient(&family, &fit.theta, &xs, Par::Seq)?;
//! assert!(g.gradient.iter().all(|v| v.abs() < 1e-9));
//! let (mean, _precision) = family.statistic().mean_and_precision(&fit.theta)?;
//! assert!((mean[0] - 1.0).abs() < 0.1 && (mean[1] + 2.0).abs() < 0.1);
//! # Ok::<(), dsm_core::Error>(())
//! ```

mod composite_test;
mod diffusion_score_matching_gradient;
mod duals;
mod exponential_family;
mod families;
mod fit;
mod fit_flow;
mod minimize;
mod model;
mod moving_diffusion_gradient;
mod objective;
mod objective_gradient;
mod parametric_flow;
mod score_matching_gradient;
mod stein_gradient;

pub use composite_test::{CompositeKsdTest, CompositeTestResult};
pub use diffusion_score_matching_gradient::diffusion_score_matching_gradient;
pub use duals::STACK_LEN;
pub use exponential_family::{ExponentialFamily, GaussianStatistic, SufficientStatistic};
pub use families::{
    GaussianFamily, GaussianMeanFamily, MultivariateStudentTFamily, StudentTFamily,
};
pub use fit::Fit;
pub use fit_flow::{
    FlowFit, FlowFitOptions, FlowOptimizer, fit_flow, flow_log_likelihood_gradient,
};
pub use minimize::{MinimizeOptions, Minimum, frozen_fixed_point_with, minimize_with};
pub use model::{At, ParametricModel};
pub use moving_diffusion_gradient::{Surrogate, moving_diffusion_score_matching_gradient};
pub use objective::{
    DiffusionScoreMatching, MovingDiffusionScoreMatching, Objective, ScoreMatching,
};
pub use objective_gradient::ObjectiveGradient;
pub use parametric_flow::{LocationScaleFlow, Output, ParametricFlow, Scale};
pub use score_matching_gradient::score_matching_gradient;

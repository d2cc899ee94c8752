#![doc = include_str!("../README.md")]
//!
//! ## This crate
//!
//! `dsm` is the facade of the workspace: it re-exports each layer as a module and the names
//! most programs need in [`prelude`].

/// Densities, diffusions, the Monte Carlo engine and the SM/DSM objectives.
pub use dsm_core as core;
/// Flows read as diffusions (Theorems 3.1 and 3.2).
pub use dsm_flows as flows;
/// The metric-tensor formulation (Proposition 3.1).
pub use dsm_riemann as riemann;

/// The names most programs need: `use dsm::prelude::*;`.
pub mod prelude {
    pub use dsm_core::{
        AutoDiff, ConstantDiffusion, Diffusion, DiffusionFn, Error, Estimate, Gaussian,
        GenericDiffusion, GenericLogDensity, Hessian, IdentityDiffusion, LogDensity,
        MultivariateStudentT, Par, Result, Sampler, Samples, Score, StudentT,
        diffusion_fisher_divergence, diffusion_fisher_divergence_integrand,
        diffusion_score_matching_integrand, diffusion_score_matching_loss, fisher_divergence,
        fisher_divergence_integrand, score_matching_integrand, score_matching_loss,
    };
}

/// The dsm-core user guide (`docs/core.md`), compiled here so that its examples are tested.
pub mod guide {
    #![doc = include_str!("../docs/core.md")]
}

/// The math guide (`docs/math.md`): each public function by its equation in MATH.md.
pub mod math {
    #![doc = include_str!("../docs/math.md")]
}

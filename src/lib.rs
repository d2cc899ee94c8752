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
        AutoDiff, Bootstrap, ConstantDiffusion, Diffusion, DiffusionFn, DiffusionKsd, Error,
        Estimate, Estimator, Gaussian, GenericDiffusion, GenericLogDensity, Hessian,
        IdentityDiffusion, Imq, Kernel, Ksd, KsdEstimate, KsdTest, KsdTestResult, LogDensity,
        MultivariateStudentT, Par, Rbf, Result, Sampler, Samples, Scalar, Score, SteinKernel,
        StudentT, diffusion_fisher_divergence, diffusion_fisher_divergence_integrand,
        diffusion_score_matching_integrand, diffusion_score_matching_loss, fisher_divergence,
        fisher_divergence_integrand, score_matching_integrand, score_matching_loss,
    };
}

/// The dsm-core user guide (`docs/core.md`), compiled here so that its examples are tested.
pub mod guide {
    #![doc = include_str!("../docs/core.md")]
}

/// Kernel Stein discrepancies and the goodness-of-fit test (`docs/stein.md`).
pub mod stein_guide {
    #![doc = include_str!("../docs/stein.md")]
}

/// Flows with exact Jacobians (`docs/flows.md`).
pub mod flows_guide {
    #![doc = include_str!("../docs/flows.md")]
}

/// Diffusions from flows, Theorems 3.1 and 3.2 (`docs/flow-diffusion.md`).
pub mod flow_diffusion_guide {
    #![doc = include_str!("../docs/flow-diffusion.md")]
}

/// Euler ODE flows and Proposition 3.2 (`docs/ode-flows.md`).
pub mod ode_flows_guide {
    #![doc = include_str!("../docs/ode-flows.md")]
}

/// The three readings: diffusion, flow, metric (`docs/riemann.md`).
pub mod riemann_guide {
    #![doc = include_str!("../docs/riemann.md")]
}

/// The math reference (`docs/math.md`): every formula the crates implement, with the paper's
/// equation numbers, and each public item by its equation.
pub mod math {
    #![doc = include_str!("../docs/math.md")]
}

#![doc = include_str!("../README.md")]
//!
//! ## This crate
//!
//! `dsm` is the facade of the workspace: it re-exports each layer as a module and the names
//! most programs need in [`prelude`].

/// Densities, diffusions, the Monte Carlo engine and the SM/DSM objectives.
pub use dsm_core as core;
/// Fitting models: parametric log-densities, exact θ-gradients, closed-form estimators.
pub use dsm_fit as fit;
/// Flows read as diffusions (Theorems 3.1 and 3.2).
pub use dsm_flows as flows;
/// The metric-tensor formulation (Proposition 3.1).
pub use dsm_riemann as riemann;

/// The names most programs need: `use dsm::prelude::*;`.
///
/// Models, diffusions, objectives and Stein discrepancies from [`core`] (with [`ksd_test`],
/// the one-call goodness-of-fit test), the main flows and the flow readings from [`flows`]
/// ([`Flow`], [`Chain`], [`Layer`], the layers, [`FlowDiffusion`], [`Pushforward`],
/// [`EulerFlow`], [`PulledBackKernel`]), and the metric formulation from [`riemann`]
/// ([`Metric`], [`ConstantMetric`], [`MetricDiffusion`], [`riemannian_fisher_divergence`]).
///
/// [`ksd_test`]: dsm_core::ksd_test
/// [`Flow`]: dsm_flows::Flow
/// [`Chain`]: dsm_flows::Chain
/// [`Layer`]: dsm_flows::Layer
/// [`FlowDiffusion`]: dsm_flows::FlowDiffusion
/// [`Pushforward`]: dsm_flows::Pushforward
/// [`EulerFlow`]: dsm_flows::EulerFlow
/// [`PulledBackKernel`]: dsm_flows::PulledBackKernel
/// [`Metric`]: dsm_riemann::Metric
/// [`ConstantMetric`]: dsm_riemann::ConstantMetric
/// [`MetricDiffusion`]: dsm_riemann::MetricDiffusion
/// [`riemannian_fisher_divergence`]: dsm_riemann::riemannian_fisher_divergence
///
/// ```
/// use dsm::prelude::*;
///
/// let base = Gaussian::standard(1)?;
/// let flow = Chain::new(vec![GaussianFlow::new(0.0, 1.0, 4.0)?, GaussianFlow::new(0.5, 2.0, 9.0)?])?;
/// let mixed = Chain::new(vec![Layer::from(Affine::new(1, vec![2.0], vec![0.5])?)])?;
/// assert_eq!(mixed.dim(), 1);
/// let xs = base.sample_n(200, 7, Par::Seq)?;
/// let dsm = diffusion_score_matching_loss(&base, &FlowDiffusion::new(&flow), &xs, Par::Seq)?;
/// let metric = ConstantMetric::new(1, vec![2.0])?;
/// let rfd = riemannian_fisher_divergence(&base, &base, &metric, &xs, Par::Seq)?;
/// let test = ksd_test(&base, &xs, 1, Par::Seq)?;
/// assert!(dsm.value.is_finite() && rfd.value == 0.0 && test.p_value > 0.0);
/// # Ok::<(), dsm::prelude::Error>(())
/// ```
pub mod prelude {
    pub use dsm_core::{
        AutoDiff, Bootstrap, ConstantDiffusion, Diffusion, DiffusionFn, DiffusionKsd, Error,
        Estimate, Estimator, Gaussian, GenericDiffusion, GenericLogDensity, Hessian,
        IdentityDiffusion, Imq, Kernel, Ksd, KsdEstimate, KsdTest, KsdTestResult, LogDensity,
        MultivariateStudentT, Par, Rbf, Result, Sampler, Samples, Scalar, Score, SteinKernel,
        SteinPoints, StudentT, diffusion_fisher_divergence, diffusion_fisher_divergence_integrand,
        diffusion_score_matching_integrand, diffusion_score_matching_loss, fisher_divergence,
        fisher_divergence_integrand, ksd_test, score_matching_integrand, score_matching_loss,
    };
    pub use dsm_flows::{
        Affine, Chain, EulerFlow, Flow, FlowDiffusion, GaussianFlow, Layer, ManualFlow,
        PulledBackKernel, Pushforward, SinhArcsinh,
    };
    pub use dsm_riemann::{ConstantMetric, Metric, MetricDiffusion, riemannian_fisher_divergence};
}

/// The dsm-core user guide (`docs/core.md`), compiled here so that its examples are tested.
pub mod guide {
    #![doc = include_str!("../docs/core.md")]
}

/// Kernel Stein discrepancies and the goodness-of-fit test (`docs/stein.md`).
pub mod stein_guide {
    #![doc = include_str!("../docs/stein.md")]
}

/// Post-processing MCMC output: Stein thinning, Stein importance weights, convergence
/// diagnostics (`docs/mcmc.md`).
pub mod mcmc_guide {
    #![doc = include_str!("../docs/mcmc.md")]
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

/// Fitting models: parametric families, exact θ-gradients, L-BFGS, closed forms and
/// standard errors (`docs/fitting.md`).
pub mod fitting_guide {
    #![doc = include_str!("../docs/fitting.md")]
}

/// Learning the diffusion from data: trainable flows, the power-tail layer, the two-stage
/// estimate (`docs/learned-diffusion.md`).
pub mod learned_diffusion_guide {
    #![doc = include_str!("../docs/learned-diffusion.md")]
}

/// The math reference (`docs/math.md`): every formula the crates implement, with the paper's
/// equation numbers, and each public item by its equation.
pub mod math {
    #![doc = include_str!("../docs/math.md")]
}

//! # dsm-riemann
//!
//! The metric-tensor reading of diffusion score matching (Gong & Li, Proposition 3.1): the
//! diffusion Fisher divergence with diffusion m is the Fisher divergence on a Riemannian
//! manifold whose metric satisfies G⁻¹ = m mᵀ (docs/math.md eqs. 13 and 33). This is strictly more
//! general than flows: a flow induces only the flat metric G = JᵀJ, while any SPD field is a
//! valid diffusion ([`HyperbolicHalfSpace`] is one no flow can express).
//!
//! * [`Metric`]: G(x) with exact derivatives; [`ConstantMetric`], [`MetricFn`] (closures),
//!   a [`GenericMetric`] (written once over [`dsm_core::Scalar`]) wrapped in
//!   [`dsm_core::AutoDiff`], [`FlowMetric`] (G = JᵀJ), [`HyperbolicHalfSpace`] (curved).
//! * [`MetricDiffusion`]: a `dsm_core::Diffusion` with m mᵀ = G⁻¹, so every objective of
//!   dsm-core runs on a metric.
//! * [`riemannian_fisher_divergence`]: eq. 33 directly from G⁻¹.
//!
//! ```
//! use dsm_core::*;
//! use dsm_riemann::*;
//!
//! // Samples on the upper half-plane, a curved metric, and the three routes to D_m.
//! let q = Gaussian::new(vec![0.0, 3.0], &[1.0, 0.0, 0.0, 0.25])?;
//! let p = Gaussian::new(vec![0.5, 3.2], &[1.0, 0.0, 0.0, 0.3])?;
//! let xs = q.sample_n(500, 2, Par::Seq)?;
//! let metric = HyperbolicHalfSpace::new(2)?;
//! let riemann = riemannian_fisher_divergence(&q, &p, &metric, &xs, Par::Seq)?;
//! let diffusion = diffusion_fisher_divergence(&q, &p, &MetricDiffusion::new(metric), &xs, Par::Seq)?;
//! assert!((riemann.value - diffusion.value).abs() < 1e-10 * riemann.value);
//! # Ok::<(), dsm_core::Error>(())
//! ```

mod diffusion;
mod fisher;
mod metric;

pub use diffusion::MetricDiffusion;
pub use fisher::{riemannian_fisher_divergence, riemannian_fisher_divergence_integrand};
pub use metric::{
    ConstantMetric, FlowMetric, GenericMetric, HyperbolicHalfSpace, Metric, MetricFn,
};

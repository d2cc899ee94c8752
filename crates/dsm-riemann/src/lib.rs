//! # dsm-riemann
//!
//! The metric-tensor reading of diffusion score matching (Gong & Li, Proposition 3.1): the
//! diffusion Fisher divergence is the Fisher divergence on a Riemannian manifold whose metric
//! satisfies G⁻¹ = m mᵀ (MATH.md eqs. 13 and 33).
//!
//! This crate will hold (issue \[riemann\]): the `Metric` trait, `MetricDiffusion` (a
//! `dsm_core::Diffusion` with m mᵀ = G⁻¹), `FlowMetric` (G = JᵀJ of a flow) and
//! `riemannian_fisher_divergence`. It holds no code yet.

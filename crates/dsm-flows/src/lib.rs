//! # dsm-flows
//!
//! Normalizing flows read as diffusions (Gong & Li, Theorem 3.1): a flow T defines the
//! diffusion m(x) = (∂T/∂x)⁻¹, and diffusion score matching with that m is plain score
//! matching in the space of T.
//!
//! This crate will hold (issue \[flows\]): the `Flow` trait with forward and inverse maps,
//! log-determinants, full Jacobians and their exact derivatives; the layers `Affine`,
//! `GaussianFlow` (Φ⁻¹∘F_t, MATH.md eq. 12), `ManualFlow` (eq. 40), `SinhArcsinh`, `Planar`,
//! `Radial`, `AffineCoupling` and `Chain`; `FlowDiffusion` (m = J⁻¹, a
//! `dsm_core::Diffusion`); `Pushforward` densities; and `EulerFlow` with the Fisher-divergence
//! rate of Proposition 3.2. It holds no code yet.

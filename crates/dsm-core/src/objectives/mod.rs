//! The Fisher-type objectives of docs/math.md section 2, each as an [`Estimate`](crate::Estimate)
//! and as its per-sample integrand.
//!
//! Conventions (docs/math.md section 1): no factor ½, a factor 2 on the divergence term, means
//! over the samples (weighted when the samples carry weights).

mod diffusion_fisher;
mod diffusion_score_matching;
mod fisher;
mod precomputed;
mod score_matching;

pub use diffusion_fisher::{diffusion_fisher_divergence, diffusion_fisher_divergence_integrand};
pub use diffusion_score_matching::{
    diffusion_score_matching_integrand, diffusion_score_matching_loss,
};
pub use fisher::{fisher_divergence, fisher_divergence_integrand};
pub use precomputed::{
    diffusion_score_matching_integrand_precomputed, score_matching_integrand_precomputed,
};
pub use score_matching::{score_matching_integrand, score_matching_loss};

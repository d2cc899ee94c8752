//! Stein tools for MCMC output (docs/mcmc.md): draws and their scores from Stan, PyMC or
//! NumPyro in, as [`ScoredSamples`](crate::ScoredSamples).
//!
//! * [`SteinThinning`]: choose m representative draws (Riabiz et al. 2022), with the reference
//!   package's conventions or any Stein kernel and diffusion (DKSD thinning).
//! * [`stein_importance_weights`]: weights on the simplex minimising the weighted KSD (Liu &
//!   Lee 2017).
//! * [`cumulative_ksd`]: the KSD of the first k draws at checkpoints, in one pass.
//! * [`diagnose_chains`]: KSD and a calibrated Markov-chain test per chain and pooled.

mod chains;
mod cumulative;
mod stein_thinning;
mod stein_weights;

pub use chains::{ChainReport, ChainSummary, diagnose_chains};
pub use cumulative::{Checkpoint, cumulative_ksd};
pub use stein_thinning::{MAX_THINNED, Preconditioner, Regularization, SteinThinning, Thinned};
pub use stein_weights::{SteinWeights, stein_importance_weights};

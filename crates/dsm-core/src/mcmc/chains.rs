//! Several MCMC chains at once: the KSD and a calibrated test per chain and pooled
//! (docs/math.md eq. 15.4).

use std::fmt;

use crate::error::{Error, Result};
use crate::mc::Par;
use crate::samples::Samples;
use crate::scored_samples::ScoredSamples;
use crate::stein::{Bootstrap, KsdEstimate, KsdTest, KsdTestResult, SteinKernel};

/// One chain's KSD² and its Markov-chain test.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainSummary {
    /// Draws in the chain.
    pub n: usize,
    /// KSD² with its standard error.
    pub ksd: KsdEstimate,
    /// The test with Markov-chain weights, the flip probability from the chain's
    /// autocorrelation time (`Bootstrap::MarkovChainAuto`).
    pub test: KsdTestResult,
}

/// Per-chain and pooled diagnostics of [`diagnose_chains`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChainReport {
    /// One summary per chain, in the order given.
    pub chains: Vec<ChainSummary>,
    /// KSD² of all draws pooled.
    pub pooled: KsdEstimate,
    /// The pooled test: Markov-chain weights over the chains in turn, with the flip
    /// probability a = min(½, 1/√(N τ̂)), N all draws and τ̂ the largest per-chain τ̂.
    pub pooled_test: KsdTestResult,
}

impl fmt::Display for ChainReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (c, s) in self.chains.iter().enumerate() {
            writeln!(
                f,
                "chain {c}: n = {}, KSD² = {:.4e} ± {:.2e}; {}",
                s.n, s.ksd.value, s.ksd.std_err, s.test
            )?;
        }
        write!(
            f,
            "pooled: KSD² = {:.4e} ± {:.2e}; {}",
            self.pooled.value, self.pooled.std_err, self.pooled_test
        )
    }
}

/// KSD² and the Markov-chain wild-bootstrap test of each chain and of all chains pooled.
///
/// Each chain's test takes its flip probability from its own integrated autocorrelation time
/// (docs/math.md eq. 8.7, calibrated on AR(1) chains in crates/dsm-core/tests/stein.rs); the
/// pooled test concatenates the chains in order and uses the largest per-chain τ̂ with the
/// pooled size, a = min(½, 1/√(N τ̂)). A chain far from the others shows as its own large KSD²
/// and a pooled KSD² above the per-chain ones. Replicate b of every test draws its signs
/// from the same seeded stream (`seed`, b), so the result is reproducible and bit-identical for
/// any thread count.
///
/// # Errors
/// [`Error::TooFewSamples`] for no chains or a chain of fewer than 3 draws;
/// [`Error::DimensionMismatch`] for chains of different dimensions; [`Error::Unsupported`]
/// for weighted draws; those of the estimates and [`KsdTest::run_scored`].
pub fn diagnose_chains<S: SteinKernel>(
    stein: &S,
    chains: &[ScoredSamples],
    test: KsdTest,
    par: Par,
) -> Result<ChainReport> {
    let Some(first) = chains.first() else {
        return Err(Error::TooFewSamples { needed: 1, got: 0 });
    };
    let d = first.samples().dim();
    for chain in chains {
        crate::validate::same_dim(
            "dimension of a chain",
            chain.samples().dim(),
            "dimension of the first chain",
            d,
        )?;
        if chain.samples().weights().is_some() {
            return Err(Error::Unsupported {
                what: "weighted draws in the chain diagnostics",
            });
        }
    }
    let auto = KsdTest::new(Bootstrap::MarkovChainAuto, test.seed())?
        .with_replicates(test.replicates())?
        .with_level(test.level())?;
    let mut summaries = Vec::with_capacity(chains.len());
    let mut tau = 1.0_f64;
    for chain in chains {
        let ksd = stein.estimate_scored(chain, par)?;
        let result = auto.run_scored(stein, chain, par)?;
        tau = tau.max(result.autocorrelation_time.unwrap_or(1.0));
        summaries.push(ChainSummary {
            n: chain.samples().n(),
            ksd,
            test: result,
        });
    }
    // Pool the draws and scores in chain order.
    let total: usize = chains.iter().map(|c| c.samples().n()).sum();
    let mut xs = Vec::with_capacity(total * d);
    let mut scores = Vec::with_capacity(total * d);
    for chain in chains {
        xs.extend_from_slice(chain.samples().as_slice());
        scores.extend_from_slice(chain.scores());
    }
    let pooled_run = ScoredSamples::new(Samples::new(xs, d)?, scores)?;
    let pooled = stein.estimate_scored(&pooled_run, par)?;
    let flip_probability = (1.0 / (total as f64 * tau).sqrt()).min(0.5);
    let pooled_test = KsdTest::new(Bootstrap::MarkovChain { flip_probability }, test.seed())?
        .with_replicates(test.replicates())?
        .with_level(test.level())?
        .run_scored(stein, &pooled_run, par)?;
    Ok(ChainReport {
        chains: summaries,
        pooled,
        pooled_test,
    })
}

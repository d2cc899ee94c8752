//! Shared by the top-level property tests.

use proptest::prelude::ProptestConfig;
use proptest::test_runner::RngSeed;

/// 256 cases from a fixed seed, so that CI is deterministic; set `DSM_PROPTEST_SEED` to
/// explore other random instances locally.
pub fn config() -> ProptestConfig {
    let seed = std::env::var("DSM_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_2021);
    ProptestConfig {
        cases: 256,
        rng_seed: RngSeed::Fixed(seed),
        ..ProptestConfig::default()
    }
}

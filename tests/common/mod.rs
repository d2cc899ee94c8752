//! Shared by the top-level property tests: the seeded proptest configuration and the random
//! flows, both from their one home in dsm-flows' tests.

#![allow(dead_code)]

#[path = "../../crates/dsm-flows/tests/common/mod.rs"]
pub mod random_flows;
pub use random_flows::config;

//! # dsm-bench
//!
//! Benchmark workloads and the side-by-side comparison harness of dsm against numpy and JAX
//! on identical seeded data (issue \[bench\]). It holds no code yet; the criterion benches of
//! the objectives that exist today live in the top-level `benches/`.

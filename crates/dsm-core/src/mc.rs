//! The deterministic parallel Monte Carlo engine.
//!
//! Work over n samples is cut into fixed chunks of [`CHUNK_SIZE`] consecutive indices. Every
//! per-sample value is computed by the same code whatever the thread count, and partial sums
//! are formed per chunk and then added in chunk order, so an estimate is **bit-identical** for
//! [`Par::Seq`] and any [`Par::Rayon`] thread count. Random streams are keyed by
//! `(seed, purpose, chunk)` ([`random_stream`]), so sampling is reproducible in the same way
//! and no two purposes share a stream.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};

use chacha20::ChaCha8Rng;
use rand::SeedableRng;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::samples::Samples;

/// Number of consecutive samples in one unit of parallel work (and one random stream).
pub const CHUNK_SIZE: usize = 256;

/// How to run a parallel computation: sequentially, or on a rayon pool of a given size.
///
/// The result never depends on this choice, only the time it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Par {
    /// On the calling thread.
    #[default]
    Seq,
    /// On a rayon pool with this many threads.
    Rayon(NonZeroUsize),
}

impl Par {
    /// `Par::Rayon` with `threads` threads; `0` means one per available core.
    pub fn rayon(threads: usize) -> Self {
        let threads = NonZeroUsize::new(threads)
            .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN));
        Par::Rayon(threads)
    }

    /// Runs `op` under this parallelism: directly for `Seq` (rayon calls inside then use the
    /// global pool, which is harmless: results do not depend on it), or inside a cached pool
    /// of the requested size (so that a crate built on dsm-core runs its own rayon work on
    /// the same pools).
    ///
    /// # Errors
    /// [`Error::ThreadPool`] when the pool cannot be built.
    pub fn install<R: Send>(self, op: impl FnOnce() -> R + Send) -> Result<R> {
        match self {
            Par::Seq => Ok(op()),
            Par::Rayon(threads) => Ok(pool(threads.get())?.install(op)),
        }
    }

    /// Runs `f((c, chunk))` on the consecutive chunks of `chunk_len` elements of `data` (the
    /// last may be shorter): in order for `Seq`, on the pool for `Rayon`. Each chunk is
    /// written by the same code either way, so the result does not depend on `self`.
    pub(crate) fn for_each_chunk_mut<T: Send>(
        self,
        data: &mut [T],
        chunk_len: usize,
        f: impl Fn((usize, &mut [T])) + Sync + Send,
    ) -> Result<()> {
        let chunk_len = chunk_len.max(1);
        match self {
            Par::Seq => {
                data.chunks_mut(chunk_len).enumerate().for_each(f);
                Ok(())
            }
            Par::Rayon(_) => {
                self.install(|| data.par_chunks_mut(chunk_len).enumerate().for_each(f))
            }
        }
    }
}

/// The cached pools, keyed by thread count.
type Pools = Mutex<Vec<(usize, Arc<rayon::ThreadPool>)>>;

/// Thread pools are expensive to build, so one per requested size is kept for the process.
fn pool(threads: usize) -> Result<Arc<rayon::ThreadPool>> {
    static POOLS: OnceLock<Pools> = OnceLock::new();
    let pools = POOLS.get_or_init(|| Mutex::new(Vec::new()));
    let mut pools = pools
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, p)) = pools.iter().find(|(t, _)| *t == threads) {
        return Ok(Arc::clone(p));
    }
    let p = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|_| Error::ThreadPool { threads })?;
    let p = Arc::new(p);
    pools.push((threads, Arc::clone(&p)));
    Ok(p)
}

/// What a random stream is for: each purpose draws from its own ChaCha key, so one seed
/// given to several computations never makes them share (or correlate) random numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RandomPurpose {
    /// Drawing samples from a model ([`Sampler::sample_n`](crate::Sampler::sample_n)).
    Sampling,
    /// Wild-bootstrap weights of a test ([`KsdTest`](crate::KsdTest)).
    BootstrapWeights,
    /// The seeds of the null draws of a parametric bootstrap
    /// ([`ParametricKsdTest`](crate::ParametricKsdTest), the composite test of dsm-fit).
    ParametricBootstrap,
    /// Any other use, with a caller-chosen tag (downstream crates and users).
    Other(u64),
}

impl RandomPurpose {
    /// The 64-bit domain tag mixed into the key.
    fn tag(self) -> u64 {
        match self {
            // ASCII "dsm/samp" and "dsm/boot": fixed, documented, never reused.
            RandomPurpose::Sampling => 0x6473_6d2f_7361_6d70,
            RandomPurpose::BootstrapWeights => 0x6473_6d2f_626f_6f74,
            // ASCII "dsm/para".
            RandomPurpose::ParametricBootstrap => 0x6473_6d2f_7061_7261,
            RandomPurpose::Other(tag) => tag ^ 0x6473_6d2f_6f74_6872,
        }
    }
}

/// A portable, seeded random stream: ChaCha8 with the 256-bit key
/// (seed, purpose tag, 0, 0) in little-endian words and stream id `index` (the chunk or
/// replicate). Streams for different purposes have different keys, streams for different
/// indices different ids: independent, identical on every platform and for every thread
/// count.
///
/// ```
/// use dsm_core::mc::{RandomPurpose, random_stream};
/// use rand::RngExt;
/// let a: u64 = random_stream(7, RandomPurpose::Sampling, 0).random();
/// let b: u64 = random_stream(7, RandomPurpose::BootstrapWeights, 0).random();
/// assert_ne!(a, b);
/// ```
pub fn random_stream(seed: u64, purpose: RandomPurpose, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&purpose.tag().to_le_bytes());
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(index);
    rng
}

/// A Monte Carlo estimate: the (weighted) sample mean, its standard error and the sample size.
///
/// ```text
/// value   = Σᵢ w̃ᵢ hᵢ,                     w̃ᵢ = wᵢ / Σⱼ wⱼ   (w̃ᵢ = 1/n without weights)
/// std_err = sqrt( Σᵢ w̃ᵢ² (hᵢ − value)² / (1 − Σᵢ w̃ᵢ²) )
/// ```
/// Without weights `std_err = s/√n` with the unbiased sample variance s². With a single
/// sample (or all weight on one sample) the standard error is undefined and reported as `+∞`.
///
/// `Display` shows the value to the precision of its standard error (two significant digits
/// of the standard error); a precision in the format string overrides it:
///
/// ```
/// use dsm_core::Estimate;
/// let e = Estimate { value: 0.123_456, std_err: 0.004_012, n: 1000 };
/// assert_eq!(e.to_string(), "0.1235 ± 0.0040 (n = 1000)");
/// assert_eq!(format!("{e:.2}"), "0.12 ± 0.00 (n = 1000)");
/// let one = Estimate { value: 2.5, std_err: f64::INFINITY, n: 1 };
/// assert_eq!(one.to_string(), "2.500 ± inf (n = 1)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Estimate {
    /// The estimate of the expectation.
    pub value: f64,
    /// Its standard error (`+∞` when it cannot be estimated from the data).
    pub std_err: f64,
    /// Number of samples it was computed from.
    pub n: usize,
}

impl std::fmt::Display for Estimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::display::value_with_error(f, self.value, self.std_err)?;
        write!(f, " (n = {})", self.n)
    }
}

impl Estimate {
    /// The estimate of E\[h\] from per-sample values `h` and optional weights, reduced in
    /// fixed chunks in order (bit-identical for any `par`).
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] when `values` is empty; [`Error::DimensionMismatch`] when
    /// the weights' length differs; [`Error::NonFiniteValue`] naming the first non-finite
    /// value; [`Error::InvalidWeight`] for a bad weight; [`Error::ThreadPool`].
    ///
    /// # Examples
    /// ```
    /// use dsm_core::{Estimate, Par};
    /// let e = Estimate::from_values(&[1.0, 2.0, 3.0], None, Par::Seq)?;
    /// assert_eq!(e.value, 2.0);
    /// assert!((e.std_err - (1.0f64 / 3.0).sqrt()).abs() < 1e-15);
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    pub fn from_values(values: &[f64], weights: Option<&[f64]>, par: Par) -> Result<Self> {
        Self::check_values(values, weights)?;
        // Values near f64::MAX would overflow the sums: reduce them divided by a power of two
        // (exact), and scale back at the end. Ordinary values are reduced as they are, as in
        // a PartialEstimate, so that merged shards give these bits.
        let largest = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let n = values.len();
        if largest <= crate::partial_estimate::UNSCALED_LIMIT {
            let chunks = crate::partial_estimate::chunk_sums(values, weights, par)?;
            return crate::partial_estimate::finish(&chunks, n, 1.0);
        }
        let unit = 2f64.powi(largest.log2().ceil() as i32 - 1);
        let scaled: Vec<f64> = values.iter().map(|v| v / unit).collect();
        let chunks = crate::partial_estimate::chunk_sums(&scaled, weights, par)?;
        crate::partial_estimate::finish(&chunks, n, unit)
    }

    /// The checks of [`Estimate::from_values`]: values present and finite, weights of the
    /// same length, finite and non-negative.
    pub(crate) fn check_values(values: &[f64], weights: Option<&[f64]>) -> Result<()> {
        let n = values.len();
        if n == 0 {
            return Err(Error::TooFewSamples { needed: 1, got: 0 });
        }
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteValue {
                quantity: "integrand",
                index,
            });
        }
        if let Some(w) = weights {
            crate::error::same_dim("number of weights", w.len(), "number of samples", n)?;
            if let Some((index, &value)) = w
                .iter()
                .enumerate()
                .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
            {
                return Err(Error::InvalidWeight { index, value });
            }
        }
        Ok(())
    }
}

/// Evaluates `f(scratch, i, xᵢ)` for every sample, in parallel per `par`, and returns the
/// values in sample order.
///
/// `init` makes one scratch value per chunk (buffers reused across the chunk's samples, so
/// the per-sample work can be allocation-free). The first error, by sample index, is
/// returned. Values do not depend on `par`.
///
/// # Errors
/// The first error returned by `f`; [`Error::ThreadPool`].
///
/// # Examples
/// ```
/// use dsm_core::{mc, Par, Samples};
/// let xs = Samples::new(vec![1.0, 2.0, 3.0, 4.0], 2)?;
/// let norms = mc::map_samples(&xs, Par::rayon(2), || (), |_, _, x| Ok(x[0] * x[0] + x[1] * x[1]))?;
/// assert_eq!(norms, vec![5.0, 25.0]);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn map_samples<S, I, F>(samples: &Samples, par: Par, init: I, f: F) -> Result<Vec<f64>>
where
    I: Fn() -> S + Sync,
    F: Fn(&mut S, usize, &[f64]) -> Result<f64> + Sync,
{
    let mut out = vec![0.0; samples.n()];
    let chunk = |(c, block): (usize, &mut [f64])| -> Result<()> {
        let mut scratch = init();
        for (k, slot) in block.iter_mut().enumerate() {
            let i = c * CHUNK_SIZE + k;
            *slot = f(&mut scratch, i, samples.row(i))?;
        }
        Ok(())
    };
    let results: Vec<Result<()>> = match par {
        Par::Seq => out.chunks_mut(CHUNK_SIZE).enumerate().map(chunk).collect(),
        Par::Rayon(_) => par.install(|| {
            out.par_chunks_mut(CHUNK_SIZE)
                .enumerate()
                .map(chunk)
                .collect()
        })?,
    };
    results.into_iter().collect::<Result<()>>()?;
    Ok(out)
}

/// Σ vᵢ² with four lane-wise partial sums combined in a fixed order, then the tail: it
/// vectorises, and gives the same bits whatever vector width it is compiled for.
///
/// # Examples
/// ```
/// assert_eq!(dsm_core::mc::sum_of_squares(&[1.0, 2.0, 3.0, 4.0, 5.0]), 55.0);
/// ```
#[inline]
pub fn sum_of_squares(v: &[f64]) -> f64 {
    let mut lanes = [0.0; 4];
    let chunks = v.chunks_exact(4);
    let tail: f64 = chunks.remainder().iter().map(|x| x * x).sum();
    for c in chunks {
        for l in 0..4 {
            lanes[l] += c[l] * c[l];
        }
    }
    ((lanes[0] + lanes[2]) + (lanes[1] + lanes[3])) + tail
}

/// Evaluates `f(scratch, first, rows, values)` on consecutive chunks of [`CHUNK_SIZE`]
/// samples, in parallel per `par`: `rows` holds the chunk's samples row-major (from sample
/// index `first` on) and `f` writes one value per sample into `values`. This is
/// [`map_samples`] for integrands that evaluate a whole chunk at once (a batched score, say);
/// `init` makes scratch values reused across chunks. Values do not depend on `par` and the
/// first error by chunk is returned.
///
/// # Errors
/// The first error returned by `f`; [`Error::ThreadPool`].
///
/// # Examples
/// ```
/// use dsm_core::{mc, Par, Samples};
/// let xs = Samples::new(vec![1.0, 2.0, 3.0, 4.0], 2)?;
/// let sums = mc::map_sample_chunks(&xs, Par::Seq, || (), |_, _, rows, values| {
///     for (v, x) in values.iter_mut().zip(rows.chunks_exact(2)) {
///         *v = x[0] + x[1];
///     }
///     Ok(())
/// })?;
/// assert_eq!(sums, vec![3.0, 7.0]);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn map_sample_chunks<S, I, F>(samples: &Samples, par: Par, init: I, f: F) -> Result<Vec<f64>>
where
    I: Fn() -> S + Sync,
    F: Fn(&mut S, usize, &[f64], &mut [f64]) -> Result<()> + Sync,
{
    let d = samples.dim();
    let data = samples.as_slice();
    let mut out = vec![0.0; samples.n()];
    // One scratch value per sequential run of chunks (rayon's map_init), not per chunk.
    let chunk = |scratch: &mut S, (c, block): (usize, &mut [f64])| -> Result<()> {
        let first = c * CHUNK_SIZE;
        let rows = &data[first * d..(first + block.len()) * d];
        f(scratch, first, rows, block)
    };
    let results: Vec<Result<()>> = match par {
        Par::Seq => {
            let mut scratch = init();
            out.chunks_mut(CHUNK_SIZE)
                .enumerate()
                .map(|c| chunk(&mut scratch, c))
                .collect()
        }
        Par::Rayon(_) => par.install(|| {
            out.par_chunks_mut(CHUNK_SIZE)
                .enumerate()
                .map_init(&init, chunk)
                .collect()
        })?,
    };
    results.into_iter().collect::<Result<()>>()?;
    Ok(out)
}

/// The Monte Carlo estimate of E[h(x)] over `samples` (weighted when they carry weights):
/// [`map_samples`] followed by [`Estimate::from_values`].
///
/// # Errors
/// As [`map_samples`] and [`Estimate::from_values`].
///
/// # Examples
/// ```
/// use dsm_core::{mc, Par, Samples};
/// let xs = Samples::from_scalars(vec![1.0, 2.0, 3.0])?;
/// let e = mc::expectation(&xs, Par::Seq, || (), |_, _, x| Ok(x[0] * x[0]))?;
/// assert!((e.value - 14.0 / 3.0).abs() < 1e-15);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn expectation<S, I, F>(samples: &Samples, par: Par, init: I, f: F) -> Result<Estimate>
where
    I: Fn() -> S + Sync,
    F: Fn(&mut S, usize, &[f64]) -> Result<f64> + Sync,
{
    let values = map_samples(samples, par, init, f)?;
    Estimate::from_values(&values, samples.weights(), par)
}

/// Fills `width` values per sample with `f(scratch, i, xᵢ, out)`, in parallel per `par`, and
/// returns them row-major (n × width). Like [`map_samples`], values do not depend on `par`
/// and the first error by sample index is returned.
///
/// # Errors
/// The first error returned by `f`; [`Error::ThreadPool`].
pub fn map_rows<S, I, F>(
    samples: &Samples,
    width: usize,
    par: Par,
    init: I,
    f: F,
) -> Result<Vec<f64>>
where
    I: Fn() -> S + Sync,
    F: Fn(&mut S, usize, &[f64], &mut [f64]) -> Result<()> + Sync,
{
    let mut out = vec![0.0; samples.n() * width];
    if width == 0 {
        return Ok(out);
    }
    let chunk = |(c, block): (usize, &mut [f64])| -> Result<()> {
        let mut scratch = init();
        for (k, row) in block.chunks_exact_mut(width).enumerate() {
            let i = c * CHUNK_SIZE + k;
            f(&mut scratch, i, samples.row(i), row)?;
        }
        Ok(())
    };
    let results: Vec<Result<()>> = match par {
        Par::Seq => out
            .chunks_mut(CHUNK_SIZE * width)
            .enumerate()
            .map(chunk)
            .collect(),
        Par::Rayon(_) => par.install(|| {
            out.par_chunks_mut(CHUNK_SIZE * width)
                .enumerate()
                .map(chunk)
                .collect()
        })?,
    };
    results.into_iter().collect::<Result<()>>()?;
    Ok(out)
}

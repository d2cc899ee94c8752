//! Mergeable partial Monte Carlo estimates: the ordered chunk sums behind an [`Estimate`],
//! so that shards of the samples can be reduced on different machines and merged exactly
//! (docs/math.md eq. 16.1).

use crate::error::{Error, Result};
use crate::mc::{CHUNK_SIZE, Estimate, Par};

/// Per-sample values up to this size are reduced as they are; larger ones need a common
/// power-of-two scale, which shards cannot agree on, so partial sums refuse them.
pub(crate) const UNSCALED_LIMIT: f64 = 1.0e150;

/// The sums of one chunk of at most [`CHUNK_SIZE`] consecutive samples, centred on the
/// chunk's own mean m_c = S_c / W_c (0 when W_c = 0):
///
/// ```text
/// W_c = Σ w,  Q_c = Σ w²,  S_c = Σ w h,  D_c = Σ w² (h − m_c)²,  E_c = Σ w² (h − m_c)
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ChunkSums {
    /// Number of samples in the chunk.
    pub count: usize,
    /// W_c = Σ w (the count when unweighted).
    pub weight: f64,
    /// Q_c = Σ w².
    pub weight_sq: f64,
    /// S_c = Σ w h.
    pub weighted_sum: f64,
    /// D_c = Σ w² (h − m_c)².
    pub centred_sq: f64,
    /// E_c = Σ w² (h − m_c) (zero up to rounding).
    pub centred: f64,
}

impl ChunkSums {
    /// The sums of one chunk of values with optional weights.
    fn of(values: &[f64], weights: Option<&[f64]>) -> Self {
        let w = |k: usize| weights.map_or(1.0, |w| w[k]);
        let (mut weight, mut weight_sq, mut weighted_sum) = (0.0, 0.0, 0.0);
        for (k, h) in values.iter().enumerate() {
            let wk = w(k);
            weight += wk;
            weight_sq += wk * wk;
            weighted_sum += wk * h;
        }
        let mean = if weight > 0.0 {
            weighted_sum / weight
        } else {
            0.0
        };
        let (mut centred_sq, mut centred) = (0.0, 0.0);
        for (k, h) in values.iter().enumerate() {
            let wk = w(k);
            let r = h - mean;
            centred_sq += wk * wk * r * r;
            centred += wk * wk * r;
        }
        Self {
            count: values.len(),
            weight,
            weight_sq,
            weighted_sum,
            centred_sq,
            centred,
        }
    }

    /// The chunk's mean m_c (0 when its weight is 0).
    fn mean(&self) -> f64 {
        if self.weight > 0.0 {
            self.weighted_sum / self.weight
        } else {
            0.0
        }
    }
}

/// The partial state of a Monte Carlo estimate over a contiguous shard of the samples: its
/// [`ChunkSums`] in order, for the chunks of [`CHUNK_SIZE`] samples counted from sample 0 of
/// the whole set. Shards that start at multiples of [`CHUNK_SIZE`] cut the samples along the
/// same chunks as a single process does, so [`PartialEstimate::merge`] followed by
/// [`PartialEstimate::finish`] gives the single-process [`Estimate`] **bit for bit**
/// (docs/math.md eq. 16.1).
///
/// # Examples
/// Four shards of 1000 values, computed separately (on other machines, say) and merged:
/// ```
/// use dsm_core::{Estimate, Par, PartialEstimate};
/// let values: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin()).collect();
/// let whole = Estimate::from_values(&values, None, Par::Seq)?;
/// let shards = [0..256, 256..512, 512..768, 768..1000]
///     .map(|r| PartialEstimate::from_values(&values[r.clone()], None, r.start, Par::Seq));
/// let merged = PartialEstimate::merge(&shards.into_iter().collect::<Result<Vec<_>, _>>()?)?;
/// assert_eq!(merged.finish()?, whole);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PartialEstimate {
    first: usize,
    chunks: Vec<ChunkSums>,
}

impl PartialEstimate {
    /// The partial state of the values h of samples `first`, `first + 1`, … (with optional
    /// weights), reduced per chunk of [`CHUNK_SIZE`] (in parallel per `par`; the result does
    /// not depend on it).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `first` is not a multiple of [`CHUNK_SIZE`];
    /// [`Error::TooFewSamples`] when `values` is empty; [`Error::DimensionMismatch`] when
    /// the weights' length differs; [`Error::NonFiniteValue`] naming the first non-finite
    /// value (by its index in the whole set) or one beyond 1e150 in size (too large to sum
    /// without a common scale); [`Error::InvalidWeight`]; [`Error::ThreadPool`].
    pub fn from_values(
        values: &[f64],
        weights: Option<&[f64]>,
        first: usize,
        par: Par,
    ) -> Result<Self> {
        if !first.is_multiple_of(CHUNK_SIZE) {
            return Err(Error::InvalidParameter {
                owner: "PartialEstimate",
                name: "first",
                value: first as f64,
                constraint: "a multiple of the chunk size 256 (the index of the shard's first sample)",
            });
        }
        Estimate::check_values(values, weights)?;
        if let Some(index) = values.iter().position(|v| v.abs() > UNSCALED_LIMIT) {
            return Err(Error::NonFiniteValue {
                quantity: "integrand (beyond 1e150, too large for partial sums)",
                index: first.saturating_add(index),
            });
        }
        let chunks = chunk_sums(values, weights, par)?;
        Ok(Self { first, chunks })
    }

    /// The merge of contiguous shards given in sample order: their chunk sums, concatenated.
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] when `parts` is empty; [`Error::InvalidParameter`] naming
    /// the first part that does not start where the previous one ends.
    pub fn merge(parts: &[PartialEstimate]) -> Result<Self> {
        let Some(head) = parts.first() else {
            return Err(Error::TooFewSamples { needed: 1, got: 0 });
        };
        let mut merged = head.clone();
        for (k, part) in parts.iter().enumerate().skip(1) {
            if part.first != merged.end()
                || merged.chunks.last().map(|c| c.count) != Some(CHUNK_SIZE)
            {
                return Err(Error::InvalidParameter {
                    owner: "PartialEstimate::merge",
                    name: "first sample of a part",
                    value: k as f64,
                    constraint: "the end of the previous part (parts in sample order, each but the last a multiple of 256 samples long); `value` is the part's position",
                });
            }
            merged.chunks.extend_from_slice(&part.chunks);
        }
        Ok(merged)
    }

    /// The estimate: chunk sums added in chunk order, the squared deviations about the
    /// overall mean v recovered per chunk as D_c + 2(m_c − v)E_c + (m_c − v)² Q_c.
    ///
    /// # Errors
    /// [`Error::InvalidWeight`] when the total weight is 0; [`Error::NonFiniteValue`] when
    /// the mean or standard error overflows.
    pub fn finish(&self) -> Result<Estimate> {
        finish(&self.chunks, self.n(), 1.0)
    }

    /// Index of the shard's first sample in the whole set.
    pub fn first(&self) -> usize {
        self.first
    }

    /// Number of samples covered.
    pub fn n(&self) -> usize {
        self.chunks.iter().map(|c| c.count).sum()
    }

    /// One past the index of the last sample covered.
    pub fn end(&self) -> usize {
        self.first + self.n()
    }

    /// The chunk sums, in sample order.
    pub fn chunks(&self) -> &[ChunkSums] {
        &self.chunks
    }

    /// A partial state from its parts (for example read back from a file or another
    /// process).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `first` is not a multiple of [`CHUNK_SIZE`], a chunk
    /// other than the last does not hold [`CHUNK_SIZE`] samples, or a sum is not finite
    /// (`value` is then the chunk's position); [`Error::TooFewSamples`] without chunks.
    pub fn from_chunks(first: usize, chunks: Vec<ChunkSums>) -> Result<Self> {
        if chunks.is_empty() {
            return Err(Error::TooFewSamples { needed: 1, got: 0 });
        }
        let bad = |value: f64, constraint: &'static str| Error::InvalidParameter {
            owner: "PartialEstimate::from_chunks",
            name: "chunk",
            value,
            constraint,
        };
        if !first.is_multiple_of(CHUNK_SIZE) {
            return Err(bad(first as f64, "a first sample at a multiple of 256"));
        }
        let last = chunks.len() - 1;
        for (k, c) in chunks.iter().enumerate() {
            let sums = [
                c.weight,
                c.weight_sq,
                c.weighted_sum,
                c.centred_sq,
                c.centred,
            ];
            if sums.iter().any(|v| !v.is_finite()) || c.weight < 0.0 || c.weight_sq < 0.0 {
                return Err(bad(k as f64, "finite sums with non-negative weights"));
            }
            if c.count == 0 || c.count > CHUNK_SIZE || (k < last && c.count != CHUNK_SIZE) {
                return Err(bad(
                    k as f64,
                    "1 to 256 samples per chunk, exactly 256 in all but the last",
                ));
            }
        }
        Ok(Self { first, chunks })
    }
}

/// The chunk sums of `values` in order (reduced in parallel per `par`).
pub(crate) fn chunk_sums(
    values: &[f64],
    weights: Option<&[f64]>,
    par: Par,
) -> Result<Vec<ChunkSums>> {
    let chunk = |c: usize| {
        let range = c * CHUNK_SIZE..((c + 1) * CHUNK_SIZE).min(values.len());
        ChunkSums::of(&values[range.clone()], weights.map(|w| &w[range]))
    };
    let n_chunks = values.len().div_ceil(CHUNK_SIZE);
    match par {
        Par::Seq => Ok((0..n_chunks).map(chunk).collect()),
        Par::Rayon(_) => par.install(|| {
            use rayon::prelude::*;
            (0..n_chunks).into_par_iter().map(chunk).collect()
        }),
    }
}

/// The estimate from ordered chunk sums of h / `unit`, scaled back by `unit`
/// (docs/math.md eq. 16.1).
pub(crate) fn finish(chunks: &[ChunkSums], n: usize, unit: f64) -> Result<Estimate> {
    let (mut total, mut total_sq, mut weighted_sum) = (0.0, 0.0, 0.0);
    for c in chunks {
        total += c.weight;
        total_sq += c.weight_sq;
        weighted_sum += c.weighted_sum;
    }
    if !(total > 0.0 && total.is_finite()) {
        return Err(Error::InvalidWeight {
            index: n,
            value: total,
        });
    }
    let value = weighted_sum / total;
    let mut dev = 0.0;
    for c in chunks {
        let shift = c.mean() - value;
        dev += c.centred_sq + 2.0 * shift * c.centred + shift * shift * c.weight_sq;
    }
    let dev = dev.max(0.0);
    let sum_sq_norm = total_sq / (total * total);
    let std_err = if sum_sq_norm < 1.0 {
        (dev / (total * total) / (1.0 - sum_sq_norm)).sqrt()
    } else {
        f64::INFINITY
    };
    let (value, std_err) = (value * unit, std_err * unit);
    if !value.is_finite() || std_err.is_nan() || (std_err.is_infinite() && sum_sq_norm < 1.0) {
        return Err(Error::NonFiniteValue {
            quantity: "mean or standard error (beyond f64)",
            index: 0,
        });
    }
    Ok(Estimate { value, std_err, n })
}

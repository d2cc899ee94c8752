//! Validated sample storage: n points in d dimensions, row-major, with optional weights.

use faer::{Mat, MatRef};

use crate::error::{Error, Result};

/// Largest weights are rescaled (by a power of two) beyond 2^500 or below 2^−500.
const WEIGHT_RESCALE_BEYOND: f64 = 3.273_390_607_896_142e150;

/// n points in d dimensions, stored contiguously in row-major order, with optional weights.
///
/// Construction validates everything once (n ≥ 1, d ≥ 1, every value finite, weights finite,
/// non-negative and not all zero), so the divergences never see a NaN they did not make.
///
/// ```text
/// data = [x₀₀ … x₀,d₋₁, x₁₀ … x₁,d₋₁, …]      row i = point i
/// ```
///
/// # Examples
/// ```
/// use dsm_core::Samples;
/// let xs = Samples::new(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 2)?;
/// assert_eq!((xs.n(), xs.dim()), (3, 2));
/// assert_eq!(xs.row(1), &[2.0, 3.0]);
/// let weighted = xs.with_weights(vec![1.0, 2.0, 1.0])?;
/// assert_eq!(weighted.weights(), Some(&[1.0, 2.0, 1.0][..]));
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    data: Vec<f64>,
    n: usize,
    dim: usize,
    weights: Option<Vec<f64>>,
}

impl Samples {
    /// Builds samples from row-major `data` holding points of dimension `dim`.
    ///
    /// # Errors
    /// [`Error::EmptySamples`] when `dim == 0` or `data` is empty;
    /// [`Error::DimensionMismatch`] when `data.len()` is not a multiple of `dim`;
    /// [`Error::NonFiniteSample`] naming the first point (and coordinate) holding a NaN or ±∞.
    pub fn new(data: Vec<f64>, dim: usize) -> Result<Self> {
        if dim == 0 || data.is_empty() {
            return Err(Error::EmptySamples);
        }
        if !data.len().is_multiple_of(dim) {
            return Err(Error::DimensionMismatch {
                what: "length of the data",
                got: data.len(),
                against: "the next multiple of dim",
                expected: data.len().div_ceil(dim) * dim,
            });
        }
        if let Some(pos) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteSample {
                index: pos / dim,
                coordinate: pos % dim,
            });
        }
        let n = data.len() / dim;
        Ok(Self {
            data,
            n,
            dim,
            weights: None,
        })
    }

    /// Builds one-dimensional samples from scalars.
    ///
    /// # Errors
    /// As [`Samples::new`].
    pub fn from_scalars(values: Vec<f64>) -> Result<Self> {
        Self::new(values, 1)
    }

    /// Builds samples from a slice of rows, each of the same length.
    ///
    /// # Errors
    /// [`Error::EmptySamples`] for no rows or empty rows; [`Error::DimensionMismatch`] when a
    /// row's length differs from the first row's; [`Error::NonFiniteSample`] as in [`Samples::new`].
    pub fn from_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<Self> {
        let dim = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(rows.len() * dim);
        for row in rows {
            let row = row.as_ref();
            if row.len() != dim {
                return Err(Error::DimensionMismatch {
                    what: "length of a row",
                    got: row.len(),
                    against: "length of the first row",
                    expected: dim,
                });
            }
            data.extend_from_slice(row);
        }
        Self::new(data, dim)
    }

    /// Copies an n × d `faer` matrix (one point per row).
    ///
    /// # Errors
    /// As [`Samples::new`].
    pub fn from_faer(matrix: MatRef<'_, f64>) -> Result<Self> {
        let (n, d) = (matrix.nrows(), matrix.ncols());
        let mut data = Vec::with_capacity(n * d);
        for i in 0..n {
            data.extend((0..d).map(|j| matrix[(i, j)]));
        }
        Self::new(data, d)
    }

    /// Attaches per-sample weights (they need not sum to one; estimates normalise them).
    /// Weights whose largest is beyond 2^±500 are stored rescaled by a power of two (exact,
    /// ratios unchanged), so that no estimate overflows.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when `weights.len() != n`; [`Error::InvalidWeight`] for a
    /// negative or non-finite weight (naming its index), or when all weights are zero
    /// (index `n`).
    pub fn with_weights(mut self, weights: Vec<f64>) -> Result<Self> {
        if weights.len() != self.n {
            return Err(Error::DimensionMismatch {
                what: "number of weights",
                got: weights.len(),
                against: "number of samples",
                expected: self.n,
            });
        }
        if let Some((index, &value)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
        {
            return Err(Error::InvalidWeight { index, value });
        }
        let mut weights = weights;
        let max = weights.iter().fold(0.0f64, |m, &w| m.max(w));
        if !(max > 0.0) {
            return Err(Error::InvalidWeight {
                index: self.n,
                value: 0.0,
            });
        }
        // Estimates depend on ratios of weights only: rescale extreme ones by a power of two
        // (exactly), so that sums and sums of squares cannot overflow or underflow.
        if !(1.0 / WEIGHT_RESCALE_BEYOND..=WEIGHT_RESCALE_BEYOND).contains(&max) {
            // 2^−e in two exact halves (2^1074 alone would overflow for subnormal weights).
            let e = max.log2().floor() as i32;
            let (half, rest) = (2f64.powi(-e / 2), 2f64.powi(-(e - e / 2)));
            for w in &mut weights {
                *w = *w * half * rest;
            }
        }
        self.weights = Some(weights);
        Ok(self)
    }

    /// Drops the weights.
    pub fn without_weights(mut self) -> Self {
        self.weights = None;
        self
    }

    /// Number of points n.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Dimension d of each point.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Point `i` as a slice of length d.
    ///
    /// # Panics
    /// When `i >= n`, like slice indexing; use [`Samples::get`] for a checked view.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Point `i`, or `None` when `i >= n`.
    pub fn get(&self, i: usize) -> Option<&[f64]> {
        (i < self.n).then(|| self.row(i))
    }

    /// Iterator over the points in order.
    pub fn rows(&self) -> std::slice::ChunksExact<'_, f64> {
        self.data.chunks_exact(self.dim)
    }

    /// The row-major data, `n · d` values.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// The weights, if any were attached.
    pub fn weights(&self) -> Option<&[f64]> {
        self.weights.as_deref()
    }

    /// A zero-copy n × d `faer` view of the points.
    pub fn as_faer(&self) -> MatRef<'_, f64> {
        MatRef::from_row_major_slice(&self.data, self.n, self.dim)
    }

    /// An owned n × d `faer` matrix of the points.
    pub fn to_faer(&self) -> Mat<f64> {
        self.as_faer().to_owned()
    }

    /// Consumes the samples and returns the row-major data.
    pub fn into_vec(self) -> Vec<f64> {
        self.data
    }
}

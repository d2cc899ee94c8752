//! The error type of dsm-core.

/// Everything that can go wrong in dsm-core: bad parameters, bad samples, bad dimensions,
/// and model outputs that are not finite.
///
/// Every variant names what was wrong and where (the parameter, the sample index, the
/// coordinate), so that a user can find the offending input without a debugger.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A scalar parameter violates its constraint (for example a non-positive scale).
    #[error("invalid parameter `{name}` of {owner} = {value}: must be {constraint}")]
    InvalidParameter {
        /// The type or function the parameter belongs to (for example "StudentT").
        owner: &'static str,
        /// Name of the parameter.
        name: &'static str,
        /// The offending value.
        value: f64,
        /// The constraint it violates, in words.
        constraint: &'static str,
    },
    /// Two objects that must share a dimension do not: `what` (the input at fault, for
    /// example "dimension of the model p") is `got` where `against` (what fixes the size,
    /// for example "dimension of the samples") is `expected`.
    #[error("dimension mismatch: {what} is {got}, but {against} is {expected}")]
    DimensionMismatch {
        /// The size that is wrong, in words.
        what: &'static str,
        /// Its value.
        got: usize,
        /// The size it must match, in words.
        against: &'static str,
        /// Its value.
        expected: usize,
    },
    /// The samples are degenerate for the computation asked of them: a constant coordinate
    /// that cannot be standardised, too many duplicate draws, a singular Stein Gram matrix.
    #[error("degenerate samples: {what} (index {index})")]
    DegenerateSamples {
        /// What is degenerate, in words.
        what: &'static str,
        /// The coordinate or sample at fault.
        index: usize,
    },
    /// A sample set with no points, or points of dimension zero.
    #[error("empty samples: need at least one point of dimension at least one")]
    EmptySamples,
    /// An input point holds a NaN or an infinity.
    #[error("sample {index} is not finite (coordinate {coordinate})")]
    NonFiniteSample {
        /// Index of the sample (row).
        index: usize,
        /// Index of the coordinate (column).
        coordinate: usize,
    },
    /// A sample weight is negative or not finite, or all weights are zero.
    #[error(
        "invalid weight {value} at sample {index}: weights must be finite and non-negative with a positive sum"
    )]
    InvalidWeight {
        /// Index of the sample whose weight is bad (`n` when the total is zero).
        index: usize,
        /// The offending weight (or the total).
        value: f64,
    },
    /// A matrix parameter holds a non-finite entry.
    #[error("matrix `{name}` has a non-finite entry at ({row}, {col})")]
    NonFiniteMatrix {
        /// Name of the matrix parameter.
        name: &'static str,
        /// Row of the entry.
        row: usize,
        /// Column of the entry.
        col: usize,
    },
    /// A matrix that must be symmetric is not.
    #[error("matrix `{name}` is not symmetric: entries ({row}, {col}) and ({col}, {row}) differ")]
    NotSymmetric {
        /// Name of the matrix parameter.
        name: &'static str,
        /// Row of the first asymmetric entry.
        row: usize,
        /// Column of the first asymmetric entry.
        col: usize,
    },
    /// A matrix that must be symmetric positive definite is not (its Cholesky factorisation
    /// failed): a parameter (`index: None`) or a matrix field at a sample (`Some(index)`).
    #[error("matrix `{name}` is not positive definite{}", index.map(|i| format!(" at sample {i}")).unwrap_or_default())]
    NotPositiveDefinite {
        /// Name of the matrix.
        name: &'static str,
        /// The sample where a matrix field failed, `None` for a parameter.
        index: Option<usize>,
    },
    /// A matrix that must be invertible is singular to working precision.
    #[error("matrix `{name}` is singular (reciprocal condition number {rcond:e})")]
    Singular {
        /// Name of the matrix.
        name: &'static str,
        /// Its equilibrated reciprocal condition number 1/(‖B‖₁‖B⁻¹‖₁) (docs/math.md eq. 1.2).
        rcond: f64,
    },
    /// A Jacobian (of a flow, or of a map defining a diffusion) is singular at a sample.
    #[error("the Jacobian is singular at sample {index} (reciprocal condition number {rcond:e})")]
    SingularJacobian {
        /// Index of the sample (0 when raised for a single point, before re-indexing).
        index: usize,
        /// Its equilibrated reciprocal condition number (docs/math.md eq. 1.2); 0 where a
        /// diagonal entry vanishes or is infinite.
        rcond: f64,
    },
    /// An error raised by one layer of a chain or composition of flows: the layer's position
    /// (counted from 0 across nested chains, as in [`Error::NonFiniteLayerOutput`]) and its
    /// own error as the source.
    #[error("layer {layer} of the flow: {source}")]
    InLayer {
        /// Position of the layer.
        layer: usize,
        /// The layer's own error.
        #[source]
        source: Box<Error>,
    },
    /// An iterative inverse (of a flow layer or a quantile function) did not converge.
    #[error("the inverse did not converge at sample {index} after {iterations} iterations")]
    InverseFailed {
        /// Index of the sample (0 when raised for a single point, before re-indexing).
        index: usize,
        /// Iterations spent.
        iterations: usize,
    },
    /// A model, diffusion or integrand produced a NaN or an infinity at a sample.
    #[error("{quantity} is not finite at sample {index}")]
    NonFiniteValue {
        /// Which quantity (for example "score of p" or "diffusion matrix").
        quantity: &'static str,
        /// Index of the sample where it happened.
        index: usize,
    },
    /// A flow layer mapped a finite input to a non-finite value (it overflowed).
    #[error(
        "layer {layer} of the flow maps sample {index} to a non-finite value (coordinate {coordinate})"
    )]
    NonFiniteLayerOutput {
        /// Position of the layer in its chain (0 for a single layer).
        layer: usize,
        /// Index of the sample (0 when raised for a single point, before re-indexing).
        index: usize,
        /// The coordinate of the output that is not finite.
        coordinate: usize,
    },
    /// An iterative numerical method (a series, a continued fraction, a root finder) did not
    /// reach its tolerance within its iteration limit; no partial result is returned.
    #[error("{what} did not converge after {iterations} iterations")]
    NotConverged {
        /// The method (for example "Student-t tail series").
        what: &'static str,
        /// Iterations spent.
        iterations: usize,
    },
    /// Fewer samples than a method needs.
    #[error("too few samples: need at least {needed}, got {got}")]
    TooFewSamples {
        /// The minimum number of samples.
        needed: usize,
        /// The number given.
        got: usize,
    },
    /// A computation would need more memory than the configured cap allows.
    #[error(
        "{what} needs {needed_bytes} bytes, over the cap of {cap_bytes} bytes: at most {largest_n} samples fit; {remedy}"
    )]
    MemoryCap {
        /// What would need the memory (for example "bootstrap Gram matrix").
        what: &'static str,
        /// Bytes it would need.
        needed_bytes: u128,
        /// The configured cap.
        cap_bytes: u128,
        /// The largest number of samples that fits under the cap (other settings unchanged).
        largest_n: usize,
        /// How to raise the cap, or why it is fixed.
        remedy: &'static str,
    },
    /// An input that the method does not support (for example weighted samples in a bootstrap).
    #[error("unsupported input: {what}")]
    Unsupported {
        /// What is not supported.
        what: &'static str,
    },
    /// A thread pool could not be built for the requested parallelism.
    #[error("could not build a thread pool with {threads} threads")]
    ThreadPool {
        /// The requested number of threads.
        threads: usize,
    },
}

impl Error {
    /// The same error, naming sample `index` where it names a sample: point-wise routines
    /// raise their errors with index 0, and the engines that loop over samples re-index them.
    pub fn at_sample(self, index: usize) -> Self {
        match self {
            Error::SingularJacobian { rcond, .. } => Error::SingularJacobian { index, rcond },
            Error::InLayer { layer, source } => Error::InLayer {
                layer,
                source: Box::new(source.at_sample(index)),
            },
            Error::NotPositiveDefinite {
                name,
                index: Some(_),
            } => Error::NotPositiveDefinite {
                name,
                index: Some(index),
            },
            Error::InverseFailed { iterations, .. } => Error::InverseFailed { index, iterations },
            Error::NonFiniteValue { quantity, .. } => Error::NonFiniteValue { quantity, index },
            Error::NonFiniteLayerOutput {
                layer, coordinate, ..
            } => Error::NonFiniteLayerOutput {
                layer,
                index,
                coordinate,
            },
            Error::NonFiniteSample { coordinate, .. } => {
                Error::NonFiniteSample { index, coordinate }
            }
            other => other,
        }
    }

    /// The innermost error: the layer's own error under [`Error::InLayer`] wrappers, the
    /// error itself otherwise.
    ///
    /// # Examples
    /// ```
    /// use dsm_core::Error;
    /// let inner = Error::InverseFailed { index: 3, iterations: 60 };
    /// let e = Error::InLayer { layer: 2, source: Box::new(inner.clone()) };
    /// assert_eq!(e.root_cause(), &inner);
    /// assert_eq!(
    ///     e.to_string(),
    ///     "layer 2 of the flow: the inverse did not converge at sample 3 after 60 iterations"
    /// );
    /// ```
    pub fn root_cause(&self) -> &Error {
        match self {
            Error::InLayer { source, .. } => source.root_cause(),
            other => other,
        }
    }
}

/// `Result` with the dsm-core [`Error`] as its default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks `value > 0` and finite (rejecting NaN), and returns it.
///
/// # Errors
/// [`Error::InvalidParameter`] naming `owner` and `name`.
pub fn positive(owner: &'static str, name: &'static str, value: f64) -> Result<f64> {
    if value > 0.0 && value.is_finite() {
        Ok(value)
    } else {
        Err(Error::InvalidParameter {
            owner,
            name,
            value,
            constraint: "finite and > 0",
        })
    }
}

/// Checks that `value` is finite and returns it.
///
/// # Errors
/// [`Error::InvalidParameter`] naming `owner` and `name`.
pub fn finite(owner: &'static str, name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::InvalidParameter {
            owner,
            name,
            value,
            constraint: "finite",
        })
    }
}

/// Checks a test's level α ∈ (0, 1) and returns it.
///
/// # Errors
/// [`Error::InvalidParameter`] naming `level` of `owner`.
pub fn level(owner: &'static str, value: f64) -> Result<f64> {
    if value > 0.0 && value < 1.0 {
        Ok(value)
    } else {
        Err(Error::InvalidParameter {
            owner,
            name: "level",
            value,
            constraint: "in (0, 1)",
        })
    }
}

/// The most bootstrap replicates a test accepts: a p-value from B replicates has Monte Carlo
/// error below 1/(2√B), 5·10⁻⁵ at this bound, and the replicate statistics alone take 8B
/// bytes, so larger counts are mistakes that would otherwise fail to allocate.
pub const MAX_REPLICATES: usize = 100_000_000;

/// Checks a count of replicates (1 ≤ count ≤ [`MAX_REPLICATES`]) and returns it; `name` is
/// the parameter's name.
///
/// # Errors
/// [`Error::InvalidParameter`] naming `name` of `owner`.
pub fn replicate_count(owner: &'static str, name: &'static str, count: usize) -> Result<usize> {
    if (1..=MAX_REPLICATES).contains(&count) {
        Ok(count)
    } else {
        Err(Error::InvalidParameter {
            owner,
            name,
            value: count as f64,
            constraint: "between 1 and 10^8 (MAX_REPLICATES)",
        })
    }
}

/// The largest n with `bytes(n) ≤ cap` for a byte count increasing in n (bisection).
pub(crate) fn largest_fitting(cap: u128, bytes: impl Fn(u128) -> u128) -> usize {
    let (mut lo, mut hi) = (0u128, usize::MAX as u128);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if bytes(mid) <= cap {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo as usize
}

/// Checks that `what` (the size at fault, `got`) equals `against` (the size it must match,
/// `expected`).
///
/// # Errors
/// [`Error::DimensionMismatch`] naming both sides.
///
/// # Examples
/// ```
/// use dsm_core::validate::same_dim;
/// let e = same_dim("dimension of the model p", 3, "dimension of the samples", 2).unwrap_err();
/// assert_eq!(
///     e.to_string(),
///     "dimension mismatch: dimension of the model p is 3, but dimension of the samples is 2"
/// );
/// ```
pub fn same_dim(
    what: &'static str,
    got: usize,
    against: &'static str,
    expected: usize,
) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::DimensionMismatch {
            what,
            got,
            against,
            expected,
        })
    }
}

/// Checks that every entry of `values` is finite; names `quantity` and the sample `index` otherwise.
#[inline]
pub(crate) fn check_finite(values: &[f64], quantity: &'static str, index: usize) -> Result<()> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(Error::NonFiniteValue { quantity, index })
    }
}

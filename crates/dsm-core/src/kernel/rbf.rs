//! The Gaussian (RBF) kernel, with an explicit bandwidth or the median heuristic.

use super::{Kernel, radial_derivatives, sq_dist};
use crate::error::{Result, positive};
use crate::samples::Samples;

/// Largest number of points the median heuristic looks at (an evenly strided subset beyond).
pub const MEDIAN_HEURISTIC_POINTS: usize = 1000;

/// The Gaussian kernel (docs/math.md section 7.3):
///
/// ```text
/// k(x, y) = exp(−‖x − y‖² / (2h²)),   h > 0
/// φ(u) = e^{−u/(2h²)},  φ′ = −φ/(2h²),  φ″ = φ/(4h⁴)
/// ```
///
/// # Examples
/// ```
/// use dsm_core::{Kernel, Rbf, Samples};
/// let k = Rbf::new(2.0)?;
/// assert!((k.value(&[2.0], &[0.0]) - (-0.5f64).exp()).abs() < 1e-15);
/// // Median heuristic: h = median pairwise distance; never 0 on duplicated points.
/// let xs = Samples::from_scalars(vec![0.0, 0.0, 0.0, 3.0])?;
/// assert_eq!(Rbf::median_heuristic(&xs)?.bandwidth(), 3.0);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rbf {
    bandwidth: f64,
    inv_2h2: f64,
}

impl Rbf {
    /// The RBF kernel with bandwidth h.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) unless h is finite and
    /// positive, and large enough that 1/(2h²) does not overflow.
    pub fn new(bandwidth: f64) -> Result<Self> {
        positive("Rbf", "bandwidth", bandwidth)?;
        let inv_2h2 = 0.5 / (bandwidth * bandwidth);
        if !inv_2h2.is_finite() {
            return Err(crate::Error::InvalidParameter {
                owner: "Rbf",
                name: "bandwidth",
                value: bandwidth,
                constraint: "large enough that 1/(2h²) is finite (h >= 1e-154)",
            });
        }
        Ok(Self { bandwidth, inv_2h2 })
    }

    /// The bandwidth by the median heuristic: h² = the median of the squared pairwise
    /// distances ‖xᵢ − xⱼ‖² (i < j) over at most [`MEDIAN_HEURISTIC_POINTS`] evenly strided
    /// points (the mean of the two middle values for an even count).
    ///
    /// Distances of zero (duplicated points) are left out, so the result is never 0; when
    /// every point is the same (or there is a single point), h = 1.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if the median overflows.
    pub fn median_heuristic(samples: &Samples) -> Result<Self> {
        let n = samples.n();
        let stride = n.div_ceil(MEDIAN_HEURISTIC_POINTS).max(1);
        let idx: Vec<usize> = (0..n).step_by(stride).collect();
        let mut dists = Vec::with_capacity(idx.len() * idx.len().saturating_sub(1) / 2);
        for (a, &i) in idx.iter().enumerate() {
            for &j in &idx[a + 1..] {
                let u = sq_dist(samples.row(i), samples.row(j));
                if u > 0.0 {
                    dists.push(u);
                }
            }
        }
        if dists.is_empty() {
            return Self::new(1.0);
        }
        let mid = dists.len() / 2;
        let (_, &mut upper, _) = dists.select_nth_unstable_by(mid, f64::total_cmp);
        let median_sq = if dists.len() % 2 == 1 {
            upper
        } else {
            let lower = dists[..mid]
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            0.5 * (lower + upper)
        };
        Self::new(median_sq.sqrt())
    }

    /// The bandwidth h.
    pub fn bandwidth(&self) -> f64 {
        self.bandwidth
    }

    #[inline]
    fn profile(&self, u: f64) -> [f64; 3] {
        let phi = (-u * self.inv_2h2).exp();
        [phi, -phi * self.inv_2h2, phi * self.inv_2h2 * self.inv_2h2]
    }
}

impl Kernel for Rbf {
    fn value(&self, x: &[f64], y: &[f64]) -> f64 {
        (-sq_dist(x, y) * self.inv_2h2).exp()
    }

    fn derivatives_into(
        &self,
        x: &[f64],
        y: &[f64],
        gx: &mut [f64],
        gy: &mut [f64],
        cross: &mut [f64],
    ) -> f64 {
        radial_derivatives(self.profile(sq_dist(x, y)), x, y, gx, gy, cross)
    }

    fn radial_profile(&self, sq_dist: f64) -> Option<[f64; 3]> {
        Some(self.profile(sq_dist))
    }
}

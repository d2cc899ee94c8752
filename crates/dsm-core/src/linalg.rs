//! Dense linear algebra for the small d × d matrices of the objectives (Jacobians, diffusion
//! matrices, metrics), in one place with one conditioning rule: LU with partial pivoting
//! and Cholesky through faer, on row-major slices.
//!
//! **The conditioning rule.** A matrix is accepted as invertible when the reciprocal
//! condition number of its *equilibrated* form is at least [`MIN_RCOND`]:
//!
//! ```text
//! B = R⁻¹ A C⁻¹,   R = diag(row maxima), C = diag(column maxima of R⁻¹A), both powers of 2
//! rcond(A) = 1 / (‖B‖₁ ‖B⁻¹‖₁)
//! ```
//! The scaling is exact (powers of two). rcond is invariant under scaling the rows of A by
//! powers of two, and moves little under any row and column scaling: a diagonal Jacobian with entries 1 and 1e-200 (an elementwise flow with one
//! coordinate far in its tail) is perfectly conditioned, as it is in floating point, while a
//! matrix with two nearly parallel rows is not (docs/math.md section 1).

use faer::linalg::solvers::{DenseSolveCore, Solve};
use faer::{Mat, MatRef, Side};

use crate::error::{Error, Result};

/// Smallest accepted reciprocal condition number of an equilibrated matrix.
pub const MIN_RCOND: f64 = 1e-14;

/// Largest dimension accepted by the dense routines and by the models and diffusions that
/// store d × d matrices: 2¹⁴ = 16 384, so that one matrix takes at most 8d² = 2 GiB and no
/// size product overflows.
pub const MAX_DIM: usize = 1 << 14;

/// Checks a dimension for dense d × d storage.
///
/// # Errors
/// [`Error::InvalidParameter`] naming `owner` and `name` for d = 0 or d > [`MAX_DIM`].
pub fn check_dim(owner: &'static str, name: &'static str, d: usize) -> Result<()> {
    if d == 0 || d > MAX_DIM {
        return Err(Error::InvalidParameter {
            owner,
            name,
            value: d as f64,
            constraint: "in 1..=16384 (linalg::MAX_DIM)",
        });
    }
    Ok(())
}

/// The power of two at or below |v| (v finite and non-zero; subnormal powers below 2⁻¹⁰²²
/// from their bits, since `powi` underflows there).
#[inline]
fn power_of_two_below(v: f64) -> f64 {
    let k = v.abs().log2().floor() as i32;
    if k >= -1022 {
        2f64.powi(k)
    } else {
        f64::from_bits(1u64 << (k.max(-1074) + 1074))
    }
}

/// Checks that `a` holds d² finite entries.
///
/// # Errors
/// [`Error::InvalidParameter`] for d = 0 or d > [`MAX_DIM`]; [`Error::DimensionMismatch`] for
/// a slice of another length; [`Error::NonFiniteMatrix`] naming the first bad entry.
pub fn check_square(name: &'static str, a: &[f64], d: usize) -> Result<()> {
    check_dim("linalg", "d", d)?;
    crate::error::same_dim("number of matrix entries", a.len(), "d²", d * d)?;
    if let Some(pos) = a.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFiniteMatrix {
            name,
            row: pos / d,
            col: pos % d,
        });
    }
    Ok(())
}

/// The power-of-two row scales R and column scales C of the equilibration (module docs) into
/// `rows` and `cols`; `false` when a row or column of A is zero (A is singular).
fn equilibration_scales(a: &[f64], d: usize, rows: &mut [f64], cols: &mut [f64]) -> bool {
    for (i, r) in rows.iter_mut().enumerate() {
        let max = a[i * d..(i + 1) * d]
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        if max == 0.0 {
            return false;
        }
        *r = power_of_two_below(max);
    }
    for (j, c) in cols.iter_mut().enumerate() {
        let max = (0..d).fold(0.0f64, |m, i| m.max((a[i * d + j] / rows[i]).abs()));
        if max == 0.0 {
            return false;
        }
        *c = power_of_two_below(max);
    }
    true
}

/// ‖B‖₁ = max_j Σ_i |b_ij| of a d × d matrix read through `entry(i, j)`.
fn norm_one(d: usize, entry: impl Fn(usize, usize) -> f64) -> f64 {
    (0..d)
        .map(|j| (0..d).map(|i| entry(i, j).abs()).sum::<f64>())
        .fold(0.0, f64::max)
}

/// An LU factorisation of an equilibrated square matrix: the work behind [`log_abs_det`],
/// [`invert_into`] and [`reciprocal_condition`].
struct Equilibrated {
    d: usize,
    rows: Vec<f64>,
    cols: Vec<f64>,
    lu: faer::linalg::solvers::PartialPivLu<f64>,
    norm1: f64,
}

impl Equilibrated {
    /// Factorises A; `None` when a row or column is zero (A is singular).
    fn new(a: &[f64], d: usize) -> Option<Self> {
        let (mut rows, mut cols) = (vec![0.0; d], vec![0.0; d]);
        if !equilibration_scales(a, d, &mut rows, &mut cols) {
            return None;
        }
        let b = Mat::from_fn(d, d, |i, j| a[i * d + j] / rows[i] / cols[j]);
        let norm1 = norm_one(d, |i, j| b[(i, j)]);
        let lu = b.partial_piv_lu();
        Some(Self {
            d,
            rows,
            cols,
            lu,
            norm1,
        })
    }

    /// B⁻¹ and rcond(B) = 1/(‖B‖₁‖B⁻¹‖₁) (0 when B⁻¹ is not finite).
    fn inverse_and_rcond(&self) -> (Mat<f64>, f64) {
        let inv = self.lu.inverse();
        let norm_inv = norm_one(self.d, |i, j| inv[(i, j)]);
        let rcond = 1.0 / (self.norm1 * norm_inv);
        (inv, if rcond.is_finite() { rcond } else { 0.0 })
    }

    /// log |det B| + Σ ln rᵢ + Σ ln cⱼ = log |det A|.
    fn log_abs_det(&self) -> f64 {
        let u = self.lu.U();
        let mut total = 0.0;
        for i in 0..self.d {
            total += u[(i, i)].abs().ln() + self.rows[i].ln() + self.cols[i].ln();
        }
        total
    }
}

/// The reciprocal condition number of the equilibrated A (module docs), 0 for a matrix
/// with a zero row or column.
///
/// # Errors
/// As [`check_square`].
pub fn reciprocal_condition(a: &[f64], d: usize) -> Result<f64> {
    check_square("matrix", a, d)?;
    Ok(Equilibrated::new(a, d).map_or(0.0, |e| e.inverse_and_rcond().1))
}

/// log |det A| of a row-major d × d matrix by equilibrated LU with partial pivoting.
///
/// # Errors
/// As [`check_square`]; [`Error::Singular`] when rcond(A) < [`MIN_RCOND`].
pub fn log_abs_det(a: &[f64], d: usize) -> Result<f64> {
    check_square("matrix", a, d)?;
    let singular = |rcond| Error::Singular {
        name: "matrix",
        rcond,
    };
    let e = Equilibrated::new(a, d).ok_or(singular(0.0))?;
    let (_, rcond) = e.inverse_and_rcond();
    if !(rcond >= MIN_RCOND) {
        return Err(singular(rcond));
    }
    Ok(e.log_abs_det())
}

/// A⁻¹ of a row-major d × d matrix into `inv` (row-major); returns log |det A|.
///
/// # Errors
/// As [`log_abs_det`]; [`Error::DimensionMismatch`] when `inv` does not hold d² entries.
pub fn invert_into(a: &[f64], d: usize, inv: &mut [f64]) -> Result<f64> {
    check_square("matrix", a, d)?;
    crate::error::same_dim(
        "number of entries of the inverse buffer",
        inv.len(),
        "d²",
        d * d,
    )?;
    let singular = |rcond| Error::Singular {
        name: "matrix",
        rcond,
    };
    let e = Equilibrated::new(a, d).ok_or(singular(0.0))?;
    let (b_inv, rcond) = e.inverse_and_rcond();
    if !(rcond >= MIN_RCOND) {
        return Err(singular(rcond));
    }
    // A⁻¹ = C⁻¹ B⁻¹ R⁻¹.
    for i in 0..d {
        for j in 0..d {
            inv[i * d + j] = b_inv[(i, j)] / e.cols[i] / e.rows[j];
        }
    }
    if inv.iter().any(|v| !v.is_finite()) {
        return Err(singular(0.0));
    }
    Ok(e.log_abs_det())
}

/// Largest d for which [`invert_in_scratch`] inverts in caller-owned scratch (no heap
/// allocation); larger matrices go through faer's LU ([`invert_into`]).
pub const SMALL_DIM: usize = 16;

/// Scratch length [`invert_in_scratch`] needs for a d × d matrix: d² + 2d.
pub const fn inverse_scratch_len(d: usize) -> usize {
    d * d + 2 * d
}

/// A⁻¹ of a row-major d × d matrix into `inv`, with the same equilibration and the same
/// conditioning rule as [`invert_into`] (module docs, docs/math.md eq. 1.2), working in
/// `work` (at least [`inverse_scratch_len`]`(d)` values) so that the per-point paths of the
/// objectives allocate nothing.
///
/// For d ≤ [`SMALL_DIM`] the equilibrated B is inverted by Gauss–Jordan elimination with
/// partial pivoting, written here because faer's owned LU allocates its factors on every call
/// (its results agree with [`invert_into`] to rounding); larger d calls [`invert_into`].
///
/// # Errors
/// As [`invert_into`]; [`Error::DimensionMismatch`] when `work` is too short.
///
/// # Examples
/// ```
/// use dsm_core::linalg::{invert_in_scratch, inverse_scratch_len};
/// let a = [4.0, 1.0, 2.0, 3.0];
/// let (mut inv, mut work) = ([0.0; 4], vec![0.0; inverse_scratch_len(2)]);
/// invert_in_scratch(&a, 2, &mut inv, &mut work)?;
/// let expected = [0.3, -0.1, -0.2, 0.4];
/// assert!(inv.iter().zip(&expected).all(|(x, y)| (x - y).abs() < 1e-15));
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn invert_in_scratch(a: &[f64], d: usize, inv: &mut [f64], work: &mut [f64]) -> Result<()> {
    check_square("matrix", a, d)?;
    crate::error::same_dim(
        "number of entries of the inverse buffer",
        inv.len(),
        "d²",
        d * d,
    )?;
    if d > SMALL_DIM {
        return invert_into(a, d, inv).map(|_| ());
    }
    if work.len() < inverse_scratch_len(d) {
        return Err(Error::DimensionMismatch {
            what: "length of the scratch",
            got: work.len(),
            against: "d² + 2d",
            expected: inverse_scratch_len(d),
        });
    }
    let singular = |rcond| Error::Singular {
        name: "matrix",
        rcond,
    };
    let (b, rest) = work.split_at_mut(d * d);
    let (rows, rest) = rest.split_at_mut(d);
    let cols = &mut rest[..d];
    if !equilibration_scales(a, d, rows, cols) {
        return Err(singular(0.0));
    }
    for i in 0..d {
        for j in 0..d {
            b[i * d + j] = a[i * d + j] / rows[i] / cols[j];
        }
    }
    let norm1 = norm_one(d, |i, j| b[i * d + j]);
    inv.fill(0.0);
    for i in 0..d {
        inv[i * d + i] = 1.0;
    }
    // Gauss–Jordan on [B | I] with partial pivoting: B becomes I, the right half B⁻¹.
    for k in 0..d {
        let p = (k..d)
            .max_by(|&x, &y| b[x * d + k].abs().total_cmp(&b[y * d + k].abs()))
            .unwrap_or(k);
        let pivot = b[p * d + k];
        if pivot == 0.0 {
            return Err(singular(0.0));
        }
        if p != k {
            for j in 0..d {
                b.swap(p * d + j, k * d + j);
                inv.swap(p * d + j, k * d + j);
            }
        }
        for j in 0..d {
            b[k * d + j] /= pivot;
            inv[k * d + j] /= pivot;
        }
        for i in 0..d {
            let f = b[i * d + k];
            if i == k || f == 0.0 {
                continue;
            }
            for j in 0..d {
                b[i * d + j] -= f * b[k * d + j];
                inv[i * d + j] -= f * inv[k * d + j];
            }
        }
    }
    let norm_inv = norm_one(d, |i, j| inv[i * d + j]);
    let rcond = 1.0 / (norm1 * norm_inv);
    let rcond = if rcond.is_finite() { rcond } else { 0.0 };
    if !(rcond >= MIN_RCOND) {
        return Err(singular(rcond));
    }
    // A⁻¹ = C⁻¹ B⁻¹ R⁻¹.
    for i in 0..d {
        for j in 0..d {
            inv[i * d + j] = inv[i * d + j] / cols[i] / rows[j];
        }
    }
    if inv.iter().any(|v| !v.is_finite()) {
        return Err(singular(0.0));
    }
    Ok(())
}

/// The Cholesky factorisation G = L Lᵀ of a symmetric positive-definite row-major matrix:
/// writes L (lower, row-major, zeros above) and, if given, G⁻¹ (symmetrised); returns
/// log det G = 2 Σᵢ ln Lᵢᵢ. Only the lower triangle of G is read.
///
/// # Errors
/// As [`check_square`] (with `name`); [`Error::NotPositiveDefinite`] naming `name` when the
/// factorisation fails or its inverse is not finite.
pub fn cholesky_into(
    name: &'static str,
    g: &[f64],
    d: usize,
    chol: &mut [f64],
    inverse: Option<&mut [f64]>,
) -> Result<f64> {
    check_square(name, g, d)?;
    crate::error::same_dim(
        "number of entries of the Cholesky buffer",
        chol.len(),
        "d²",
        d * d,
    )?;
    let not_spd = || Error::NotPositiveDefinite { name, index: None };
    let llt = MatRef::from_row_major_slice(g, d, d)
        .llt(Side::Lower)
        .map_err(|_| not_spd())?;
    let l = llt.L();
    let mut log_det = 0.0;
    for i in 0..d {
        for j in 0..d {
            chol[i * d + j] = if j <= i { l[(i, j)] } else { 0.0 };
        }
        log_det += 2.0 * l[(i, i)].ln();
    }
    if !log_det.is_finite() {
        return Err(not_spd());
    }
    if let Some(inv) = inverse {
        crate::error::same_dim(
            "number of entries of the inverse buffer",
            inv.len(),
            "d²",
            d * d,
        )?;
        let gi = llt.inverse();
        for i in 0..d {
            for j in 0..d {
                inv[i * d + j] = 0.5 * (gi[(i, j)] + gi[(j, i)]);
            }
        }
        if inv.iter().any(|v| !v.is_finite()) {
            return Err(not_spd());
        }
    }
    Ok(log_det)
}

/// δᵀ G⁻¹ δ for a symmetric positive-definite row-major G, by a Cholesky solve (no inverse).
///
/// # Errors
/// As [`cholesky_into`]; [`Error::DimensionMismatch`] when δ has not d entries;
/// [`Error::NonFiniteValue`] when the form is beyond f64.
pub fn spd_inverse_quadratic_form(
    name: &'static str,
    g: &[f64],
    d: usize,
    delta: &[f64],
) -> Result<f64> {
    check_square(name, g, d)?;
    crate::error::same_dim("length of the vector", delta.len(), "d", d)?;
    let llt = MatRef::from_row_major_slice(g, d, d)
        .llt(Side::Lower)
        .map_err(|_| Error::NotPositiveDefinite { name, index: None })?;
    let rhs = Mat::from_fn(d, 1, |a, _| delta[a]);
    let z = llt.solve(&rhs);
    let form: f64 = (0..d).map(|a| delta[a] * z[(a, 0)]).sum();
    if form.is_finite() {
        Ok(form)
    } else {
        Err(Error::NonFiniteValue {
            quantity: "quadratic form δᵀG⁻¹δ (beyond f64)",
            index: 0,
        })
    }
}

/// The Cholesky factor G = L Lᵀ of a symmetric positive-definite row-major G, for
/// d ≤ [`SMALL_DIM`] in place in `chol` with no allocation (the column-by-column algorithm,
/// written here because faer's owned factorisation allocates per call; larger d goes through
/// [`cholesky_into`]); if `inverse` is given, also G⁻¹ (symmetrised), by two triangular solves
/// per column in `work` (at least d values). Only the lower triangle of G is read. Returns
/// log det G.
///
/// # Errors
/// As [`cholesky_into`]; [`Error::DimensionMismatch`] when `work` is shorter than d.
///
/// # Examples
/// ```
/// use dsm_core::linalg::cholesky_in_scratch;
/// let g = [4.0, 2.0, 2.0, 3.0];
/// let (mut l, mut inv, mut work) = ([0.0; 4], [0.0; 4], [0.0; 2]);
/// let log_det = cholesky_in_scratch("g", &g, 2, &mut l, Some(&mut inv), &mut work)?;
/// assert!((log_det - 8f64.ln()).abs() < 1e-15);
/// assert_eq!(l, [2.0, 0.0, 1.0, 2f64.sqrt()]);
/// assert!((inv[0] - 0.375).abs() < 1e-15 && (inv[1] + 0.25).abs() < 1e-15);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn cholesky_in_scratch(
    name: &'static str,
    g: &[f64],
    d: usize,
    chol: &mut [f64],
    inverse: Option<&mut [f64]>,
    work: &mut [f64],
) -> Result<f64> {
    if d > SMALL_DIM {
        return cholesky_into(name, g, d, chol, inverse);
    }
    check_square(name, g, d)?;
    crate::error::same_dim(
        "number of entries of the Cholesky buffer",
        chol.len(),
        "d²",
        d * d,
    )?;
    if work.len() < d {
        return Err(Error::DimensionMismatch {
            what: "length of the scratch",
            got: work.len(),
            against: "d",
            expected: d,
        });
    }
    let not_spd = || Error::NotPositiveDefinite { name, index: None };
    chol.fill(0.0);
    let mut log_det = 0.0;
    for j in 0..d {
        let mut diag = g[j * d + j];
        for k in 0..j {
            diag -= chol[j * d + k] * chol[j * d + k];
        }
        if !(diag > 0.0 && diag.is_finite()) {
            return Err(not_spd());
        }
        let ljj = diag.sqrt();
        chol[j * d + j] = ljj;
        log_det += 2.0 * ljj.ln();
        for i in j + 1..d {
            let mut v = g[i * d + j];
            for k in 0..j {
                v -= chol[i * d + k] * chol[j * d + k];
            }
            chol[i * d + j] = v / ljj;
        }
    }
    if !log_det.is_finite() {
        return Err(not_spd());
    }
    if let Some(inv) = inverse {
        crate::error::same_dim(
            "number of entries of the inverse buffer",
            inv.len(),
            "d²",
            d * d,
        )?;
        let y = &mut work[..d];
        for col in 0..d {
            // L y = e_col, then Lᵀ z = y: z is column `col` of G⁻¹.
            y.fill(0.0);
            y[col] = 1.0;
            solve_cholesky_in_place(chol, d, y);
            for (i, v) in y.iter().enumerate() {
                inv[i * d + col] = *v;
            }
        }
        for i in 0..d {
            for j in 0..i {
                let v = 0.5 * (inv[i * d + j] + inv[j * d + i]);
                inv[i * d + j] = v;
                inv[j * d + i] = v;
            }
        }
        if inv.iter().any(|v| !v.is_finite()) {
            return Err(not_spd());
        }
    }
    Ok(log_det)
}

/// v ← G⁻¹v for G = L Lᵀ (L lower, row-major): L y = v forwards, then Lᵀ z = y backwards.
fn solve_cholesky_in_place(l: &[f64], d: usize, v: &mut [f64]) {
    for i in 0..d {
        let mut acc = v[i];
        for k in 0..i {
            acc -= l[i * d + k] * v[k];
        }
        v[i] = acc / l[i * d + i];
    }
    for i in (0..d).rev() {
        let mut acc = v[i];
        for k in i + 1..d {
            acc -= l[k * d + i] * v[k];
        }
        v[i] = acc / l[i * d + i];
    }
}

/// [`spd_inverse_quadratic_form`] with no allocation for d ≤ [`SMALL_DIM`]: the factor in
/// `work` (at least d² + d values), then δᵀz with z = G⁻¹δ by two triangular solves.
///
/// # Errors
/// As [`spd_inverse_quadratic_form`]; [`Error::DimensionMismatch`] when `work` is too short.
pub fn spd_inverse_quadratic_form_in_scratch(
    name: &'static str,
    g: &[f64],
    d: usize,
    delta: &[f64],
    work: &mut [f64],
) -> Result<f64> {
    if d > SMALL_DIM {
        return spd_inverse_quadratic_form(name, g, d, delta);
    }
    crate::error::same_dim("length of the vector", delta.len(), "d", d)?;
    if work.len() < d * d + d {
        return Err(Error::DimensionMismatch {
            what: "length of the scratch",
            got: work.len(),
            against: "d² + d",
            expected: d * d + d,
        });
    }
    let (chol, rest) = work.split_at_mut(d * d);
    let y = &mut rest[..d];
    cholesky_in_scratch(name, g, d, chol, None, y)?;
    y.copy_from_slice(delta);
    solve_cholesky_in_place(chol, d, y);
    let form: f64 = (0..d).map(|a| delta[a] * y[a]).sum();
    if form.is_finite() {
        Ok(form)
    } else {
        Err(Error::NonFiniteValue {
            quantity: "quadratic form δᵀG⁻¹δ (beyond f64)",
            index: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scratch_cholesky_agrees_with_faer() {
        let mut state = 11u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        };
        for d in 1..=SMALL_DIM {
            // G = B Bᵀ + 0.1 I, and an indefinite matrix.
            let b: Vec<f64> = (0..d * d).map(|_| next()).collect();
            let mut g = vec![0.0; d * d];
            for i in 0..d {
                for j in 0..d {
                    g[i * d + j] = (0..d).map(|k| b[i * d + k] * b[j * d + k]).sum::<f64>()
                        + if i == j { 0.1 } else { 0.0 };
                }
            }
            let (mut l1, mut i1) = (vec![0.0; d * d], vec![0.0; d * d]);
            let (mut l2, mut i2, mut work) =
                (vec![0.0; d * d], vec![0.0; d * d], vec![0.0; d * d + d]);
            let ld1 = cholesky_into("g", &g, d, &mut l1, Some(&mut i1)).unwrap();
            let ld2 = cholesky_in_scratch("g", &g, d, &mut l2, Some(&mut i2), &mut work).unwrap();
            assert!((ld1 - ld2).abs() < 1e-10 * (1.0 + ld1.abs()), "d={d}");
            let scale = i1.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (x, y) in l1.iter().zip(&l2).chain(i1.iter().zip(&i2)) {
                assert!((x - y).abs() <= 1e-9 * scale.max(1.0), "d={d}: {x} vs {y}");
            }
            let delta: Vec<f64> = (0..d).map(|_| next()).collect();
            let q1 = spd_inverse_quadratic_form("g", &g, d, &delta).unwrap();
            let q2 = spd_inverse_quadratic_form_in_scratch("g", &g, d, &delta, &mut work).unwrap();
            assert!((q1 - q2).abs() <= 1e-9 * q1.abs(), "d={d}: {q1} vs {q2}");
            if d >= 2 {
                let mut bad = g.clone();
                bad[d + 1] = -1.0;
                assert!(matches!(
                    cholesky_in_scratch("g", &bad, d, &mut l2, None, &mut work),
                    Err(Error::NotPositiveDefinite {
                        name: "g",
                        index: None
                    })
                ));
            }
        }
    }

    #[test]
    fn the_scratch_inverse_agrees_with_faer_and_applies_the_same_rule() {
        // Deterministic matrices from an LCG: random, diagonally scaled over 1e±150, nearly
        // singular, singular, and a zero row.
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        };
        for d in 1..=SMALL_DIM {
            for case in 0..4 {
                let mut a: Vec<f64> = (0..d * d).map(|_| next()).collect();
                if case == 1 {
                    for i in 0..d {
                        for j in 0..d {
                            a[i * d + j] *= 10f64.powi(150 * (i as i32 % 3 - 1));
                        }
                    }
                }
                if case >= 2 && d >= 2 {
                    // Row 1 = row 0 (+ 1e-15 relative in case 2): singular or nearly so.
                    for j in 0..d {
                        a[d + j] = a[j] * (1.0 + if case == 2 { 1e-15 } else { 0.0 });
                    }
                }
                let (mut faer_inv, mut ours) = (vec![0.0; d * d], vec![0.0; d * d]);
                let mut work = vec![0.0; inverse_scratch_len(d)];
                let reference = invert_into(&a, d, &mut faer_inv);
                let got = invert_in_scratch(&a, d, &mut ours, &mut work);
                match (reference, got) {
                    (Ok(_), Ok(())) => {
                        for i in 0..d {
                            let scale = (0..d)
                                .map(|j| faer_inv[i * d + j].abs())
                                .fold(0.0, f64::max);
                            for j in 0..d {
                                let (x, y) = (faer_inv[i * d + j], ours[i * d + j]);
                                assert!(
                                    (x - y).abs() <= 1e-9 * scale,
                                    "d={d} case {case}: {x} vs {y}"
                                );
                            }
                        }
                    }
                    (Err(Error::Singular { .. }), Err(Error::Singular { rcond, .. })) => {
                        assert!(rcond < MIN_RCOND, "d={d} case {case}");
                    }
                    (r, g) => panic!("d={d} case {case}: faer {r:?}, scratch {g:?}"),
                }
            }
        }
        let mut work = vec![0.0; 3];
        assert!(matches!(
            invert_in_scratch(&[1.0; 4], 2, &mut [0.0; 4], &mut work),
            Err(Error::DimensionMismatch { .. })
        ));
        let mut work = vec![0.0; 8];
        assert!(matches!(
            invert_in_scratch(&[1.0, 0.0, 0.0, 0.0], 2, &mut [0.0; 4], &mut work),
            Err(Error::Singular { rcond: 0.0, .. })
        ));
    }

    #[test]
    fn subnormal_scales_are_equilibrated_exactly() {
        for tiny in [1e-308, 3e-310, 5e-324] {
            let a = [1.0, 0.0, 0.0, tiny];
            assert!(reciprocal_condition(&a, 2).unwrap() > 0.5, "{tiny}");
            let log_det = log_abs_det(&a, 2).unwrap();
            assert!((log_det - tiny.ln()).abs() < 1e-12, "{tiny}: {log_det}");
        }
    }

    #[test]
    fn diagonal_with_a_huge_dynamic_range_is_well_conditioned() {
        let a = [1.0, 0.0, 0.0, 1e-200];
        assert!(reciprocal_condition(&a, 2).unwrap() > 0.5);
        let mut inv = [0.0; 4];
        let log_det = invert_into(&a, 2, &mut inv).unwrap();
        assert_eq!(inv, [1.0, 0.0, 0.0, 1e200]);
        assert!((log_det - (1e-200f64).ln()).abs() < 1e-12);
    }

    #[test]
    fn rcond_is_invariant_under_row_scaling_and_stable_under_column_scaling() {
        let a = [2.0, 1.0, 1.0, 3.0];
        let (r, s) = (2f64.powi(300), 2f64.powi(-170));
        let by_two = [2.0 * r, r, s, 3.0 * s];
        let by_ten = [2.0 * 1e100, 1e100 * 1e-50, 1.0, 3.0 * 1e-50];
        let r1 = reciprocal_condition(&a, 2).unwrap();
        let r2 = reciprocal_condition(&by_two, 2).unwrap();
        let r3 = reciprocal_condition(&by_ten, 2).unwrap();
        assert_eq!(r1, r2);
        assert!(r3 > r1 / 4.0 && r3 < r1 * 4.0, "{r1} {r3}");
    }

    #[test]
    fn near_parallel_rows_are_singular() {
        let a = [1.0, 2.0, 1.0, 2.0 + 1e-15];
        assert!(matches!(log_abs_det(&a, 2), Err(Error::Singular { .. })));
        assert!(matches!(
            log_abs_det(&[1.0, 2.0, 2.0, 4.0], 2),
            Err(Error::Singular { .. })
        ));
        assert!(matches!(
            log_abs_det(&[0.0; 4], 2),
            Err(Error::Singular { .. })
        ));
    }

    #[test]
    fn wrong_sizes_and_bad_entries_are_errors() {
        assert!(matches!(
            log_abs_det(&[1.0; 3], 2),
            Err(Error::DimensionMismatch { .. })
        ));
        assert!(matches!(
            log_abs_det(&[1.0, f64::NAN, 0.0, 1.0], 2),
            Err(Error::NonFiniteMatrix { row: 0, col: 1, .. })
        ));
        assert!(log_abs_det(&[], 0).is_err());
        let mut inv = [0.0; 3];
        assert!(invert_into(&[1.0, 0.0, 0.0, 1.0], 2, &mut inv).is_err());
    }

    #[test]
    fn determinant_and_inverse_of_a_general_matrix() {
        // det [[4, 3], [6, 3]] = −6; inverse [[−0.5, 0.5], [1, −2/3]].
        let a = [4.0, 3.0, 6.0, 3.0];
        let mut inv = [0.0; 4];
        let log_det = invert_into(&a, 2, &mut inv).unwrap();
        assert!((log_det - 6f64.ln()).abs() < 1e-15);
        for (got, want) in inv.iter().zip([-0.5, 0.5, 1.0, -2.0 / 3.0]) {
            assert!((got - want).abs() < 1e-15);
        }
    }

    #[test]
    fn cholesky_and_quadratic_form() {
        let g = [4.0, 2.0, 2.0, 3.0];
        let (mut l, mut inv) = ([0.0; 4], [0.0; 4]);
        let log_det = cholesky_into("g", &g, 2, &mut l, Some(&mut inv)).unwrap();
        assert!((log_det - 8f64.ln()).abs() < 1e-15);
        for (got, want) in l.iter().zip([2.0, 0.0, 1.0, 2f64.sqrt()]) {
            assert!((got - want).abs() < 1e-15);
        }
        // G⁻¹ = [[3, −2], [−2, 4]] / 8; δ = (1, 1): δᵀG⁻¹δ = 3/8.
        let q = spd_inverse_quadratic_form("g", &g, 2, &[1.0, 1.0]).unwrap();
        assert!((q - 3.0 / 8.0).abs() < 1e-15);
        assert!(matches!(
            cholesky_into("g", &[1.0, 2.0, 2.0, 1.0], 2, &mut l, None),
            Err(Error::NotPositiveDefinite { name: "g", .. })
        ));
    }
}

//! Number formatting shared by the `Display` impls of the result types.
//!
//! An estimate is shown to the precision its standard error supports: the standard error to
//! two significant digits and the value to the same decimal place,
//!
//! ```text
//! 0.12345678 ± 0.0040123  →  0.1235 ± 0.0040
//! ```
//! in fixed notation while the standard error lies in [1e−5, 1e4) and the value below 1e9,
//! else in scientific notation (`1.23457e8 ± 1.2e4`). A precision given by the caller
//! (`{:.3}`) overrides this and applies to every number. A standard error of `+∞` prints
//! as `inf`.

use std::fmt::{self, Formatter};

/// floor(log10 |x|) for a finite non-zero x.
fn exponent(x: f64) -> i32 {
    x.abs().log10().floor() as i32
}

/// `x` to `sig` significant digits: fixed notation for 1e−4 ≤ |x| < 1e9, scientific outside,
/// `0` for zero and Rust's `inf`/`NaN` for the rest.
pub(crate) fn significant(x: f64, sig: usize) -> String {
    if x == 0.0 {
        return "0".to_owned();
    }
    if !x.is_finite() {
        return format!("{x}");
    }
    let e = exponent(x);
    let sig = sig.max(1) as i32;
    if (-4..9).contains(&e) {
        let prec = (sig - 1 - e).max(0) as usize;
        format!("{x:.prec$}")
    } else {
        let prec = (sig - 1) as usize;
        format!("{x:.prec$e}")
    }
}

/// `x` with the caller's precision when there is one, else to `sig` significant digits.
pub(crate) fn number(f: &Formatter<'_>, x: f64, sig: usize) -> String {
    match f.precision() {
        Some(prec) => format!("{x:.prec$}"),
        None => significant(x, sig),
    }
}

/// Writes `value ± std_err` to the precision of the standard error (module docs).
pub(crate) fn value_with_error(f: &mut Formatter<'_>, value: f64, std_err: f64) -> fmt::Result {
    if let Some(prec) = f.precision() {
        return write!(f, "{value:.prec$} ± {std_err:.prec$}");
    }
    if !(std_err.is_finite() && std_err > 0.0 && value.is_finite()) {
        // No scale to round to (an undefined, zero or infinite standard error).
        return write!(f, "{} ± {}", significant(value, 4), significant(std_err, 2));
    }
    let e = exponent(std_err);
    if (-5..4).contains(&e) && value.abs() < 1e9 {
        let prec = (1 - e).max(0) as usize;
        write!(f, "{value:.prec$} ± {std_err:.prec$}")
    } else {
        let digits = if value == 0.0 {
            1
        } else {
            (exponent(value) - e + 1).clamp(0, 16) as usize
        };
        write!(f, "{value:.digits$e} ± {std_err:.1e}")
    }
}

//! The gamma-function ratio behind the Student-t normalisation, without cancellation.

use special::Gamma;

/// Below this a, ln Γ(a) is replaced by its two-term expansion −ln a − γa.
const TINY_FROM: f64 = 1e-8;

/// The Euler–Mascheroni constant γ.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Below this a, E(a) is computed from ln Γ directly; above it from the Stirling series.
const STIRLING_FROM: f64 = 10.0;

/// Bernoulli coefficients B₂ₖ / (2k(2k − 1)) of the Stirling series of ln Γ, k = 1 … 8.
const STIRLING: [f64; 8] = [
    1.0 / 12.0,
    -1.0 / 360.0,
    1.0 / 1260.0,
    -1.0 / 1680.0,
    1.0 / 1188.0,
    -691.0 / 360_360.0,
    1.0 / 156.0,
    -3617.0 / 122_400.0,
];

/// The Stirling remainder S(x) = ln Γ(x) − (x − ½) ln x + x − ½ ln 2π, for x ≥ 10.
fn stirling_remainder(x: f64) -> f64 {
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    let mut power = inv;
    let mut sum = 0.0;
    for c in STIRLING {
        sum += c * power;
        power *= inv2;
    }
    sum
}

/// E(a) = ln Γ(a + ½) − ln Γ(a) − ½ ln a, for a > 0 (docs/math.md eq. 10.2).
///
/// E(a) → 0 like −1/(8a) as a → ∞; it is computed without subtracting the large ln Γ
/// values (Stirling's series for a ≥ 10), so it is accurate to about 1e-16 absolute for
/// every a > 0, including a = 10³⁰⁰, where ln Γ(a) ≈ 7e302.
///
/// ```text
/// a ≥ 10:  E(a) = a · ln(1 + 1/(2a)) − ½ + S(a + ½) − S(a)
/// ```
pub fn ln_gamma_half_ratio_excess(a: f64) -> f64 {
    if a < TINY_FROM {
        // ln Γ(a) = −ln a − γa + O(a²) (ζ(2)a²/2 < 1e-16 here), and Γ(a) itself overflows
        // for a < 1/f64::MAX: E(a) = ln Γ(a + ½) + ½ ln a + γa.
        Gamma::ln_gamma(a + 0.5).0 + 0.5 * a.ln() + EULER_GAMMA * a
    } else if a < STIRLING_FROM {
        Gamma::ln_gamma(a + 0.5).0 - Gamma::ln_gamma(a).0 - 0.5 * a.ln()
    } else {
        let leading = a * (0.5 / a).ln_1p() - 0.5;
        leading + (stirling_remainder(a + 0.5) - stirling_remainder(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mpmath (400 digits, so that ln Γ(1e300) keeps 100 digits after the point): loggamma(a + 1/2) - loggamma(a) - log(a)/2.
    #[test]
    #[allow(clippy::excessive_precision)] // the reference digits as mpmath printed them
    fn excess_against_mpmath() {
        for (a, expected) in [
            (1e-320, -367.8412555025622529884217),
            (1e-300, -344.815399006182152515627),
            (1e-100, -114.5568897067775841038319),
            (1e-10, -10.94056052218415775089768),
            (9.99e-9, -8.638475693067354896623243),
            (1e-8, -8.637975442914426085244474),
            (2e-8, -8.291401866497396548254561),
            (1e-05, -5.184111652339534319270556),
            (0.15, -0.5537015958519908632341886),
            (0.5, -0.2257913526447274323630976),
            (1.0, -0.1207822376352452223455184),
            (5.0, -0.02495881894627951306992041),
            (9.99, -0.01250730410848048987974402),
            (10.0, -0.01249480717472882005547571),
            (10.5, -0.01190027490998718147721149),
            (20.0, -0.006249349445691423166176722),
            (100.0, -0.001249994791822904810089212),
            (100000.0, -0.000001249999999994791666666823),
            (10000000000.0, -1.249999999999999999999479e-11),
            (1000000000000000.0, -1.25e-16),
            (1e+100, -1.25e-101),
            (1e+300, -1.25e-301), // −1/(8a) + O(a⁻³); mpmath at 400 digits cannot resolve it
        ] {
            let got = ln_gamma_half_ratio_excess(a);
            assert!(
                (got - expected).abs() <= 2e-16 + 1e-14 * expected.abs(),
                "a = {a}: {got} vs {expected}"
            );
        }
    }
}

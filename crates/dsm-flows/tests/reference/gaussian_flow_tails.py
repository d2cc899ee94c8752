"""Reference values of the Gaussian flow T(x) = Phi^{-1}(F_nu(x)) (docs/math.md eq. 12) for
crates/dsm-flows/tests/gaussian_flow.rs, computed with mpmath at 60 significant digits.

Run from this folder: python3 gaussian_flow_tails.py   (needs mpmath; writes gaussian_flow_tails.csv)
The Rust test reads the committed CSV; it never runs Python. scipy is not a reference here:
t.ppf / norm.ppf lose all accuracy below about 1e-300.
"""
import mpmath as mp

mp.mp.dps = 60


def t_log_sf(x, nu):
    """log P(T > x) for x >= 0: sf = 1/2 I_{nu/(nu+x^2)}(nu/2, 1/2)."""
    z = nu / (nu + x * x)
    return mp.log(mp.betainc(nu / 2, mp.mpf(1) / 2, 0, z, regularized=True) / 2)


def ndtri_log(log_p):
    """z with log Phi(z) = log_p, for log_p <= log(1/2)."""
    guess = -mp.sqrt(-2 * log_p) if log_p < -1 else mp.mpf(-0.5)
    return mp.findroot(lambda z: mp.log(mp.ncdf(z)) - log_p, guess, tol=mp.mpf(10) ** -50)


def gaussian_flow(x, nu):
    x, nu = mp.mpf(x), mp.mpf(nu)
    if x == 0:
        return mp.mpf(0)
    tail = ndtri_log(t_log_sf(abs(x), nu))
    return -tail if x > 0 else tail


xs = ["-1e12", "-1e6", "-1000", "-50", "-10", "-3", "-1", "-0.1", "0", "0.5", "2", "7", "30", "200", "1e4", "1e8", "1e12"]
nus = ["1", "2.5", "3", "10", "30"]
with open("gaussian_flow_tails.csv", "w") as f:
    f.write("nu,x,t\n")
    for nu in nus:
        for x in xs:
            t = gaussian_flow(mp.mpf(x), mp.mpf(nu))
            f.write(f"{nu},{x},{mp.nstr(t, 20)}\n")
print(open("gaussian_flow_tails.csv").read())

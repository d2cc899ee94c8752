"""Reference values for crates/dsm-core/tests/incomplete.rs and the radial Gaussian flow test of
crates/dsm-flows: ln P(a, x), ln Q(a, x), ln I_x(a, b), ln(1 − I_x(a, b)) and the radial map
rho(r) = sqrt(2 Q^{-1}(d/2, S_F(r))) with S_F(r) = I_{nu/(nu + r^2)}(nu/2, d/2), at 50 digits.

Run: python3 crates/dsm-core/tests/reference/incomplete_reference.py
Writes incomplete_gamma.csv, incomplete_beta.csv and radial_map.csv beside this script.
"""
import os
import mpmath as mp

mp.mp.dps = 50
here = os.path.dirname(os.path.abspath(__file__))


def log_p_q(a, x):
    a, x = mp.mpf(a), mp.mpf(x)
    p = mp.gammainc(a, 0, x, regularized=True)
    q = mp.gammainc(a, x, mp.inf, regularized=True)
    return mp.log(p), mp.log(q)


with open(os.path.join(here, "incomplete_gamma.csv"), "w") as f:
    f.write("a,x,log_p,log_q\n")
    for a in ["0.05", "0.5", "1", "2.5", "12.5", "25", "250"]:
        for x in ["1e-10", "0.001", "0.3", "1", "2.5", "10", "30", "100", "700", "3000"]:
            lp, lq = log_p_q(a, x)
            f.write(f"{a},{x},{mp.nstr(lp, 20)},{mp.nstr(lq, 20)}\n")

with open(os.path.join(here, "incomplete_beta.csv"), "w") as f:
    f.write("a,b,x,y,log_lower,log_upper\n")
    for a, b in [("0.5", "0.5"), ("2.5", "0.5"), ("0.5", "25"), ("2.5", "25"), ("25", "1"), ("1.5", "1.5"), ("60", "40")]:
        for x in ["1e-12", "1e-4", "0.1", "0.5", "0.9", "0.9999", "0.999999999999"]:
            a_, b_, x_ = mp.mpf(a), mp.mpf(b), mp.mpf(x)
            lower = mp.betainc(a_, b_, 0, x_, regularized=True)
            upper = mp.betainc(b_, a_, 0, 1 - x_, regularized=True)  # = 1 − I_x(a, b), no cancellation
            f.write(f"{a},{b},{x},{mp.nstr(1 - x_, 20)},{mp.nstr(mp.log(lower), 20)},{mp.nstr(mp.log(upper), 20)}\n")


def radial(d, nu, r):
    d, nu, r = mp.mpf(d), mp.mpf(nu), mp.mpf(r)
    upper = mp.betainc(nu / 2, d / 2, 0, nu / (nu + r * r), regularized=True)  # P(R > r)
    lower = mp.betainc(d / 2, nu / 2, 0, r * r / (nu + r * r), regularized=True)  # P(R <= r)
    if lower < upper:
        g = lambda t: mp.log(mp.gammainc(d / 2, 0, t, regularized=True)) - mp.log(lower)
    else:
        g = lambda t: mp.log(upper) - mp.log(mp.gammainc(d / 2, t, mp.inf, regularized=True))
    # g is increasing in t: bisection on log t.
    lo, hi = mp.mpf(-300), mp.mpf(20)
    for _ in range(400):
        mid = (lo + hi) / 2
        if g(mp.exp(mid)) < 0:
            lo = mid
        else:
            hi = mid
    return mp.sqrt(2 * mp.exp((lo + hi) / 2))


with open(os.path.join(here, "radial_map.csv"), "w") as f:
    f.write("d,nu,r,rho\n")
    for d in [1, 2, 5, 50]:
        for nu in ["1", "5", "30"]:
            for r in ["0.01", "0.5", "1", "3", "10", "100", "1e4"]:
                rho = radial(d, nu, r)
                f.write(f"{d},{nu},{r},{mp.nstr(rho, 20)}\n")
print("written")

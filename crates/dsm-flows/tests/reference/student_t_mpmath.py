"""Reference values of the standard Student-t distribution in log space and of the Gaussian
flow T(x) = Phi^{-1}(F_nu(x)) (docs/math.md eq. 12), computed with mpmath at 80 significant digits
and cross-checked by independent methods (see CHECKS below); every value is right to far more
than the 30 significant digits printed.

Formulas (nu > 0 degrees of freedom, location 0, scale 1, a = nu/2, b = 1/2):
  log f(x)   = log C - (nu+1)/2 * log1p(x^2/nu),
               log C = lgamma((nu+1)/2) - lgamma(nu/2) - log(nu pi)/2   (with 10 + log10(nu) guard digits:
               at nu = 1e10 the lgamma values are ~1e11 and log_m(0) = -log(sqrt(2 pi) C) ~ 2.5e-11)
  sf(x)      = 1 - F(x) = 1/2 I_z(a, b),  z = nu/(nu+x^2)             (x >= 0)
  F(-x)      = sf(x)  (f is even), so every x < 0 row mirrors the x > 0 one:
               log_cdf(-x) = log_sf(x), log_sf(-x) = log_cdf(x), t(-x) = -t(x), log_m(-x) = log_m(x)
  PRIMARY (all x > 0, all nu): substitute u = log1p(t^2/nu) in sf = int_x^inf f, shift by the
  value at the lower end, u = u0 + (2/nu)(r^2 + 2 sqrt(c) r), which removes the (u)^{-1/2}
  endpoint singularity and makes the integrand smooth and bounded:
      log sf(x) = log(sqrt 2) + log C - c + log K,    u0 = log1p(x^2/nu),  c = nu u0/2,
      K = int_0^inf exp(-r^2 - 2 sqrt(c) r) g(q)^{-1/2} dr,
      q = (2/nu)(sqrt(c) + r)^2,  g(q) = -expm1(-q)/q      (g -> 1 as nu -> oo: K -> sqrt(pi)/2 e^{x^2/2} erfc)
  (mp.quad, tanh-sinh, with r = rho/(1 + 2 sqrt c) so the integrand decays like e^{-rho} at every
  (nu, x)). log sf is computed directly in log space (the far tails reach log sf ~ -6.8e12 at
  nu = 1e10, x = 1e300), never as log(1 - cdf).
  log_cdf(x) = log1p(-exp(log sf(x)))  for x > 0 (sf <= 1/2, so log1p is well conditioned).
  t = T(x):  x > 0: t = -z with log Phi(z) = log_sf(x);  x < 0: t = z with log Phi(z) = log_cdf(x);
             x = 0: t = 0, log_cdf = log_sf = -log 2.
      z by Newton on h(z) = log Phi(z) - L, h' = phi(z)/Phi(z), from
      z0 = -sqrt(-2L - log(-2L * 2 pi)) (L < -2) or sqrt(2) erfinv(2 e^L - 1); Phi is log-concave,
      so the iterates converge monotonically; the residual |log Phi(z) - L| is asserted.
  log_m = -log T'(x) = log phi(T(x)) - log f(x),  log phi(t) = -t^2/2 - log(2 pi)/2.

CHECKS (all asserted; the largest disagreements are printed at the end):
  - log sf at every x > 0 grid point by the Lentz continued fraction of I_z(a, b) (NR betacf;
    on the side where it converges, I_z(a,b) = 1 - I_{1-z}(b,a) otherwise), and from it the
    whole row; every column must agree with the primary to 1e-50 relative.
  - mpmath's own betainc(nu/2, 1/2, 0, z, regularized=True)/2 wherever it returns within 3 s
    (it fails to converge, after 6-15 s, at x = 100 for nu >= 1e5 and at x = 1e3, 1e4 for
    nu >= 1e7); it loses ~10 digits at nu = 1e10.
  - the closed forms at nu = 1 (sf = atan(1/x)/pi) and nu = 3
    (sf = [atan(sqrt3/x) - sqrt3 x/(3 + x^2)]/pi, at raised precision for the cancellation).
  - six x per nu recomputed entirely at 120 digits; the 80-digit row must not move (1e-60).
  - log Phi(T) recomputed by an independent quadrature, Phi(z) = phi(z) int_0^inf e^{zs - s^2/2} ds.
  - t strictly increasing in x for each nu, odd in x, and for nu = 1e10, |x| <= 10,
    T(x) = x - (x^3 + x)/(4 nu) + O(nu^-2) (normal limit).
x and nu are the exact decimals written in the CSV (not their nearest f64).

Run from this folder: python3 student_t_mpmath.py   (needs mpmath; writes student_t_mpmath.csv,
about 3.5 minutes). The Rust tests read the committed CSV; they never run Python. scipy is not a
reference here: t.logsf / norm.ppf lose all accuracy below about 1e-300, and at nu >= 1e7
betainc-based t.sf is inaccurate in the tails long before that.
"""
import signal
import time

import mpmath as mp

DPS = 80
mp.mp.dps = DPS

NUS = ["0.3", "1", "3", "30", "1e2", "1e3", "1e4", "1e5", "1e6", "1e7", "1e10"]
X_POS = ["0.001", "0.1", "0.5", "1", "2", "5", "10", "40", "100", "1e3", "1e4", "1e6", "1e10",
         "1e20", "1e50", "1e100", "1e154", "1e155", "1e200", "1e300"]
XS = ["-" + s for s in reversed(X_POS)] + ["0"] + X_POS
HIGH_DPS_XS = ["0.001", "1", "40", "1e4", "1e155", "1e300"]  # re-run at 120 digits
COLS = ("log_cdf", "log_sf", "t", "log_m")


def eps(dps_less=0):
    return mp.mpf(10) ** (-(mp.mp.dps - dps_less))


def extra_digits(nu):
    """Guard digits for differences of lgamma values of size ~ nu log nu."""
    return 10 + max(0, int(mp.log10(nu)))


def log_c(nu):
    with mp.workdps(mp.mp.dps + extra_digits(nu)):
        v = mp.loggamma((nu + 1) / 2) - mp.loggamma(nu / 2) - mp.log(nu * mp.pi) / 2
    return +v


def t_log_pdf(x, nu):
    return log_c(nu) - (nu + 1) / 2 * mp.log1p(x * x / nu)


def norm_log_pdf(z):
    return -z * z / 2 - mp.log(2 * mp.pi) / 2


# ---------------------------------------------------------------- log sf, primary (quadrature)
def t_log_sf_quad(x, nu):
    """log sf_nu(x), x > 0, by the shifted u = log1p(t^2/nu) integral (module docstring)."""
    u0 = mp.log1p(x * x / nu)
    c = nu * u0 / 2
    sc = mp.sqrt(c)
    s = 1 + 2 * sc

    def integrand(rho):
        r = rho / s
        q = 2 * (sc + r) ** 2 / nu
        return mp.exp(-r * r - 2 * sc * r) / mp.sqrt(-mp.expm1(-q) / q) / s

    k, err = mp.quad(integrand, [0, mp.inf], error=True)
    assert err <= k * eps(8), (nu, x, err, k)
    return mp.log(2) / 2 + log_c(nu) - c + mp.log(k)


# ------------------------------------------------------- log sf, check (continued fraction)
def log_ibeta_cf(a, b, x, log_x, log_1mx):
    """log I_x(a, b) by the modified Lentz continued fraction (valid for x < (a+1)/(a+b+2))."""
    tiny = mp.mpf(10) ** (-3 * mp.mp.dps)
    tol = eps(-3)
    qab, qap, qam = a + b, a + 1, a - 1
    cc = mp.mpf(1)
    d = 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10 ** 6):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1 + aa * d
            d = 1 / (d if abs(d) > tiny else tiny)
            cc = 1 + aa / cc
            cc = cc if abs(cc) > tiny else tiny
            delta = d * cc
            h *= delta
        if abs(delta - 1) < tol:
            break
    else:
        raise RuntimeError("continued fraction did not converge")
    with mp.workdps(mp.mp.dps + extra_digits(a + b)):
        log_beta = mp.loggamma(a) + mp.loggamma(b) - mp.loggamma(a + b)
    log_beta = +log_beta
    return a * log_x + b * log_1mx - mp.log(a) - log_beta + mp.log(h)


def t_log_sf_cf(x, nu):
    """log sf_nu(x), x > 0: sf = I_z(nu/2, 1/2)/2, z = nu/(nu+x^2), w = 1 - z."""
    a, b = nu / 2, mp.mpf(1) / 2
    u0 = mp.log1p(x * x / nu)
    z, w = nu / (nu + x * x), x * x / (nu + x * x)
    log_z, log_w = -u0, 2 * mp.log(x) - mp.log(nu) - u0
    if z < (a + 1) / (a + b + 2):
        return log_ibeta_cf(a, b, z, log_z, log_w) - mp.log(2)
    return mp.log1p(-mp.exp(log_ibeta_cf(b, a, w, log_w, log_z))) - mp.log(2)


class _Timeout(Exception):
    pass


def _alarm(*_):
    raise _Timeout()


def t_log_sf_mpmath_betainc(x, nu, seconds=3):
    """mpmath's betainc, or None where it gives up or is slow."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        i = mp.betainc(nu / 2, mp.mpf(1) / 2, 0, nu / (nu + x * x), regularized=True)
        return mp.log(i / 2)
    except (_Timeout, mp.libmp.NoConvergence, ValueError):
        return None
    finally:
        signal.alarm(0)


def t_log_sf_closed_form(x, nu):
    """nu = 1 and nu = 3 only, at raised precision (the nu = 3 form cancels ~ 2 log10 x digits)."""
    with mp.workdps(mp.mp.dps + 20 + int(2 * mp.log10(x + 1))):
        if nu == 1:
            sf = mp.atan(1 / x) / mp.pi
        else:
            s3 = mp.sqrt(3)
            sf = (mp.atan(s3 / x) - s3 * x / (3 + x * x)) / mp.pi
        return +mp.log(sf)


# ------------------------------------------------------------------------ Phi^{-1} in log space
def log_ndtr(z):
    return mp.log(mp.ncdf(z))


def log_ndtr_quad(z):
    """Independent log Phi(z), z < 0: Phi(z) = phi(z) int_0^inf exp(z s - s^2/2) ds."""
    k = 1 + abs(z)
    i = mp.quad(lambda r: mp.exp(z * r / k - (r / k) ** 2 / 2) / k, [0, mp.inf])
    return norm_log_pdf(z) + mp.log(i)


RESIDUALS = []


def ndtri_log(log_p):
    """z <= 0 with log Phi(z) = log_p, for log_p <= log(1/2)."""
    assert log_p <= -mp.log(2) + eps(5)
    if log_p < -2:
        z = -mp.sqrt(-2 * log_p - mp.log(-2 * log_p * 2 * mp.pi))
    else:
        z = mp.sqrt(2) * mp.erfinv(2 * mp.exp(log_p) - 1)
    for _ in range(200):
        lz = log_ndtr(z)
        step = (lz - log_p) * mp.exp(lz - norm_log_pdf(z))
        z -= step
        if abs(step) <= eps(6) * max(abs(z), mp.mpf(1e-30)):
            break
    else:
        raise RuntimeError(f"Newton did not converge for log p = {log_p}")
    res = abs(log_ndtr(z) - log_p) / max(1, abs(log_p))
    assert res <= eps(8), (log_p, z, res)
    RESIDUALS.append(res)
    return z


# ------------------------------------------------------------------------------------ one row
def row_from_log_sf(x, nu, log_sf_pos):
    """(log_cdf, log_sf, t, log_m) at x from log sf(|x|) (x != 0)."""
    ax = abs(x)
    log_cdf_pos = mp.log1p(-mp.exp(log_sf_pos))
    if x > 0:
        lc, ls = log_cdf_pos, log_sf_pos
        t = -ndtri_log(ls)
    else:
        lc, ls = log_sf_pos, log_cdf_pos
        t = ndtri_log(lc)
    log_m = norm_log_pdf(t) - t_log_pdf(ax, nu)
    return lc, ls, t, log_m


def row(x, nu, log_sf=t_log_sf_quad):
    if x == 0:
        return -mp.log(2), -mp.log(2), mp.mpf(0), norm_log_pdf(0) - log_c(nu)
    return row_from_log_sf(x, nu, log_sf(abs(x), nu))


def rel(a, b):
    if a == b:
        return mp.mpf(0)
    return abs(a - b) / max(abs(a), abs(b))


def digits(r):
    return "exact" if r == 0 else f"{float(-mp.log10(r)):.1f} digits"


def main():
    t0 = time.time()
    worst = {"cf": (mp.mpf(0), None), "betainc": (mp.mpf(0), None), "closed": (mp.mpf(0), None),
             "dps120": (mp.mpf(0), None), "logPhi": (mp.mpf(0), None)}

    def note(key, r, where):
        if r > worst[key][0]:
            worst[key] = (r, where)

    betainc_gave_up = []
    lines = ["nu,x,log_cdf,log_sf,t,log_m"]
    for nu_s in NUS:
        nu = mp.mpf(nu_s)
        rows = {}
        for x_s in XS:
            x = mp.mpf(x_s)
            rows[x_s] = r = row(x, nu)
            if x <= 0:
                continue
            # continued fraction: the whole row.
            rc = row(x, nu, t_log_sf_cf)
            for col, a, b in zip(COLS, r, rc):
                d = rel(a, b)
                assert d < mp.mpf(10) ** -50, (nu_s, x_s, col, a, b)
                note("cf", d, (nu_s, x_s, col))
            # mpmath betainc: log sf only.
            lb = t_log_sf_mpmath_betainc(x, nu)
            if lb is None:
                betainc_gave_up.append((nu_s, x_s))
            else:
                d = rel(r[1], lb)
                assert d < mp.mpf(10) ** -60, (nu_s, x_s, r[1], lb)
                note("betainc", d, (nu_s, x_s, "log_sf"))
            if nu_s in ("1", "3"):
                d = rel(r[1], t_log_sf_closed_form(x, nu))
                assert d < mp.mpf(10) ** -70, (nu_s, x_s, d)
                note("closed", d, (nu_s, x_s, "log_sf"))
            if x_s in HIGH_DPS_XS:
                with mp.workdps(120):
                    rh = row(mp.mpf(x_s), mp.mpf(nu_s))
                    # independent log Phi at the root, at 120 digits.
                    lp = log_ndtr_quad(-rh[2])
                    d = rel(lp, rh[1])
                    assert d < mp.mpf(10) ** -100, (nu_s, x_s, lp, rh[1])
                    note("logPhi", d, (nu_s, x_s, "log Phi(-t) = log_sf"))
                    for col, a, b in zip(COLS, r, rh):
                        d = rel(a, b)
                        assert d < mp.mpf(10) ** -60, (nu_s, x_s, col, a, b)
                        note("dps120", d, (nu_s, x_s, col))
        # shape checks.
        ts = [rows[x_s][2] for x_s in XS]
        assert all(p < q for p, q in zip(ts, ts[1:])), f"T not increasing at nu = {nu_s}"
        for x_s in X_POS:
            p, n = rows[x_s], rows["-" + x_s]
            assert n[2] == -p[2] and n[3] == p[3] and n[0] == p[1] and n[1] == p[0], (nu_s, x_s)
        if nu_s == "1e10":
            for x_s in XS:
                x = mp.mpf(x_s)
                if abs(x) <= 10:
                    t = rows[x_s][2]
                    assert abs(t - x) <= 1e-7, (x_s, t)
                    first = x - (x ** 3 + x) / (4 * nu)
                    assert abs(t - first) <= (1 + abs(x)) ** 7 / nu ** 2, (x_s, t, first)
        for x_s in XS:
            lines.append(",".join([nu_s, x_s] + [mp.nstr(v, 30) for v in rows[x_s]]))
        print(f"nu = {nu_s:>5}: done at {time.time() - t0:6.1f} s", flush=True)

    with open("student_t_mpmath.csv", "w") as f:
        f.write("\n".join(lines) + "\n")
    assert len(lines) == 1 + len(NUS) * len(XS)
    print(f"wrote student_t_mpmath.csv: {len(lines) - 1} rows in {time.time() - t0:.1f} s")
    print(f"largest Newton residual |log Phi(z) - L|/max(1,|L|): {mp.nstr(max(RESIDUALS), 3)}")
    for key, label in [("cf", "continued fraction vs quadrature (all columns, every x > 0)"),
                       ("betainc", "mpmath betainc vs quadrature (log_sf)"),
                       ("closed", "closed forms nu = 1, 3 vs quadrature (log_sf)"),
                       ("dps120", "120-digit re-run vs 80 digits (all columns)"),
                       ("logPhi", "independent log Phi quadrature at t (120 digits)")]:
        r, where = worst[key]
        print(f"  {label}: worst {mp.nstr(r, 3)} ({digits(r)}) at {where}")
    print(f"  mpmath betainc gave up at (nu, x) = {betainc_gave_up}")


if __name__ == "__main__":
    main()

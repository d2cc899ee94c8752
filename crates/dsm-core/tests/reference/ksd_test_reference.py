"""Reference values of the KSD standard error, the KSD test statistic and the wild-bootstrap
replicates / p-value / critical value FOR GIVEN WEIGHTS, for crates/dsm-core/tests/stein.rs.

Run from this folder with numpy (any recent version; 2.x was used):

    python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install numpy
    /tmp/refvenv/bin/python ksd_test_reference.py

The Rust tests read the committed CSV files; they never run Python.

Inputs (read, never rewritten):
  ksd_data.csv                  of ksd_reference.py; its FIRST 40 ROWS are data set "t40".
Outputs (all written by this script, seeded, then re-read so that every number below is
computed from exactly the text Rust parses):
  ksd_test_null40.csv           data set "null40": 40 draws in d = 3 from the model itself.
  ksd_test_shift40.csv          data set "shift40": 40 draws from the model with its mean
                                moved by [0.6, -0.6, 0] (the test rejects on it).
  ksd_test_sample_weights.csv   40 sample weights, one per line (weighted data set "t40w" =
                                t40 with these weights; weight 7 is exactly 0).
  ksd_test_weights.csv          the bootstrap weights: B = 50 lines of n = 40 comma-separated
                                signs (+1 / -1); line b is the weight vector W_b of replicate b.
  ksd_test_reference.csv        name,value with name = "<case>/<quantity>" (see below).
  ksd_test_replicates.csv       case,b,value: every replicate T*_b, b = 0 .. B-1.

Cases are "<stein>_<est>_<kernel>_<data>":
  stein  ksd (Langevin) | dksd (diffusion m of ksd_reference.py)
  est    u | v
  kernel imq_c1_b-0.5 (Imq::default()), imq_c2_b-0.3 (Imq::new(2.0, -0.3)), rbf_h1.3
         (Rbf::new(1.3)); dksd only with imq_c1_b-0.5
  data   t40 | null40 | shift40 | t40w (t40w only for value and std_err: the bootstrap test rejects
         weighted samples with Error::Unsupported)
Model: Gaussian(mu = [0.1, -0.2, 0.3], Sigma = [[1.2, 0.3, 0], [0.3, 0.8, -0.1],
[0, -0.1, 1.5]]), score s(x) = -Sigma^{-1}(x - mu) (the model of ksd_reference.py).

Quantities and the Rust lines they mirror (k0 = Stein kernel, H_ij = k0(x_i, x_j), w_i the
sample weights, w_i = 1 without weights, W = sum w_i):

  value     U = sum_{i!=j} w_i w_j H_ij / (W^2 - sum w_i^2),  V = sum_{i,j} w_i w_j H_ij / W^2
            (src/stein/ksd.rs, SteinPoints::estimate, `let value = match estimator`).

  std_err   KsdEstimate::std_err (src/stein/ksd.rs, the block after "h1(x_i) = ...";
            documented in src/stein/estimate.rs as 2 sd(h1)/sqrt(n)), THE SAME FOR U AND V:
              g_i   = sum_{j!=i} w_j H_ij                 (PairSums::rows, src/stein/pairwise.rs)
              h1_i  = g_i / (W - w_i)                     (weighted leave-one-out mean of k0(x_i, .))
              wt_i  = w_i / W,  m = sum_i wt_i h1_i
              se    = sqrt( sum_i wt_i^2 (h1_i - m)^2 / (1 - sum_i wt_i^2) )
                                                          (Estimate::from_values, src/mc.rs `reduce`)
              std_err = 2 se
            Unweighted this is 2 s/sqrt(n), s^2 the unbiased sample variance of h1 (asserted
            below). It estimates the first-order (Hoeffding) standard deviation of the U- (and,
            to first order, V-) statistic: U - KSD^2 = (2/n) sum_i (h1(x_i) - KSD^2) + O_p(1/n)
            with h1(x) = E_{x'~q} k0(x, x'), so Var U ~ 4 Var h1(X) / n (Hoeffding 1948;
            Liu, Lee & Jordan 2016, Thm 4.1 for the KSD). It is meaningful for q != p only: under
            q = p, h1 = 0 and the statistic is degenerate (null40 values are small and not a
            calibrated scale). With weights it is 2 x the standard error that Estimate reports
            for the self-normalised weighted mean of h1 (the Kish-style formula above).

  statistic T = scale (sum_{i,j} H_ij - remove), (scale, remove) = (1/n, 0) for V and
            (1/(n-1), trace H) for U, i.e. n V and n U (src/stein/bootstrap.rs, KsdTest::run,
            `let (scale, remove) = match estimator` and `let statistic = ...`).
  replicate T*_b = scale (W_b^T H W_b - remove) for the committed W (bootstrap.rs,
            replicate_statistics, `*slot = scale * (quad[b] - remove)`); for U this is
            scale sum_{i!=j} W_bi W_bj H_ij because W_bi^2 = 1.
  exceed    #{b : T*_b >= T}.
  p_value   (1 + exceed) / (1 + B)          (bootstrap.rs `let p_value = ...`).
  critical_value  sorted(T*)[clamp(ceil((1 - alpha) B), 1, B) - 1], alpha = 0.05, i.e. the
            ceil(0.95 * 50) = 48-th smallest replicate (bootstrap.rs `let q = ...` and
            `let critical_value = sorted[q.clamp(1, self.replicates) - 1]`).
  reject    1.0 if p_value <= alpha else 0.0.
  replicate_scale  scale * sum_{i,j} |H_ij|: the size of the terms a replicate sums, an
            absolute tolerance scale for comparing T*_b, T and critical_value (they cancel).
  n         40;  replicates  B = 50;  level  alpha = 0.05.

Everything is written independently of the Rust code: the Stein kernels use the general
(non-radial) formulas with explicit gradients and cross-derivative matrices of the base
kernel, over all n x n pairs with numpy einsum (the Rust code contracts a radial profile in
O(d) per pair, in tiles). As a self-check the same code first reproduces the committed
ksd_reference.csv (n = 200) to 1e-13.
"""
import math
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
N, D, B, ALPHA = 40, 3, 50, 0.05

MU = np.array([0.1, -0.2, 0.3])
SIGMA = np.array([[1.2, 0.3, 0.0], [0.3, 0.8, -0.1], [0.0, -0.1, 1.5]])
C = np.array([[0.0, 1.0, -0.5], [0.3, 0.0, 0.2], [-0.4, 0.6, 0.0]])


# ---------------------------------------------------------------- Stein kernels (general)
def score(x):
    return -np.linalg.solve(SIGMA, (x - MU).T).T


def imq(c, beta):
    """(value, grad_x, grad_y, cross) over all pairs: arrays (n,n), (n,n,d), (n,n,d), (n,n,d,d)."""

    def k(x):
        r = x[:, None, :] - x[None, :, :]
        base = c * c + (r * r).sum(-1)
        val = base**beta
        gx = (2 * beta * base ** (beta - 1))[..., None] * r
        eye = np.eye(x.shape[1])
        cross = (-2 * beta * base ** (beta - 1))[..., None, None] * eye - (
            4 * beta * (beta - 1) * base ** (beta - 2)
        )[..., None, None] * np.einsum("ija,ijb->ijab", r, r)
        return val, gx, -gx, cross

    return k


def rbf(h):
    def k(x):
        r = x[:, None, :] - x[None, :, :]
        val = np.exp(-(r * r).sum(-1) / (2 * h * h))
        gx = -val[..., None] * r / h**2
        eye = np.eye(x.shape[1])
        cross = val[..., None, None] * (eye / h**2 - np.einsum("ija,ijb->ijab", r, r) / h**4)
        return val, gx, -gx, cross

    return k


def diffusion(x):
    """m(x)_jk = delta_jk sqrt(1 + x_j^2/5) + 0.1 C_jk (per point) and div m (per point)."""
    n, d = x.shape
    m = np.zeros((n, d, d))
    idx = np.arange(d)
    m[:, idx, idx] = np.sqrt(1.0 + x**2 / 5.0)
    m += 0.1 * C
    div = x / (5.0 * np.sqrt(1.0 + x**2 / 5.0))
    return m, div


def langevin_gram(kernel, x):
    """H_ij = k s_i.s_j + s_i.grad_y k + grad_x k.s_j + tr(d^2 k / dx dy)."""
    s = score(x)
    k, gx, gy, cross = kernel(x)
    return (
        k * (s @ s.T)
        + np.einsum("ia,ija->ij", s, gy)
        + np.einsum("ija,ja->ij", gx, s)
        + np.einsum("ijaa->ij", cross)
    )


def diffusion_gram(kernel, x):
    """H_ij = k b_i.b_j + b_j.m_i^T grad_x k + b_i.m_j^T grad_y k + tr(m_i^T cross m_j)."""
    s = score(x)
    m, div = diffusion(x)
    b = np.einsum("iak,ia->ik", m, s) + div  # b = m^T s + div m
    k, gx, gy, cross = kernel(x)
    return (
        k * (b @ b.T)
        + np.einsum("ja,ica,ijc->ij", b, m, gx)
        + np.einsum("ia,jca,ijc->ij", b, m, gy)
        + np.einsum("iac,ijab,jbc->ij", m, cross, m)
    )


# ---------------------------------------------------------------- estimators
def estimate(h, w):
    """(U, V, std_err) of ksd.rs SteinPoints::estimate for Gram h and sample weights w."""
    n = len(w)
    total, total_sq = w.sum(), (w * w).sum()
    ww = np.outer(w, w)
    off = (ww * h).sum() - (w * w * np.diag(h)).sum()
    diag = (w * w * np.diag(h)).sum()
    u = off / (total * total - total_sq)
    v = (off + diag) / (total * total)
    g = h @ w - w * np.diag(h)  # sum_{j != i} w_j H_ij
    h1 = g / (total - w)
    wt = w / total
    mean = (wt * h1).sum()
    se = math.sqrt((wt * wt * (h1 - mean) ** 2).sum() / (1.0 - (wt * wt).sum()))
    if np.all(w == 1.0):  # the unweighted form: 2 s / sqrt(n)
        alt = 2.0 * np.std(h1, ddof=1) / math.sqrt(n)
        assert abs(2.0 * se - alt) <= 1e-14 * alt, (2.0 * se, alt)
    return u, v, 2.0 * se


def wild_bootstrap(h, est, weights, alpha=ALPHA):
    n = h.shape[0]
    bb = weights.shape[0]
    trace = np.trace(h)
    scale, remove = (1.0 / n, 0.0) if est == "v" else (1.0 / (n - 1.0), trace)
    statistic = scale * (h.sum() - remove)
    reps = scale * (np.einsum("bi,ij,bj->b", weights, h, weights) - remove)
    if est == "u":  # the same, written as the off-diagonal sum
        off = np.array([(np.outer(wb, wb) * h).sum() - (wb * wb * np.diag(h)).sum() for wb in weights])
        assert np.allclose(reps, scale * off, rtol=0, atol=1e-12 * scale * np.abs(h).sum())
    exceed = int((reps >= statistic).sum())
    p_value = (1 + exceed) / (1 + bb)
    q = math.ceil((1.0 - alpha) * bb)
    critical = np.sort(reps)[min(max(q, 1), bb) - 1]
    return dict(
        statistic=statistic,
        exceed=float(exceed),
        p_value=p_value,
        critical_value=critical,
        reject=1.0 if p_value <= alpha else 0.0,
        replicate_scale=scale * np.abs(h).sum(),
        replicates_=reps,
    )


def write_rows(path, rows):
    with open(path, "w") as f:
        for row in rows:
            f.write(",".join(row) + "\n")


# ---------------------------------------------------------------- self-check (n = 200)
x200 = np.loadtxt(HERE / "ksd_data.csv", delimiter=",")
committed = dict(
    (l.split(",")[0], float(l.split(",")[1]))
    for l in open(HERE / "ksd_reference.csv").read().splitlines()[1:]
)
ones200 = np.ones(len(x200))
for name, kern in [("imq_c1_b-0.5", imq(1.0, -0.5)), ("imq_c2_b-0.3", imq(2.0, -0.3)), ("rbf_h1.3", rbf(1.3))]:
    for stein, gram in [("ksd", langevin_gram), ("dksd", diffusion_gram)]:
        if f"{stein}_u_{name}" not in committed:
            continue
        u, v, _ = estimate(gram(kern, x200), ones200)
        for tag, val in [("u", u), ("v", v)]:
            ref = committed[f"{stein}_{tag}_{name}"]
            assert abs(val - ref) <= 1e-13 * abs(ref), (stein, tag, name, val, ref)
print("self-check: reproduces ksd_reference.csv (n = 200) to 1e-13")

# ---------------------------------------------------------------- data and weights
rng = np.random.default_rng(20240917)
x_t40 = x200[:N]
chol = np.linalg.cholesky(SIGMA)
x_null = MU + rng.standard_normal((N, D)) @ chol.T
write_rows(HERE / "ksd_test_null40.csv", [[f"{v:.17g}" for v in row] for row in x_null])
x_null = np.loadtxt(HERE / "ksd_test_null40.csv", delimiter=",")
x_shift = MU + np.array([0.6, -0.6, 0.0]) + rng.standard_normal((N, D)) @ chol.T
write_rows(HERE / "ksd_test_shift40.csv", [[f"{v:.17g}" for v in row] for row in x_shift])
x_shift = np.loadtxt(HERE / "ksd_test_shift40.csv", delimiter=",")

sample_w = np.round(rng.uniform(0.2, 2.0, N), 3)
sample_w[7] = 0.0
write_rows(HERE / "ksd_test_sample_weights.csv", [[repr(float(v))] for v in sample_w])
sample_w = np.loadtxt(HERE / "ksd_test_sample_weights.csv")

boot_w = rng.choice(np.array([-1, 1]), size=(B, N))
write_rows(HERE / "ksd_test_weights.csv", [[str(int(v)) for v in row] for row in boot_w])
boot_w = np.loadtxt(HERE / "ksd_test_weights.csv", delimiter=",").astype(float)
assert boot_w.shape == (B, N) and set(np.unique(boot_w)) == {-1.0, 1.0}

# ---------------------------------------------------------------- reference values
kernels = [("imq_c1_b-0.5", imq(1.0, -0.5)), ("imq_c2_b-0.3", imq(2.0, -0.3)), ("rbf_h1.3", rbf(1.3))]
steins = [("ksd", langevin_gram, kernels), ("dksd", diffusion_gram, kernels[:1])]
datasets = [
    ("t40", x_t40, np.ones(N)),
    ("null40", x_null, np.ones(N)),
    ("shift40", x_shift, np.ones(N)),
    ("t40w", x_t40, sample_w),
]

rows, reps_rows = [], []
min_margin = np.inf
for stein, gram, kerns in steins:
    for kname, kern in kerns:
        for dname, x, w in datasets:
            h = gram(kern, x)
            assert np.abs(h - h.T).max() <= 1e-14 * np.abs(h).max()
            u, v, se = estimate(h, w)
            if dname == "t40w":  # a zero weight drops the point from value and std_err alike
                keep = w > 0
                u2, v2, se2 = estimate(h[np.ix_(keep, keep)], w[keep])
                assert np.allclose([u, v, se], [u2, v2, se2], rtol=1e-13, atol=0)
            for est, value in [("u", u), ("v", v)]:
                case = f"{stein}_{est}_{kname}_{dname}"
                rows += [(f"{case}/value", value), (f"{case}/std_err", se)]
                if dname == "t40w":
                    continue
                boot = wild_bootstrap(h, est, boot_w)
                assert abs(boot["statistic"] - N * value) <= 1e-13 * boot["replicate_scale"]
                # No replicate within 1e-9 (relative to the summed terms) of T, so exceed and
                # p_value are robust to rounding differences between numpy and Rust.
                margin = np.abs(boot["replicates_"] - boot["statistic"]).min() / boot["replicate_scale"]
                assert margin > 1e-9, (case, margin)
                min_margin = min(min_margin, margin)
                # T* >= T iff W^T H W >= 1^T H 1 for U and V alike: the same exceed count.
                if est == "v":
                    assert boot["exceed"] == exceed_u
                exceed_u = boot["exceed"]
                for qty in ["statistic", "exceed", "p_value", "critical_value", "reject", "replicate_scale"]:
                    rows.append((f"{case}/{qty}", boot[qty]))
                reps_rows += [(case, b, t) for b, t in enumerate(boot["replicates_"])]
rows += [("n", float(N)), ("replicates", float(B)), ("level", ALPHA)]

with open(HERE / "ksd_test_reference.csv", "w") as f:
    f.write("name,value\n")
    for name, value in rows:
        f.write(f"{name},{float(value)!r}\n")
with open(HERE / "ksd_test_replicates.csv", "w") as f:
    f.write("case,b,value\n")
    for case, b, t in reps_rows:
        f.write(f"{case},{b},{float(t)!r}\n")
print(open(HERE / "ksd_test_reference.csv").read())
print(f"smallest |T*_b - T| / replicate_scale over all cases: {min_margin:.3g}")

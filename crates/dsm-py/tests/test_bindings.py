"""pytest suite of the Python bindings (run by .ci/run): every function against an
independent numpy computation or the committed reference selections of stein_thinning,
thread-count determinism, and Python exceptions for bad input."""
from pathlib import Path

import numpy as np
import pytest

import diffusion_score_matching as dsm

REFERENCE = Path(__file__).resolve().parents[2] / "dsm-core" / "tests" / "reference" / "stein_thinning"


def gram_imq(x, s, c=1.0):
    """The Langevin Stein Gram matrix with IMQ (c^2 + r^2)^(-1/2), written out in numpy."""
    n, d = x.shape
    r = x[:, None, :] - x[None, :, :]
    u = c * c + (r * r).sum(-1)
    phi = u ** -0.5
    d1 = -0.5 * u ** -1.5
    d2 = 0.75 * u ** -2.5
    dot = s @ s.T
    dr = np.einsum("ija,ija->ij", r, s[None, :, :] - s[:, None, :])
    sq = (r * r).sum(-1)
    return phi * dot + 2 * d1 * dr - 2 * d * d1 - 4 * d2 * sq


@pytest.fixture
def draws():
    x = np.random.default_rng(3).standard_normal((300, 3))
    return x, -x


def test_ksd_matches_numpy(draws):
    x, s = draws
    h = gram_imq(x, s)
    n = len(x)
    v, se_v = dsm.ksd(x, s)
    u, _ = dsm.ksd(x, s, estimator="u")
    assert abs(v - h.sum() / n**2) <= 1e-12 * abs(h).sum() / n**2
    assert abs(u - (h.sum() - np.trace(h)) / (n * (n - 1))) <= 1e-12 * abs(h).sum() / n**2
    assert se_v > 0
    c2, _ = dsm.ksd(x, s, c=2.0)
    h2 = gram_imq(x, s, c=2.0)
    assert abs(c2 - h2.sum() / n**2) <= 1e-12 * abs(h2).sum() / n**2


def test_ksd_test_statistic_decision_and_determinism(draws):
    x, s = draws
    r1 = dsm.ksd_test(x, s, seed=7, replicates=199, threads=1)
    r2 = dsm.ksd_test(x, s, seed=7, replicates=199, threads=2)
    assert (r1.statistic, r1.p_value, r1.critical_value) == (r2.statistic, r2.p_value, r2.critical_value)
    h = gram_imq(x, s)
    assert abs(r1.statistic - h.sum() / len(x)) <= 1e-11 * abs(h).sum() / len(x)
    assert 0 < r1.p_value <= 1 and r1.replicates == 199 and r1.n == 300
    assert "p-value" in repr(r1)
    # Draws from the wrong model are rejected; the Markov-chain weights run on a chain.
    shifted = dsm.ksd_test(x + 1.0, -(x + 1.0), seed=1, replicates=199)  # N(1, I) draws, N(0, I) scores
    assert shifted.reject
    chain = dsm.ksd_test(x, s, seed=1, replicates=99, bootstrap="markov")
    assert 0 < chain.p_value <= 1
    fixed = dsm.ksd_test(x, s, seed=1, replicates=99, bootstrap="markov", flip_probability=0.2)
    assert 0 < fixed.p_value <= 1


def reference_cases():
    rows = (REFERENCE / "stein_thinning_reference.csv").read_text().splitlines()[1:]
    return [row.split(",") for row in rows]


@pytest.mark.parametrize("case,indices", reference_cases())
def test_stein_thin_matches_the_reference_package(case, indices):
    name, pre, standardize, m = case.split("/")
    if name == "toy10":
        x = np.loadtxt(REFERENCE / "toy10.csv", delimiter=",")
        s = -x
    elif name == "X1009":
        x = np.loadtxt(REFERENCE / "X1009.csv", delimiter=",")
        s = -x
    else:
        x = np.loadtxt(REFERENCE / "demo_smp.csv", delimiter=",")
        s = np.loadtxt(REFERENCE / "demo_scr.csv", delimiter=",")
    want = [int(v) for v in indices.split(";")]
    for threads in (1, 2):
        got = dsm.stein_thin(x, s, int(m), standardize=standardize == "1", preconditioner=pre, threads=threads)
        assert got.tolist() == want


def test_layouts_are_converted_not_misread(draws):
    x, s = draws
    fortran = np.asfortranarray(x), np.asfortranarray(s)
    assert dsm.ksd(*fortran) == dsm.ksd(x, s)
    strided = np.repeat(x, 2, axis=0)[::2], np.repeat(s, 2, axis=0)[::2]
    assert dsm.ksd(*strided) == dsm.ksd(x, s)


def test_bad_input_raises(draws):
    x, s = draws
    with pytest.raises(ValueError, match="shape"):
        dsm.ksd(x, s[:, :2])
    bad = s.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="not finite at sample 5"):
        dsm.ksd(x, bad)
    with pytest.raises(TypeError):
        dsm.ksd(x.astype(np.int64), s)
    with pytest.raises(ValueError):
        dsm.stein_thin(x, s, 0)
    with pytest.raises(ValueError, match="preconditioner"):
        dsm.stein_thin(x, s, 5, preconditioner="bayesian")
    with pytest.raises(ValueError, match="estimator"):
        dsm.ksd(x, s, estimator="w")
    with pytest.raises(ValueError):
        dsm.ksd_test(x, s, replicates=0)
    with pytest.raises(ValueError):
        dsm.ksd(x, s, beta=0.5)


def test_dksd_tilted_matches_numpy_in_one_dimension():
    # k⁰ = b_x b_y k + b_y m_x ∂ₓk + b_x m_y ∂_y k + m_x m_y ∂ₓ∂_y k with m = (1 + (x − c)²)^{γ/2},
    # b = m s + m′, k = (1 + r²)^{-1/2}, r = x − y (docs/math.md section 7.2 and eq. 14.6).
    x = np.random.default_rng(5).standard_t(4, size=(200, 1))
    s = -x
    gamma, centre = 1.0, 0.3
    f = 1 + (x[:, 0] - centre) ** 2
    m = f ** (gamma / 2)
    dm = gamma * f ** (gamma / 2 - 1) * (x[:, 0] - centre)
    b = m * s[:, 0] + dm
    r = x[:, 0][:, None] - x[:, 0][None, :]
    q = 1 + r * r
    k = q ** -0.5
    kx = -r * q ** -1.5
    ky = r * q ** -1.5
    kxy = q ** -1.5 - 3 * r * r * q ** -2.5
    h = (b[:, None] * b[None, :] * k + b[None, :] * m[:, None] * kx
         + b[:, None] * m[None, :] * ky + m[:, None] * m[None, :] * kxy)
    v, _ = dsm.dksd_tilted(x, s, gamma=gamma, centre=[centre])
    assert abs(v - h.mean()) <= 1e-12 * abs(h).mean()
    with pytest.raises(ValueError):
        dsm.dksd_tilted(x, s, gamma=float("nan"))


def test_linear_test_is_reproducible_and_rejects_a_wrong_model():
    x = np.random.default_rng(6).standard_normal((4000, 2))
    a = dsm.linear_ksd_test(x, -x, seed=3, threads=1)
    b = dsm.linear_ksd_test(x, -x, seed=3, threads=2)
    assert tuple(a) == tuple(b) and 0 < a.p_value <= 1
    assert dsm.linear_ksd_test(x + 0.5, -(x + 0.5), seed=3).reject
    with pytest.raises(ValueError, match="too few samples"):
        dsm.linear_ksd_test(x[:15], -x[:15], offsets=10)

"""Adversarial inputs through every public function of the bindings: each call must return
finite numbers or raise an ordinary Python exception (ValueError, TypeError, OverflowError,
IndexError) with a message, never a Rust panic (pyo3's PanicException, a BaseException),
an abort, or a silent NaN. The panics are counted over every case and must stay 0."""
import itertools

import numpy as np
import pytest

import diffusion_score_matching as dsm

WILD = [np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, 1e-300, 1e300, -1e300, 1.7976931348623157e308, 1.0, -3.5]
SIZES = [0, 1, 2, 255, 2**40, 2**62]


def wild_arrays(d=2):
    """Draw-like arrays: empty, one row, ordinary with one wild entry, all huge, wrong width."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((40, d))
    yield np.zeros((0, d))
    yield base[:1].copy()
    for v in (np.nan, np.inf, 1e300, 5e-324):
        a = base.copy()
        a[7, d - 1] = v
        yield a
    yield np.full((40, d), 1e300)
    yield np.zeros((40, d))  # all draws identical
    yield base[:, :1].copy()  # another dimension


class Outcomes:
    def __init__(self):
        self.panics, self.calls, self.errors, self.nan = [], 0, 0, []

    def call(self, what, f, *args, **kwargs):
        self.calls += 1
        try:
            out = f(*args, **kwargs)
        except Exception as e:  # an ordinary, catchable error with a message
            assert str(e), f"{what}: an error without a message ({type(e).__name__})"
            self.errors += 1
            return None
        except BaseException as e:  # PanicException and friends
            self.panics.append(f"{what}: {type(e).__name__}: {e}")
            return None
        for v in numbers(out):
            # A log density may round to −∞ where the density underflows; nothing else.
            if not np.isfinite(v) and not (what == "log_density" and v == -np.inf):
                self.nan.append(f"{what}: returned {v}")
                break
        return out


def numbers(out):
    """The floats inside a result (arrays, tuples, Estimates, result objects)."""
    if out is None or isinstance(out, (bool, str)):
        return []
    if isinstance(out, (int, float, np.floating, np.integer)):
        return [float(out)]
    if isinstance(out, np.ndarray):
        return out.astype(float).ravel().tolist()
    if isinstance(out, dsm.Estimate):
        # A single sample has an undefined standard error, reported as +inf.
        return [out.value] + ([] if out.n < 2 else [out.std_err])
    if isinstance(out, (tuple, list)):
        return [v for o in out for v in numbers(o)]
    if isinstance(out, dsm.KsdTestResult):
        return [out.statistic, out.p_value, out.critical_value]
    if isinstance(out, dsm.AggregatedTestResult):
        return [out.u_alpha] + [c[1] for c in out.candidates]
    if isinstance(out, dsm.FitResult):
        return list(out.theta)
    return []


@pytest.fixture(scope="module")
def outcomes():
    o = Outcomes()
    yield o
    assert not o.panics, "\n".join(o.panics[:20])
    assert not o.nan, "\n".join(o.nan[:20])


def test_discrepancies_and_tests_at_wild_input(outcomes):
    o = outcomes
    p = dsm.Gaussian([0.0, 0.0], np.eye(2))
    diffusions = [None, dsm.TiltedDiffusion(1.0), dsm.ConstantDiffusion(np.eye(2) * 2), dsm.GaussianFlow(0, 1, 3, dim=2)]
    for x in wild_arrays():
        s = -x
        o.call("ksd", dsm.ksd, x, s)
        o.call("ksd model", dsm.ksd, x, model=p)
        o.call("ksd u", dsm.ksd, x, s, estimator="u")
        for m in diffusions:
            o.call("dksd", dsm.dksd, x, s, diffusion=m)
            o.call("dksd rbf", dsm.dksd, x, s, diffusion=m, kernel="rbf")
        o.call("ksd_test", dsm.ksd_test, x, s, replicates=19)
        o.call("ksd_test markov", dsm.ksd_test, x, s, replicates=19, bootstrap="markov")
        o.call("ksd_test parametric", dsm.ksd_test, x, model=p, replicates=9, bootstrap="parametric")
        o.call("linear_ksd_test", dsm.linear_ksd_test, x, s, replicates=19, offsets=3)
        o.call("aggregated_ksd_test", dsm.aggregated_ksd_test, x, s, quantile_replicates=19, level_replicates=19)
        o.call("stein_thin", dsm.stein_thin, x, s, 5)
        o.call("stein_thin med", dsm.stein_thin, x, s, 5, preconditioner="med")
        o.call("stein_weights", dsm.stein_weights, x, s)
        o.call("stein_thin_regularized", dsm.stein_thin_regularized, x, s, 5, model=p)
        o.call("cumulative_ksd", dsm.cumulative_ksd, x, s, [1, 2, 40])
        o.call("diagnose_chains", dsm.diagnose_chains, [(x, s), (x, s)], replicates=9)
    x = np.random.default_rng(1).standard_normal((30, 2))
    for v in WILD:
        o.call("ksd c", dsm.ksd, x, -x, c=v)
        o.call("ksd beta", dsm.ksd, x, -x, beta=v)
        o.call("ksd_test level", dsm.ksd_test, x, -x, level=v, replicates=9)
        o.call("ksd_test flip", dsm.ksd_test, x, -x, bootstrap="markov", flip_probability=v, replicates=9)
        o.call("SteinKernel bandwidth", dsm.SteinKernel, "rbf", bandwidth=v)
        o.call("TiltedDiffusion", dsm.TiltedDiffusion, v)
        o.call("dksd centre", lambda: dsm.dksd(x, -x, diffusion=dsm.TiltedDiffusion(1.0, [v, 0.0])))
        o.call("stein_thin scale", dsm.stein_thin, x, -x, 3, preconditioner=v)
        o.call("ConstantDiffusion", dsm.ConstantDiffusion, np.full((2, 2), v))
    for n in SIZES:
        o.call("ksd_test replicates", dsm.ksd_test, x, -x, replicates=n)
        o.call("linear offsets", dsm.linear_ksd_test, x, -x, offsets=n, replicates=9)
        o.call("stein_thin m", dsm.stein_thin, x, -x, min(n, 2**40))
        o.call("aggregated replicates", dsm.aggregated_ksd_test, x, -x, quantile_replicates=min(n, 50), level_replicates=9)
    for bad in (x.astype(np.float32), x.astype(int), x.ravel(), x[None], "text", None):
        o.call("ksd dtype/shape", dsm.ksd, bad, -x)
    o.call("ksd mismatched", dsm.ksd, x, -x[:-1])
    o.call("bootstrap name", dsm.ksd_test, x, -x, bootstrap="gaussian")
    assert o.calls > 300 and o.errors > 50


def test_models_losses_partials_flows_and_fit_at_wild_input(outcomes):
    o = outcomes
    for a, b, c in itertools.product([0.0, np.nan, 1e300], [1.0, 0.0, -1.0, np.inf], [3.0, 5e-324, np.inf]):
        for ctor in (dsm.StudentT, dsm.GaussianFlow, dsm.ManualFlow):
            o.call(ctor.__name__, ctor, a, b, c)
        o.call("Gamma", dsm.Gamma, b, c)
        o.call("SinhArcsinh", dsm.SinhArcsinh, a, b)
        o.call("Radial", dsm.Radial, [a, 0.0], b, c)
        o.call("Planar", dsm.Planar, [a, 1.0], [b, 0.0], c)
        o.call("Gaussian", dsm.Gaussian, [a, 0.0], np.array([[b, 0.0], [0.0, c]]))
        o.call("MultivariateStudentT", dsm.MultivariateStudentT, [a, 0.0], np.eye(2), c)
        o.call("GaussBernoulliRbm", dsm.GaussBernoulliRbm, np.full((2, 1), a), [b, 0.0], [c])
        o.call("Affine", dsm.Affine, np.array([[b, a], [0.0, c]]), [0.0, 0.0])
        o.call("AffineCoupling.seeded", dsm.AffineCoupling.seeded, 2, 3, True, a, 1)
        o.call("AffineCoupling", dsm.AffineCoupling, 2, 1, True, np.array([[a]]), [b], np.array([[c]]), [0.0], np.array([[1.0]]), [0.0])
    models = [dsm.Gaussian([0.0, 1.0], np.eye(2)), dsm.MultivariateStudentT([0.0, 0.0], np.eye(2), 3.0),
              dsm.GaussBernoulliRbm(np.ones((2, 1)), [0.0, 0.0], [0.5])]
    flows = [dsm.GaussianFlow(0.0, 1.0, 2.0, dim=2), dsm.SinhArcsinh(0.3, 0.5, dim=2), dsm.Planar([0.5, 0.1], [1.0, 0.0], 0.0),
             dsm.Radial([0.0, 0.0], 1.0, 0.5), dsm.Affine(np.array([[1e-150, 0.0], [0.0, 1e150]]), [0.0, 0.0])]
    flows.append(dsm.AffineCoupling.seeded(2, 4, True, 3.0, 2))
    flows.append(dsm.chain(flows[:4]))
    for x in wild_arrays():
        for p in models:
            o.call("score", p.score, x)
            o.call("laplacian", p.laplacian, x)
            o.call("log_density", p.log_density, x)
            o.call("sm loss", dsm.score_matching_loss, x, model=p)
            o.call("dsm loss", dsm.dsm_loss, x, model=p, diffusion=dsm.TiltedDiffusion(1.0))
            o.call("dsm loss flow", dsm.dsm_loss, x, model=p, diffusion=flows[0])
            o.call("sm partial", dsm.score_matching_partial, x, model=p, first=256)
        n, d = x.shape
        o.call("sm arrays", dsm.score_matching_loss, x, scores=x, laplacians=x[:, 0] if d else np.zeros(n))
        o.call("dsm arrays", dsm.dsm_loss, x, scores=x, hessians=np.zeros((n, d, d)),
               diffusions=np.broadcast_to(np.eye(d), (n, d, d)) * (x[:, :1, None] if d else 1), divergences=x)
        for f in flows:
            o.call("forward", f.forward, x)
            o.call("inverse", f.inverse, x)
            o.call("jacobian", f.jacobian, x)
            o.call("log_abs_det_jacobian", f.log_abs_det_jacobian, x)
        for fam, kw in [("gaussian", {}), ("student_t", {"df": 3.0}), ("gaussian_mean", {"covariance": np.eye(2)}),
                        ("multivariate_student_t", {"df": 3.0, "scale": np.eye(2)})]:
            xf = x[:, :1] if fam == "student_t" else x
            o.call("fit " + fam, dsm.fit, xf, fam, **kw)
            o.call("fit ksd " + fam, dsm.fit, xf, fam, method="ksd", **kw)
    for n in SIZES:
        # Draws that fit the address space but not the machine are left out: as with
        # numpy.empty, such an allocation can be granted and then killed, not refused.
        if n < 2**20 or n > 2**60:
            o.call("sample", models[0].sample, n)
        o.call("sm partial first", dsm.score_matching_partial, np.zeros((3, 2)), model=models[0], first=n)
    for v in WILD:
        o.call("from_values", dsm.PartialEstimate.from_values, np.array([1.0, v, 2.0]))
        o.call("from_values weights", dsm.PartialEstimate.from_values, np.ones(3), weights=np.array([1.0, v, 1.0]))
        o.call("from_chunks", dsm.PartialEstimate.from_chunks, 0, np.array([[256, 256, 256, v, 0, 0], [3, 3, 3, 0, 0, 0]]))
        o.call("from_chunks count", dsm.PartialEstimate.from_chunks, 0, np.array([[v, 1, 1, 1, 0, 0]]))
        o.call("cumulative wild checkpoints", dsm.cumulative_ksd, np.zeros((5, 2)) + 0.1, np.zeros((5, 2)), [1, int(abs(v)) if np.isfinite(v) and abs(v) < 2**62 else 2**62])
        o.call("regularized lam", dsm.stein_thin_regularized, np.eye(3)[:, :2], -np.eye(3)[:, :2], 2, log_density=np.zeros(3), laplacian=np.zeros(3), lam=v)
        o.call("fit start", dsm.fit, np.random.default_rng(2).standard_normal((50, 1)), "student_t", df=3.0, start=[v, 0.0])
    o.call("merge empty", dsm.PartialEstimate.merge, [])
    o.call("chain empty", dsm.chain, [])
    o.call("chain mismatched", dsm.chain, [flows[0], dsm.GaussianFlow(dim=3)])
    o.call("unknown family", dsm.fit, np.zeros((5, 1)), "weibull")

"""pytest suite, second part: built-in models, the DKSD with every diffusion, the parametric
and aggregated tests, Stein weights, the SM/DSM losses from models and from arrays, partial
states merged across 8 worker processes bit for bit, flows and fitting. Each value is
checked against an independent numpy computation, a closed form or an identity."""
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

import diffusion_score_matching as dsm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

MEAN = np.array([0.5, -1.0, 2.0])
COV = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.7]])


def gaussian():
    return dsm.Gaussian(list(MEAN), COV)


def dksd_1d(x, s, m, dm, c=1.0):
    """The 1-D diffusion Stein Gram matrix for the IMQ kernel (c² + r²)^(-1/2):
    k⁰ = b_x b_y k + b_y m_x ∂ₓk + b_x m_y ∂_y k + m_x m_y ∂ₓ∂_y k, b = m s + m′."""
    b = m * s + dm
    r = x[:, None] - x[None, :]
    q = c * c + r * r
    k = q ** -0.5
    kx = -r * q ** -1.5
    kxy = q ** -1.5 - 3 * r * r * q ** -2.5
    return (b[:, None] * b[None, :] * k + b[None, :] * m[:, None] * kx
            - b[:, None] * m[None, :] * kx + m[:, None] * m[None, :] * kxy)


# ---------------------------------------------------------------- models

def test_model_scores_laplacians_and_log_densities_match_closed_forms():
    p = gaussian()
    x = np.random.default_rng(1).standard_normal((50, 3))
    prec = np.linalg.inv(COV)
    np.testing.assert_allclose(p.score(x), -(x - MEAN) @ prec, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(p.laplacian(x), -np.trace(prec) * np.ones(50), rtol=1e-12)
    quad = np.einsum("ij,jk,ik->i", x - MEAN, prec, x - MEAN)
    lp = p.log_density(x)
    np.testing.assert_allclose(lp - lp[0], -0.5 * (quad - quad[0]), rtol=1e-10, atol=1e-10)
    # Student-t: s = −(ν + 1)(x − μ)/(νσ² + (x − μ)²), far into the tails too.
    t = dsm.StudentT(1.0, 2.0, 3.0)
    xt = np.array([[-1e8], [-3.0], [0.0], [1.0], [7.5], [1e12]])
    z = xt - 1.0
    np.testing.assert_allclose(t.score(xt), -4.0 * z / (3.0 * 4.0 + z * z), rtol=1e-13)
    # Gamma(k, θ): s = (k − 1)/x − 1/θ.
    g = dsm.Gamma(5.0, 2.0)
    xg = np.array([[1e-6], [0.5], [3.0], [40.0]])
    np.testing.assert_allclose(g.score(xg), 4.0 / xg - 0.5, rtol=1e-13)
    assert p.dim == 3 and "Gaussian" in repr(p)
    # Sampling is reproducible and independent of the thread count.
    a, b = p.sample(1000, seed=4, threads=1), p.sample(1000, seed=4, threads=2)
    assert np.array_equal(a, b)
    assert np.all(np.abs(a.mean(0) - MEAN) < 4 * np.sqrt(np.diag(COV) / 1000))
    with pytest.raises(ValueError, match="covariance"):
        dsm.Gaussian([0.0, 0.0], np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="dof"):
        dsm.StudentT(0.0, 1.0, -1.0)
    with pytest.raises(ValueError, match="dimension"):
        p.score(np.zeros((4, 2)))


def test_rbm_score_matches_its_closed_form():
    rng = np.random.default_rng(2)
    B = rng.standard_normal((4, 2))
    b, c = rng.standard_normal(4), rng.standard_normal(2)
    rbm = dsm.GaussBernoulliRbm(B, list(b), list(c))
    x = rng.standard_normal((20, 4))
    y = 0.5 * x @ B + c
    np.testing.assert_allclose(rbm.score(x), b - x + 0.5 * np.tanh(y) @ B.T, rtol=1e-12, atol=1e-13)


# ---------------------------------------------------------------- discrepancies

def test_ksd_from_a_model_equals_ksd_from_its_scores():
    p = gaussian()
    x = p.sample(400, seed=9)
    assert tuple(dsm.ksd(x, model=p)) == tuple(dsm.ksd(x, p.score(x)))
    e = dsm.ksd(x, model=p)
    assert e.n == 400 and float(e) == e.value and "±" in repr(e)
    with pytest.raises(ValueError, match="exactly one"):
        dsm.ksd(x, p.score(x), model=p)
    with pytest.raises(ValueError, match="exactly one"):
        dsm.ksd(x)


def test_dksd_constant_diffusion_is_a_rescaled_ksd():
    # m = aI: k⁰ on x with IMQ c equals a^{2β} × the Langevin k⁰ on z = x/a, scores a·s, IMQ c/a.
    rng = np.random.default_rng(6)
    x = rng.standard_normal((300, 2))
    s = -x
    a, beta = 1.7, -0.5
    d = dsm.dksd(x, s, diffusion=dsm.ConstantDiffusion(a * np.eye(2)))
    k = dsm.ksd(x / a, a * s, c=1.0 / a)
    assert abs(d.value - a ** (2 * beta) * k.value) <= 1e-12 * abs(d.value)


def test_dksd_affine_flow_equals_its_constant_diffusion():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((250, 2))
    A = np.array([[1.5, 0.4], [-0.2, 0.8]])
    flow = dsm.Affine(A, [0.3, -1.0])
    via_flow = dsm.dksd(x, -x, diffusion=flow)
    via_matrix = dsm.dksd(x, -x, diffusion=dsm.ConstantDiffusion(np.linalg.inv(A)))
    assert abs(via_flow.value - via_matrix.value) <= 1e-11 * abs(via_matrix.value)


def test_dksd_gaussian_flow_matches_the_one_dimensional_formula():
    # m = 1/T′ for T = Φ⁻¹∘F of St(0, 1, ν); m′ = −z − m s_t with s_t = −(ν + 1)x/(ν + x²).
    nu = 3.0
    rng = np.random.default_rng(8)
    x = rng.standard_t(nu, size=(300, 1))
    s = -(nu + 1) * x / (nu + x * x)
    flow = dsm.GaussianFlow(0.0, 1.0, nu)
    z, _ = flow.forward(x)
    m = 1.0 / flow.jacobian(x)[:, 0, 0]
    dm = -z[:, 0] - m * s[:, 0]
    h = dksd_1d(x[:, 0], s[:, 0], m, dm)
    v = dsm.dksd(x, s, diffusion=flow)
    assert abs(v.value - h.mean()) <= 1e-11 * abs(h).mean()
    # The tilted diffusion through dksd equals dksd_tilted.
    t = dsm.dksd(x, s, diffusion=dsm.TiltedDiffusion(0.5, [0.2]))
    assert t.value == dsm.dksd_tilted(x, s, gamma=0.5, centre=[0.2]).value


def test_rbf_stein_kernel_matches_numpy():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((200, 2))
    s = -x
    h_bw = 1.3
    r = x[:, None, :] - x[None, :, :]
    sq = (r * r).sum(-1)
    k = np.exp(-sq / (2 * h_bw ** 2))
    # Langevin k⁰ = sₓ·s_y k + sₓ·∇_y k + s_y·∇ₓk + tr ∇ₓ∇_y k for the RBF.
    gx = -r / h_bw ** 2 * k[..., None]
    h = ((s @ s.T) * k + np.einsum("ia,ija->ij", s, -gx) + np.einsum("ja,ija->ij", s, gx)
         + k * (2 / h_bw ** 2 - sq / h_bw ** 4))
    v = dsm.ksd(x, s, stein=dsm.SteinKernel("rbf", bandwidth=h_bw))
    assert abs(v.value - h.mean()) <= 1e-12 * abs(h).mean()


# ---------------------------------------------------------------- tests

def test_parametric_and_aggregated_tests():
    p = gaussian()
    x = p.sample(200, seed=11)
    r1 = dsm.ksd_test(x, model=p, bootstrap="parametric", replicates=99, seed=3, threads=1)
    r2 = dsm.ksd_test(x, model=p, bootstrap="parametric", replicates=99, seed=3, threads=2)
    assert (r1.statistic, r1.p_value) == (r2.statistic, r2.p_value)
    assert r1.statistic == dsm.ksd(x, model=p).value * 200
    shifted = dsm.ksd_test(x + 1.0, model=p, bootstrap="parametric", replicates=99, seed=3)
    assert shifted.reject
    with pytest.raises(ValueError, match="model"):
        dsm.ksd_test(x, p.score(x), bootstrap="parametric")
    a1 = dsm.aggregated_ksd_test(x, model=p, seed=2, quantile_replicates=200, level_replicates=200, threads=1)
    a2 = dsm.aggregated_ksd_test(x, model=p, seed=2, quantile_replicates=200, level_replicates=200, threads=2)
    assert a1.u_alpha == a2.u_alpha and len(a1.candidates) == 5 and a1.u_alpha >= 0.05 / 5
    wrong = dsm.aggregated_ksd_test(x + 1.0, model=p, seed=2, quantile_replicates=200, level_replicates=200)
    assert wrong.reject and "IMQ" in repr(wrong)
    kernels = [dsm.SteinKernel(c=0.5), dsm.SteinKernel(diffusion=dsm.TiltedDiffusion(1.0), label="tilted")]
    mixed = dsm.aggregated_ksd_test(x, model=p, kernels=kernels, quantile_replicates=100, level_replicates=100)
    assert [c[0] for c in mixed.candidates] == ["IMQ c=0.5 beta=-0.5", "tilted"]
    # The statistic of a diffusion test equals n × dksd.
    t = dsm.ksd_test(x, model=p, stein=dsm.SteinKernel(diffusion=dsm.TiltedDiffusion(1.0, [0, 0, 0])), replicates=19)
    assert abs(t.statistic - 200 * dsm.dksd(x, model=p, diffusion=dsm.TiltedDiffusion(1.0, [0, 0, 0])).value) <= 1e-12 * abs(t.statistic)


def test_stein_weights_minimise_the_weighted_ksd():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((150, 2)) * 1.5 + 0.5
    s = -x
    w, weighted, uniform = dsm.stein_weights(x, s)
    assert np.all(w >= 0) and abs(w.sum() - 1) < 1e-12
    from test_bindings import gram_imq
    h = gram_imq(x, s)
    assert abs(weighted - w @ h @ w) <= 1e-9 * abs(h).mean()
    assert abs(uniform - h.mean()) <= 1e-12 * abs(h).mean()
    assert weighted < uniform
    # KKT: (Hw)_i >= wᵀHw everywhere, up to the solver's jitter.
    assert np.all(h @ w >= weighted - 1e-7 * abs(h).max())
    idx = dsm.stein_thin(x, s, 10, stein=dsm.SteinKernel(diffusion=dsm.ConstantDiffusion(np.eye(2))))
    assert len(idx) == 10 and idx.max() < 150


# ---------------------------------------------------------------- losses

def test_sm_and_dsm_losses_from_models_and_arrays():
    p = gaussian()
    x = p.sample(2000, seed=13)
    prec = np.linalg.inv(COV)
    s = -(x - MEAN) @ prec
    h = (s * s).sum(1) - 2 * np.trace(prec)
    e = dsm.score_matching_loss(x, model=p)
    assert abs(e.value - h.mean()) <= 1e-12 * abs(h).mean()
    assert abs(e.std_err - h.std(ddof=1) / np.sqrt(len(h))) <= 1e-10 * e.std_err
    # E_p[h_SM] = −E‖s‖² = −tr P for p = q.
    assert abs(e.value + np.trace(prec)) < 4 * e.std_err
    lap = np.full(len(x), -np.trace(prec))
    given = dsm.score_matching_loss(x, scores=s, laplacians=lap)
    assert abs(given.value - e.value) <= 1e-12 * abs(e.value)
    # DSM with m = I is SM; from arrays with m = I too.
    assert abs(dsm.dsm_loss(x, model=p).value - e.value) <= 1e-14 * abs(e.value)
    eye = np.broadcast_to(np.eye(3), (len(x), 3, 3))
    hess = np.broadcast_to(-prec, (len(x), 3, 3))
    arrays = dsm.dsm_loss(x, scores=s, hessians=hess, diffusions=eye, divergences=np.zeros_like(x))
    assert abs(arrays.value - e.value) <= 1e-12 * abs(e.value)
    # A constant m: h = sᵀAs + 2 tr(A H), A = m mᵀ.
    m = np.array([[1.0, 0.5, 0.0], [0.0, 2.0, 0.0], [0.3, 0.0, 0.7]])
    A = m @ m.T
    h_m = np.einsum("ij,jk,ik->i", s, A, s) + 2 * np.trace(A @ -prec)
    c = dsm.dsm_loss(x, model=p, diffusion=dsm.ConstantDiffusion(m))
    assert abs(c.value - h_m.mean()) <= 1e-12 * abs(h_m).mean()
    ca = dsm.dsm_loss(x, scores=s, hessians=hess, diffusions=np.broadcast_to(m, (len(x), 3, 3)),
                      divergences=np.zeros_like(x))
    assert abs(ca.value - h_m.mean()) <= 1e-12 * abs(h_m).mean()
    # Errors name what is wrong.
    bad = lap.copy()
    bad[17] = np.nan
    with pytest.raises(ValueError, match="17"):
        dsm.score_matching_loss(x, scores=s, laplacians=bad)
    with pytest.raises(ValueError, match="laplacians"):
        dsm.score_matching_loss(x, scores=s, laplacians=lap[:-1])
    with pytest.raises(ValueError, match="either"):
        dsm.score_matching_loss(x, model=p, scores=s, laplacians=lap)
    with pytest.raises(ValueError, match="hessians"):
        dsm.dsm_loss(x, scores=s, hessians=hess[:, :2], diffusions=eye, divergences=np.zeros_like(x))


def test_partial_states_merge_over_eight_processes_bit_for_bit():
    # The docs example: 8 shards on a process pool, merged, equal to one process bit for bit.
    import sharded_sm_loss
    whole, merged, parts = sharded_sm_loss.main(n=10_000, processes=4)
    assert (merged.value, merged.std_err, merged.n) == (whole.value, whole.std_err, whole.n)
    p = gaussian()
    x = p.sample(10_000, seed=14)
    bounds = sharded_sm_loss.shard_bounds(10_000, 8)
    # Estimates pickle too (what a worker sends back).
    assert pickle.loads(pickle.dumps(merged)) == merged
    # Pickle round trip, and the chunk array round trip.
    again = pickle.loads(pickle.dumps(parts[3]))
    assert np.array_equal(again.chunks, parts[3].chunks) and again.first == parts[3].first
    # Weighted, through PartialEstimate.from_values on an integrand of your own.
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(x))
    vals = (x ** 2).sum(1)
    whole_w = dsm.PartialEstimate.from_values(vals, weights=w).finish()
    parts_w = [dsm.PartialEstimate.from_values(vals[a:b], first=a, weights=w[a:b])
               for a, b in zip(bounds[:-1], bounds[1:])]
    merged_w = dsm.PartialEstimate.merge(parts_w).finish()
    assert (merged_w.value, merged_w.std_err) == (whole_w.value, whole_w.std_err)
    with pytest.raises(ValueError, match="multiple of the chunk size"):
        dsm.score_matching_partial(x[:100], first=100, model=p)
    with pytest.raises(ValueError, match="previous part"):
        dsm.PartialEstimate.merge([parts[0], parts[2]])
    with pytest.raises(ValueError, match="centre"):
        dsm.dsm_partial(x[:256], model=p, diffusion=dsm.TiltedDiffusion(1.0))


# ---------------------------------------------------------------- flows

def test_flows_forward_inverse_log_det_and_jacobian():
    rng = np.random.default_rng(15)
    x = rng.standard_normal((40, 2)) * 3
    A = np.array([[1.5, 0.4], [-0.2, 0.8]])
    flows = [
        dsm.GaussianFlow(0.5, 2.0, 3.0, dim=2),
        dsm.ManualFlow(0.0, 1.0, 4.0, dim=2),
        dsm.SinhArcsinh(0.3, 0.7, dim=2),
        dsm.Affine(A, [1.0, -2.0]),
        dsm.Planar([0.5, -0.3], [1.0, 2.0], 0.1),
        dsm.Radial([0.0, 1.0], 1.0, 0.5),
        dsm.AffineCoupling.seeded(2, 4, True, 0.5, 3),
    ]
    flows.append(dsm.chain(flows[:4] + [flows[6], dsm.AffineCoupling.seeded(2, 4, False, 0.5, 4)]))
    for f in flows:
        y, ld = f.forward(x)
        back, ld_inv = f.inverse(y)
        np.testing.assert_allclose(back, x, rtol=1e-9, atol=1e-9, err_msg=repr(f))
        np.testing.assert_allclose(ld_inv, -ld, rtol=1e-9, atol=1e-9)
        jac = f.jacobian(x)
        np.testing.assert_allclose(np.linalg.slogdet(jac)[1], ld, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(f.log_abs_det_jacobian(x), ld, rtol=1e-12, atol=1e-12)
        # Central differences as the oracle of the Jacobian.
        eps = 1e-6
        for k in range(2):
            e = np.zeros(2)
            e[k] = eps
            fd = (f.forward(x + e)[0] - f.forward(x - e)[0]) / (2 * eps)
            np.testing.assert_allclose(jac[:, :, k], fd, rtol=1e-6, atol=1e-6, err_msg=repr(f))
    y, _ = flows[3].forward(x)
    np.testing.assert_allclose(y, x @ A.T + [1.0, -2.0], rtol=1e-14)
    chained = flows[-1].forward(x)[0]
    step = x
    for f in flows[:4] + [flows[6], dsm.AffineCoupling.seeded(2, 4, False, 0.5, 4)]:
        step = f.forward(step)[0]
    np.testing.assert_allclose(chained, step, rtol=1e-13, atol=1e-13)
    assert flows[-1].n_layers == 6 and flows[0].then(flows[3]).n_layers == 2
    # The Gaussian flow maps St(0, 1, ν) to N(0, 1): T(0) = 0, odd, and the t median to 0.
    g = dsm.GaussianFlow(0.0, 1.0, 2.0)
    z, _ = g.forward(np.array([[0.0], [1.5], [-1.5], [1e10]]))
    assert z[0, 0] == 0 and z[1, 0] == -z[2, 0] and np.isfinite(z[3, 0]) and z[3, 0] > 8
    with pytest.raises(ValueError, match="dimension"):
        flows[0].forward(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="Singular|singular"):
        dsm.Affine(np.array([[1.0, 2.0], [2.0, 4.0]]), [0.0, 0.0])
    assert np.array_equal(flows[-1].forward(x, threads=1)[0], flows[-1].forward(x, threads=2)[0])


# ---------------------------------------------------------------- fitting

def test_fit_gaussian_by_sm_is_the_sample_mean_and_inverse_covariance():
    # For the Gaussian family the SM estimator is x̄ and S⁻¹ (S with divisor n).
    p = gaussian()
    x = p.sample(3000, seed=16)
    f = dsm.fit(x, "gaussian")
    xc = x - x.mean(0)
    S = xc.T @ xc / len(x)
    np.testing.assert_allclose(f.parameters["mean"], x.mean(0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(f.parameters["precision"], np.linalg.inv(S), rtol=1e-9)
    assert f.converged and len(f.std_err) == 9 and f.covariance.shape == (9, 9)
    g = dsm.fit(x, "gaussian_mean", covariance=COV)
    # By L-BFGS, which stops once ‖∇L‖ ≤ 1e-6 × its standard error: θ̂ is x̄ to a small
    # fraction of its standard error.
    assert np.all(np.abs(np.array(g.theta) - x.mean(0)) <= 1e-5 * np.array(g.std_err))
    assert "gaussian_mean by sm" in repr(g)


def test_fit_student_t_by_each_method():
    t = dsm.StudentT(1.0, 2.0, 5.0)
    x = t.sample(2000, seed=17)
    for method, kw in [("sm", {}), ("dsm", {"diffusion": dsm.GaussianFlow(0.0, 1.0, 5.0)}), ("ksd", {})]:
        f = dsm.fit(x, "student_t", method=method, df=5.0, **kw)
        assert f.converged, method
        assert abs(f.parameters["location"] - 1.0) < 4 * f.std_err[0], method
        assert abs(np.log(f.parameters["scale"]) - np.log(2.0)) < 4 * f.std_err[1], method
    assert dsm.fit(x, "student_t", threads=1).theta == dsm.fit(x, "student_t", threads=2).theta
    with pytest.raises(ValueError, match="family"):
        dsm.fit(x, "cauchy")
    with pytest.raises(ValueError, match="scale"):
        dsm.fit(np.c_[x, x], "multivariate_student_t", df=3.0)


def test_the_type_stubs_name_exactly_the_module_api():
    import ast
    stub = Path(__file__).resolve().parents[1] / "diffusion_score_matching.pyi"
    tree = ast.parse(stub.read_text())
    stubbed = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    import types
    # (maturin packages the extension with its stub as `diffusion_score_matching/`, whose
    # __init__ re-exports the compiled submodule's names.)
    public = {k for k in dir(dsm) if not k.startswith("_") and not isinstance(getattr(dsm, k), types.ModuleType)}
    assert stubbed == public, (sorted(stubbed - public), sorted(public - stubbed))


def test_coupling_layer_from_weights_is_the_formula():
    rng = np.random.default_rng(20)
    w1, b1 = rng.standard_normal((3, 1)), rng.standard_normal(3)
    ws, bs = rng.standard_normal((1, 3)) * 0.3, rng.standard_normal(1) * 0.3
    wt, bt = rng.standard_normal((1, 3)), rng.standard_normal(1)
    f = dsm.AffineCoupling(2, 3, True, w1, list(b1), ws, list(bs), wt, list(bt))
    x = rng.standard_normal((25, 2))
    h = np.tanh(x[:, :1] @ w1.T + b1)
    s, t = h @ ws.T + bs, h @ wt.T + bt
    y, ld = f.forward(x)
    np.testing.assert_allclose(y[:, 0], x[:, 0], rtol=0, atol=0)
    np.testing.assert_allclose(y[:, 1:], x[:, 1:] * np.exp(s) + t, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(ld, s[:, 0], rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError):
        dsm.AffineCoupling(2, 3, True, w1[:2], list(b1), ws, list(bs), wt, list(bt))


def test_cumulative_ksd_regularised_thinning_and_chain_diagnostics():
    from test_bindings import gram_imq
    rng = np.random.default_rng(21)
    x = rng.standard_normal((300, 2))
    s = -x
    ks = [10, 50, 120, 300]
    h = gram_imq(x, s)
    v = dsm.cumulative_ksd(x, s, ks)
    u = dsm.cumulative_ksd(x, s, ks, estimator="u", threads=1)
    for j, k in enumerate(ks):
        hk = h[:k, :k]
        assert abs(v[j] - hk.mean()) <= 1e-12 * abs(hk).mean()
        assert abs(u[j] - (hk.sum() - np.trace(hk)) / (k * (k - 1))) <= 1e-12 * abs(hk).mean()
    assert np.array_equal(u, dsm.cumulative_ksd(x, s, ks, estimator="u", threads=2))
    with pytest.raises(ValueError, match="checkpoints"):
        dsm.cumulative_ksd(x, s, [50, 10])
    # Regularised thinning with zero terms and λ = 0 is plain thinning; a model's terms equal
    # the arrays they stand for (log p, and the positive part of the Laplacian: 0 here).
    zeros = np.zeros(len(x))
    plain = dsm.stein_thin(x, s, 20)
    assert np.array_equal(dsm.stein_thin_regularized(x, s, 20, log_density=zeros, laplacian=zeros, lam=0.0), plain)
    p = dsm.Gaussian([0.0, 0.0], np.eye(2))
    by_model = dsm.stein_thin_regularized(x, s, 20, model=p)
    by_arrays = dsm.stein_thin_regularized(x, s, 20, log_density=p.log_density(x), laplacian=zeros)
    assert np.array_equal(by_model, by_arrays) and len(by_model) == 20
    with pytest.raises(ValueError, match="either"):
        dsm.stein_thin_regularized(x, s, 20)
    # Chains: two AR(1) chains of N(0, 1) and one shifted by 1.5.
    def ar1(seed, n=600, rho=0.7, shift=0.0):
        e = np.random.default_rng(seed).standard_normal(n)
        z = np.empty(n)
        z[0] = e[0]
        for t in range(1, n):
            z[t] = rho * z[t - 1] + np.sqrt(1 - rho * rho) * e[t]
        return (z + shift)[:, None]
    chains = [ar1(1), ar1(2), ar1(3, shift=1.5)]
    report = dsm.diagnose_chains([(c, -c) for c in chains], seed=4, replicates=199, threads=1)
    again = dsm.diagnose_chains([(c, -c) for c in chains], seed=4, replicates=199, threads=2)
    assert report["chains"] == again["chains"] and report["pooled"] == again["pooled"]
    assert [c["reject"] for c in report["chains"]][2] and report["pooled"]["reject"]
    assert report["chains"][2]["ksd"] > max(report["chains"][0]["ksd"], report["chains"][1]["ksd"])
    assert report["pooled"]["n"] == 1800 and "chain" in report["report"]

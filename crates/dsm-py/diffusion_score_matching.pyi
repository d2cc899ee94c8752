"""Type stubs of the dsm Python bindings (docs/python.md). Arrays are float64 numpy arrays;
`threads=None` uses all cores and never changes a result."""
from typing import Iterator, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
Diffusion = Union[None, "TiltedDiffusion", "ConstantDiffusion", "Flow"]

class Estimate:
    value: float
    std_err: float
    n: int
    def __init__(self, value: float, std_err: float, n: int) -> None: ...
    def __iter__(self) -> Iterator[float]: ...
    def __float__(self) -> float: ...
    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> float: ...

class PartialEstimate:
    first: int
    n: int
    chunks: Array
    @staticmethod
    def from_values(values: Array, first: int = 0, weights: Optional[Array] = None, threads: Optional[int] = None) -> "PartialEstimate": ...
    @staticmethod
    def from_chunks(first: int, chunks: Array) -> "PartialEstimate": ...
    @staticmethod
    def merge(parts: Sequence["PartialEstimate"]) -> "PartialEstimate": ...
    def finish(self) -> Estimate: ...

class KsdTestResult:
    statistic: float
    p_value: float
    critical_value: float
    reject: bool
    level: float
    replicates: int
    n: int
    time: float
    report: str
    def __iter__(self) -> Iterator[Union[float, bool]]: ...

class AggregatedTestResult:
    reject: bool
    level: float
    u_alpha: float
    candidates: list[tuple[str, float, float, bool]]
    n: int
    time: float
    report: str

class FitResult:
    theta: list[float]
    std_err: Optional[list[float]]
    covariance: Optional[Array]
    objective: Estimate
    converged: bool
    iterations: int
    parameters: dict
    family: str
    method: str

class Model:
    dim: int
    def log_density(self, x: Array, threads: Optional[int] = None) -> Array: ...
    def score(self, x: Array, threads: Optional[int] = None) -> Array: ...
    def laplacian(self, x: Array, threads: Optional[int] = None) -> Array: ...
    def sample(self, n: int, seed: int = 0, threads: Optional[int] = None) -> Array: ...

class Gaussian(Model):
    def __init__(self, mean: Sequence[float], cov: Array) -> None: ...

class StudentT(Model):
    def __init__(self, loc: float = 0.0, scale: float = 1.0, df: float = 1.0) -> None: ...

class MultivariateStudentT(Model):
    def __init__(self, loc: Sequence[float], scale: Array, df: float) -> None: ...

class Gamma(Model):
    def __init__(self, shape: float, scale: float = 1.0) -> None: ...

class GaussBernoulliRbm(Model):
    def __init__(self, weights: Array, b: Sequence[float], c: Sequence[float]) -> None: ...

class Flow:
    dim: int
    n_layers: int
    def forward(self, x: Array, threads: Optional[int] = None) -> tuple[Array, Array]: ...
    def inverse(self, y: Array, threads: Optional[int] = None) -> tuple[Array, Array]: ...
    def log_abs_det_jacobian(self, x: Array, threads: Optional[int] = None) -> Array: ...
    def jacobian(self, x: Array, threads: Optional[int] = None) -> Array: ...
    def then(self, other: "Flow") -> "Flow": ...

class GaussianFlow(Flow):
    def __init__(self, loc: float = 0.0, scale: float = 1.0, df: float = 1.0, dim: int = 1) -> None: ...

class ManualFlow(Flow):
    def __init__(self, loc: float = 0.0, scale: float = 1.0, df: float = 1.0, dim: int = 1) -> None: ...

class SinhArcsinh(Flow):
    def __init__(self, skew: float = 0.0, tail: float = 1.0, dim: int = 1) -> None: ...

class Affine(Flow):
    def __init__(self, a: Array, shift: Sequence[float]) -> None: ...

class Planar(Flow):
    def __init__(self, u: Sequence[float], w: Sequence[float], b: float) -> None: ...

class Radial(Flow):
    def __init__(self, centre: Sequence[float], alpha: float, beta: float) -> None: ...

class AffineCoupling(Flow):
    def __init__(self, dim: int, hidden: int, condition_on_first: bool, w1: Array, b1: Sequence[float], ws: Array,
                 bs: Sequence[float], wt: Array, bt: Sequence[float]) -> None: ...
    @staticmethod
    def seeded(dim: int, hidden: int, condition_on_first: bool = True, scale: float = 0.5, seed: int = 0) -> "AffineCoupling": ...

def chain(flows: Sequence[Flow]) -> Flow: ...

class TiltedDiffusion:
    def __init__(self, gamma: float = 1.0, centre: Optional[Sequence[float]] = None) -> None: ...

class ConstantDiffusion:
    def __init__(self, m: Array) -> None: ...

class SteinKernel:
    def __init__(self, kernel: str = "imq", c: float = 1.0, beta: float = -0.5, bandwidth: Optional[float] = None,
                 diffusion: Diffusion = None, estimator: str = "v", label: Optional[str] = None) -> None: ...

def ksd(samples: Array, scores: Optional[Array] = None, *, model: Optional[Model] = None, stein: Optional[SteinKernel] = None,
        c: float = 1.0, beta: float = -0.5, estimator: str = "v", weights: Optional[Array] = None,
        threads: Optional[int] = None) -> Estimate: ...
def dksd(samples: Array, scores: Optional[Array] = None, *, model: Optional[Model] = None, diffusion: Diffusion = None,
         kernel: str = "imq", c: float = 1.0, beta: float = -0.5, bandwidth: Optional[float] = None, estimator: str = "v",
         weights: Optional[Array] = None, threads: Optional[int] = None) -> Estimate: ...
def dksd_tilted(samples: Array, scores: Array, gamma: float = 1.0, centre: Optional[Sequence[float]] = None, c: float = 1.0,
                beta: float = -0.5, estimator: str = "v", threads: Optional[int] = None) -> Estimate: ...
def ksd_test(samples: Array, scores: Optional[Array] = None, *, model: Optional[Model] = None, stein: Optional[SteinKernel] = None,
             seed: int = 0, replicates: int = 1000, level: float = 0.05, bootstrap: str = "rademacher",
             flip_probability: Optional[float] = None, estimator: str = "v", c: float = 1.0, beta: float = -0.5,
             weights: Optional[Array] = None, threads: Optional[int] = None) -> KsdTestResult: ...
def linear_ksd_test(samples: Array, scores: Optional[Array] = None, *, model: Optional[Model] = None,
                    stein: Optional[SteinKernel] = None, seed: int = 0, offsets: int = 10, replicates: int = 1000,
                    level: float = 0.05, c: float = 1.0, beta: float = -0.5, threads: Optional[int] = None) -> KsdTestResult: ...
def aggregated_ksd_test(samples: Array, scores: Optional[Array] = None, *, model: Optional[Model] = None,
                        kernels: Optional[Sequence[SteinKernel]] = None, seed: int = 0, quantile_replicates: int = 500,
                        level_replicates: int = 500, level: float = 0.05, bootstrap: str = "rademacher",
                        flip_probability: Optional[float] = None, threads: Optional[int] = None) -> AggregatedTestResult: ...
def stein_thin(samples: Array, scores: Array, m: int, standardize: bool = True, preconditioner: Union[None, str, float] = None,
               *, stein: Optional[SteinKernel] = None, threads: Optional[int] = None) -> npt.NDArray[np.uint64]: ...
def stein_weights(samples: Array, scores: Array, *, stein: Optional[SteinKernel] = None, c: float = 1.0, beta: float = -0.5,
                  threads: Optional[int] = None) -> tuple[Array, float, float]: ...
def stein_thin_regularized(samples: Array, scores: Array, m: int, *, model: Optional[Model] = None,
                           log_density: Optional[Array] = None, laplacian: Optional[Array] = None, lam: Optional[float] = None,
                           standardize: bool = True, preconditioner: Union[None, str, float] = None,
                           threads: Optional[int] = None) -> npt.NDArray[np.uint64]: ...
def cumulative_ksd(samples: Array, scores: Array, checkpoints: Sequence[int], *, stein: Optional[SteinKernel] = None,
                   c: float = 1.0, beta: float = -0.5, estimator: str = "v", threads: Optional[int] = None) -> Array: ...
def diagnose_chains(chains: Sequence[tuple[Array, Array]], *, stein: Optional[SteinKernel] = None, seed: int = 0,
                    replicates: int = 1000, level: float = 0.05, c: float = 1.0, beta: float = -0.5,
                    threads: Optional[int] = None) -> dict: ...
def score_matching_loss(samples: Array, *, model: Optional[Model] = None, scores: Optional[Array] = None,
                        laplacians: Optional[Array] = None, weights: Optional[Array] = None,
                        threads: Optional[int] = None) -> Estimate: ...
def score_matching_partial(samples: Array, *, first: int = 0, model: Optional[Model] = None, scores: Optional[Array] = None,
                           laplacians: Optional[Array] = None, weights: Optional[Array] = None,
                           threads: Optional[int] = None) -> PartialEstimate: ...
def dsm_loss(samples: Array, *, model: Optional[Model] = None, diffusion: Diffusion = None, scores: Optional[Array] = None,
             hessians: Optional[Array] = None, diffusions: Optional[Array] = None, divergences: Optional[Array] = None,
             weights: Optional[Array] = None, threads: Optional[int] = None) -> Estimate: ...
def dsm_partial(samples: Array, *, first: int = 0, model: Optional[Model] = None, diffusion: Diffusion = None,
                scores: Optional[Array] = None, hessians: Optional[Array] = None, diffusions: Optional[Array] = None,
                divergences: Optional[Array] = None, weights: Optional[Array] = None,
                threads: Optional[int] = None) -> PartialEstimate: ...
def fit(samples: Array, family: str, *, method: str = "sm", df: Optional[float] = None, covariance: Optional[Array] = None,
        scale: Optional[Array] = None, diffusion: Diffusion = None, stein: Optional[SteinKernel] = None,
        start: Optional[Sequence[float]] = None, weights: Optional[Array] = None, threads: Optional[int] = None) -> FitResult: ...

"""The score-matching loss over 8 shards of the samples, each computed in a worker process,
merged into the value the single process gives, bit for bit.

Each shard must start at a multiple of 256 (the engine's chunk size): the shard then holds
exactly the chunks the single process reduces, and merging concatenates their sums in order.
Any engine that can run a function per shard and gather picklable results works the same way
(Dask: `client.map(shard_loss, shards)` then `client.gather`).

Run: python examples/sharded_sm_loss.py
"""
import multiprocessing as mp

import numpy as np

import diffusion_score_matching as dsm

MEAN = [0.5, -1.0, 2.0]
COV = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.7]])


def shard_bounds(n, shards, chunk=256):
    """Shard boundaries at multiples of the chunk size, as even as that allows."""
    chunks = -(-n // chunk)
    cuts = [min(n, round(k * chunks / shards) * chunk) for k in range(shards + 1)]
    cuts[-1] = n
    return cuts


def shard_loss(args):
    """One worker: the partial SM loss of its shard (rebuilding the model from numbers)."""
    first, x = args
    model = dsm.Gaussian(MEAN, COV)
    return dsm.score_matching_partial(x, first=first, model=model, threads=1)


def main(n=100_000, shards=8, processes=4):
    model = dsm.Gaussian(MEAN, COV)
    x = model.sample(n, seed=14)
    whole = dsm.score_matching_loss(x, model=model)
    cuts = shard_bounds(n, shards)
    work = [(a, x[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]
    # "spawn": fresh interpreters (forking a process that already runs Rust threads is unsafe).
    with mp.get_context("spawn").Pool(processes) as pool:
        parts = pool.map(shard_loss, work)
    merged = dsm.PartialEstimate.merge(parts).finish()
    return whole, merged, parts


if __name__ == "__main__":
    whole, merged, parts = main()
    print(f"single process: {whole!r}")
    print(f"8 shards:       {merged!r}")
    print("bit-identical:", merged.value == whole.value and merged.std_err == whole.std_err)

"""Train the prior-fitted curve network of :mod:`syn2real.law.pfn` (needs torch).

Curves come from the designed prior :mod:`syn2real.law.curve_prior` only (never a real
curve); each gives a few query sizes beyond its measurements, the target is the bin of
``log(noise-free error at the query / last measured error)`` and the loss the cross-entropy
of the bar distribution (as in LC-PFN). An MLP of three hidden layers (GELU) on
:func:`syn2real.law.pfn.curve_features`, AdamW with a one-cycle schedule; everything seeded.
The held-out loss on fresh prior curves is saved with the weights.

Usage: python benchmarks/train_curve_pfn.py [--curves 400000] [--epochs 16] [--write]
(about 6 min on 2 cores; --write updates src/syn2real/law/curve_pfn.npz).
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from syn2real.law.curve_prior import sample_curve
from syn2real.law.pfn import BINS, N_FEATURES, WEIGHTS, curve_features
from syn2real.law.predictive import noise_sd

OUT = Path(__file__).resolve().parents[1] / "src" / "syn2real" / "law" / WEIGHTS
QUERIES = 4
HIDDEN = 256


def _chunk(args: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    seed, n = args
    rng = np.random.default_rng(seed)
    F, Y = [], []
    for _ in range(n):
        c = sample_curve(rng, n_queries=QUERIES)
        F.append(curve_features(c.x, c.y, c.xq, c.kind, noise_sd(c.y)))
        Y.append(np.log(c.mean_q / c.y[-1]))
    return np.concatenate(F), np.concatenate(Y).astype(np.float32)


def sample_set(n_curves: int, seed: int, workers: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Features and targets of ``n_curves`` prior curves (``QUERIES`` rows each)."""
    chunks = [(seed * 1000 + i, n_curves // 16) for i in range(16)]
    with ProcessPoolExecutor(workers) as ex:
        parts = list(ex.map(_chunk, chunks))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--curves", type=int, default=400_000)
    ap.add_argument("--epochs", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    X, Y = sample_set(args.curves, args.seed + 1)
    Xv, Yv = sample_set(16_000, args.seed + 2)
    print(f"{len(X):,} training rows, {len(Xv):,} held out, sampled in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    mu, sd = X.mean(0), X.std(0) + 1e-6
    nb = len(BINS) - 1

    def to_bin(y: np.ndarray) -> torch.Tensor:
        return torch.tensor(np.clip(np.searchsorted(BINS, y) - 1, 0, nb - 1))

    Xt, Yt = torch.tensor((X - mu) / sd), to_bin(Y)
    Xvt, Yvt = torch.tensor((Xv - mu) / sd), to_bin(Yv)
    net = torch.nn.Sequential(
        torch.nn.Linear(N_FEATURES, HIDDEN), torch.nn.GELU(approximate="tanh"),
        torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.GELU(approximate="tanh"),
        torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.GELU(approximate="tanh"),
        torch.nn.Linear(HIDDEN, nb))
    batch = 1024
    steps = args.epochs * (len(X) // batch)
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps)
    lossf = torch.nn.CrossEntropyLoss()
    for ep in range(args.epochs):
        perm = torch.randperm(len(X))
        for i in range(len(X) // batch):
            b = perm[i * batch:(i + 1) * batch]
            loss = lossf(net(Xt[b]), Yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        with torch.no_grad():
            held = lossf(net(Xvt), Yvt).item()
        print(f"epoch {ep + 1}/{args.epochs}: train {loss.item():.4f}, held out {held:.4f} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    if args.write:
        lin = [m for m in net if isinstance(m, torch.nn.Linear)]
        arrays = {"mu": mu.astype(np.float32), "sd": sd.astype(np.float32)}
        for i, m in enumerate(lin):
            arrays[f"W{i}"] = m.weight.detach().numpy().T.astype(np.float32)
            arrays[f"b{i}"] = m.bias.detach().numpy().astype(np.float32)
        arrays.update(trained_by=np.array("benchmarks/train_curve_pfn.py"),
                      seed=np.array(str(args.seed)), heldout_loss=np.array(f"{held:.4f}"),
                      curves=np.array(str(args.curves)))
        np.savez_compressed(OUT, **arrays)
        print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()

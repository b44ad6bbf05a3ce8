"""Where does learning from a stream lose accuracy? A synchronous, delay-free, dense
predictive-coding network (docs/model.md's equations with every neuron ticking every step,
zero delays and V = W^T) on the digits split, run under protocols the product does NOT
allow, as yardsticks for the ones it does (docs/learning.md, "Diagnosis"):

- ``stream``: the plain equations, samples streamed with no reset (what asyncpc runs);
- ``reset``: every sample starts from the feedforward state (a reset: not allowed);
- ``late``: plasticity off for the first 5 tau_x of every sample (a phase: not allowed);
- ``gate``: the shipped local gate, plasticity x 1/(1 + (d_eps/G)^2) per tick, G = 0.01;
- ``trace_gate``: the same gate on a slow trace of the error's speed,
  m <- m + h/T (|d_eps|/h - m), plasticity x 1/(1 + (m/G)^2), T = 1 ms, G = 0.03 /ms;
- online backprop on the same initialisation and sample order, lr 0.01 and 0.1 per sample.

    python tools/stream_diagnosis.py [--seeds 3] [--epochs 4] [--anneal 0.3] [--protocols ...]   # ~4 min
    python tools/stream_diagnosis.py --smoke     # seconds: every protocol, 1 seed, 1 epoch, 100 samples

The last line is one JSON object: each protocol's final test accuracy per seed.

Same data, split, network (64-128-10, relu hidden, linear output), tau_x = 1 ms,
h = 0.1 ms, 10 ms per sample, eta = 0.01 /ms with the scenario's anneal 0.3 per epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
from numba import njit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _sweeps import DIGITS  # noqa: E402

PROTOCOLS = ("stream", "reset", "late", "gate", "trace_gate")


@njit(cache=True)
def _epoch(X, Y, order, W1, b1, W2, b2, x1, m1, m2, eta, steps, h, protocol, late_steps):
    """One epoch of the dense synchronous network; protocol codes index ``PROTOCOLS``."""
    n_h, n_o = W1.shape[0], W2.shape[0]
    e1p = np.zeros(n_h)
    e2p = np.zeros(n_o)
    for i in order:
        f0 = X[i]
        T = Y[i]
        mu1 = W1 @ f0 + b1
        if protocol == 1:
            for k in range(n_h):
                x1[k] = mu1[k]
        for s in range(steps):
            f1 = np.maximum(x1, 0.0)
            e1 = x1 - mu1
            e2 = T - (W2 @ f1 + b2)
            top = W2.T @ e2
            for k in range(n_h):
                x1[k] += h * (-e1[k] + (top[k] if x1[k] > 0 else 0.0))
            g1 = np.full(n_h, eta)
            g2 = np.full(n_o, eta)
            if protocol == 2 and s < late_steps:
                g1[:] = 0.0
                g2[:] = 0.0
            elif protocol == 3:
                for k in range(n_h):
                    g1[k] = eta / (1.0 + ((e1[k] - e1p[k]) / 0.01) ** 2)
                for k in range(n_o):
                    g2[k] = eta / (1.0 + ((e2[k] - e2p[k]) / 0.01) ** 2)
            elif protocol == 4:
                for k in range(n_h):
                    m1[k] += h / 1.0 * (abs(e1[k] - e1p[k]) / h - m1[k])
                    g1[k] = eta / (1.0 + (m1[k] / 0.03) ** 2)
                for k in range(n_o):
                    m2[k] += h / 1.0 * (abs(e2[k] - e2p[k]) / h - m2[k])
                    g2[k] = eta / (1.0 + (m2[k] / 0.03) ** 2)
            W1 += h * np.outer(g1 * e1, f0)
            b1 += h * g1 * e1
            W2 += h * np.outer(g2 * e2, f1)
            b2 += h * g2 * e2
            mu1 = W1 @ f0 + b1
            e1p[:] = e1
            e2p[:] = e2


@njit(cache=True)
def _bp_epoch(X, Y, order, W1, b1, W2, b2, lr):
    for i in order:
        z = W1 @ X[i] + b1
        a = np.maximum(z, 0.0)
        d2 = (W2 @ a + b2) - Y[i]
        d1 = (W2.T @ d2) * (z > 0)
        W2 -= lr * np.outer(d2, a)
        b2 -= lr * d2
        W1 -= lr * np.outer(d1, X[i])
        b1 -= lr * d1


def accuracy(W1, b1, W2, b2, X, y) -> float:
    return float(np.mean((W2 @ np.maximum(W1 @ X.T + b1[:, None], 0) + b2[:, None]).argmax(0) == y))


def run(kind: str, seed: int, epochs: int, data, *, eta=0.01, anneal=0.3, present=10.0, h=0.1, lr=0.01) -> list:
    X, y, Xt, yt = data
    Y = np.eye(10)[y]
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((128, 64)) / 8.0
    W2 = rng.standard_normal((10, 128)) / np.sqrt(128)
    b1, b2 = np.zeros(128), np.zeros(10)
    x1, m1, m2 = np.zeros(128), np.zeros(128), np.zeros(10)
    curve = []
    for e in range(epochs):
        order = rng.permutation(len(X))
        if kind == "backprop":
            _bp_epoch(X, Y, order, W1, b1, W2, b2, lr)
        else:
            _epoch(X, Y, order, W1, b1, W2, b2, x1, m1, m2, eta * anneal ** e, int(round(present / h)), h,
                   PROTOCOLS.index(kind), int(round(5.0 / h)))
        curve.append(accuracy(W1, b1, W2, b2, Xt, yt))
    return curve


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--anneal", type=float, default=0.3, help="plasticity gain anneal^epoch (the scenario's 0.3)")
    ap.add_argument("--protocols", nargs="*", default=[*PROTOCOLS, "backprop"], choices=[*PROTOCOLS, "backprop"])
    ap.add_argument("--max-train", type=int, default=0, help="train on the first N samples of the split (0: all)")
    ap.add_argument("--smoke", action="store_true", help="seconds: --seeds 1 --epochs 1 --max-train 100")
    a = ap.parse_args(argv)
    if a.smoke:
        a.seeds, a.epochs, a.max_train = 1, 1, 100
    from asyncpc.scenario import load_scenario

    d = load_scenario(DIGITS, [f"data.max_train={a.max_train}"]).load_data()
    data = (d.X_train, d.y_train, d.X_test, d.y_test)
    arms = [(k, dict(anneal=a.anneal)) for k in PROTOCOLS if k in a.protocols]
    if "backprop" in a.protocols:
        arms += [("backprop", dict(lr=0.01)), ("backprop", dict(lr=0.1))]
    print(f"{len(d.y_train)} training, {len(d.y_test)} test samples; {a.seeds} seeds, {a.epochs} epochs")
    print(f"{'protocol':<22} {'test accuracy per seed':<28} mean +- sd   (by epoch, seed 0)")
    results = {}
    for kind, kw in arms:
        curves = [run(kind, s, a.epochs, data, **kw) for s in range(a.seeds)]
        final = [c[-1] for c in curves]
        name = kind + (f" lr {kw['lr']}" if "lr" in kw else "")
        print(f"{name:<22} {' '.join(f'{v:.3f}' for v in final):<28} {np.mean(final):.3f} +- {np.std(final):.3f}"
              f"   ({' '.join(f'{v:.3f}' for v in curves[0])})", flush=True)
        results[name] = [round(v, 4) for v in final]
    print(json.dumps({"train": len(d.y_train), "test": len(d.y_test), "seeds": a.seeds, "epochs": a.epochs,
                      "test_accuracy": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

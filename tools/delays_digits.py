"""The digits part of docs/delays.md: accuracy, time to accuracy and W/V alignment against
delay (b, e), forward vs feedback delays, and accuracy against message loss (c); 3 seeds
each, every point an ``asyncpc sweep`` point (resumable: a rerun runs only what is missing).

    python tools/delays_digits.py               # ~30 min on 2 cores
    python tools/delays_digits.py --plot-only   # table + docs/img/digits_delays.png from runs/delays/*
    python tools/delays_digits.py --smoke       # seconds: one point of the delay sweep, tiny, in a temporary folder

Sweeps (``scenarios/digits_plain.toml`` with the per-tick gate 0.01 of ``PIN``, plus):
- ``delay``: every predict and feedback edge the same constant delay, 0.1-0.6 ms
  (= tau_x), the scenario's 4 epochs;
- ``asym``: forward and feedback delays apart (0.1 / 0.5 ms and 0.5 / 0.1 ms, mean 0.3);
- ``distance``: distance-based delays, 0.1 ms synaptic + distance at 2 m/s, each area a
  0.5 mm patch, input, hidden1 and label centres 0-1 mm apart in a row, 4 epochs;
- ``loss``: ``messages.loss`` 0-0.5 on the scenario's delays, one epoch
  (``data.epochs=1 data.train_eval=0``, as first measured, when lossy edges made the engine
  several times slower);
  ``loss_nogate``: the same with the plain equations (``neurons.gate=0``).

``--out`` and ``--img`` move the sweeps and the figure; ``--smoke`` runs the first sweep (or
``--only``'s) at the first value of its grid, one seed, on a 64-16-10 network with 20 + 10
samples for one epoch (``_sweeps.SMOKE_SETS``), then the table and the figure, all in a
temporary folder. The last line is one JSON object: completed points per sweep, the figure.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _sweeps import PLAIN, ROOT, finished, run_sweep, study_args, study_dirs  # noqa: E402

#: the sweeps' folder: runs/delays, or --out (set once, in main, before anything is read)
OUT = ROOT / "runs" / "delays"
DELAYS = (0.1, 0.2, 0.3, 0.45, 0.6)
LOSS = (0.0, 0.1, 0.3, 0.5)
SEPARATION = (0.0, 0.25, 0.5, 0.75, 1.0)  # mm between consecutive areas' centres
DISTANCE = ['delays={forward={dist="distance",velocity=2.0,synaptic=0.1}}', "network.sheet_size=0.5"]
#: the main job's settings when these results were recorded, on the plain baseline scenario,
#: so that a later change of scenarios/digits.toml does not change a rerun (later --set values win)
PIN = ["neurons.gate=0.01", "neurons.gate_tau=0", "data.epochs=4", "data.present=10.0", "learning.anneal=0.3", "learning.eta=0.01"]
SWEEPS = {
    "delay": ([], ["delays=" + ",".join(f"{{forward={d}}}" for d in DELAYS)]),
    "asym": ([], ["delays={forward=0.1,feedback=0.5},{forward=0.5,feedback=0.1}"]),
    "distance": (DISTANCE, ["network.positions=" + ",".join(f"{{hidden1=[{d},0.0],label=[{2 * d},0.0]}}"
                                                            for d in SEPARATION)]),
    "loss": (["data.epochs=1", "data.train_eval=0"], ["messages.loss=" + ",".join(map(str, LOSS))]),
    "loss_nogate": (["data.epochs=1", "data.train_eval=0", "neurons.gate=0"],
                    ["messages.loss=" + ",".join(map(str, LOSS))]),
}
PROJ = "hidden1->label"


def _num(text: str, key: str) -> float | None:
    m = re.search(rf"{key}\s*=\s*([0-9.eE+-]+)", text)
    return float(m.group(1)) if m else None


def grouped(name: str, x_of, key) -> dict:
    """{x: [values over seeds]} for one sweep; ``key(row)`` picks the value (None skips)."""
    out: dict = {}
    for r in finished(OUT / name):
        v = key(r)
        if v is not None:
            out.setdefault(x_of(r), []).append(float(v))
    return dict(sorted(out.items()))


def delay_of(r):
    return _num(r["delays"], "forward"), _num(r["delays"], "feedback")


def fwd_of(r):
    return delay_of(r)[0]


def acc(r):
    return r["test_accuracy"] or None


def tta(r):
    return r["summary"].get("time_to_accuracy_ms")


def angle(r):
    return r["summary"].get("w_v_angle_deg", {}).get(PROJ)


def bp(r):
    return r["backprop_test_accuracy"] or None


def separation_of(r):
    return float(re.search(r"hidden1\s*=\s*\[\s*([0-9.eE+-]+)", r["network.positions"]).group(1))


def mean_delay(separation: float) -> float:
    """Mean predict/feedback delay (ms) of the distance sweep's network at one separation."""
    from asyncpc.scenario import load_scenario

    c = load_scenario(PLAIN, [*DISTANCE, f"network.positions={{hidden1=[{separation},0.0],"
                                          f"label=[{2 * separation},0.0]}}"]).compile()
    return float(c.delay[c.edge_role() < 2].mean() * c.h)


def loss_of(r):
    return float(r["messages.loss"])


def fmt(v: list) -> str:
    if not v:
        return "-"
    return f"{np.mean(v):.3f} +- {np.std(v):.3f} ({len(v)})"


def report() -> None:
    print("(b, e) constant delay on every predict and feedback edge, 4 epochs")
    print(f"{'delay ms':>8} | {'test accuracy':>22} | {'ms to 90% test':>22} | {'W/V angle ' + PROJ:>26}")
    a, t, g = grouped("delay", fwd_of, acc), grouped("delay", fwd_of, tta), grouped("delay", fwd_of, angle)
    for d in a:
        print(f"{d:>8g} | {fmt(a[d]):>22} | {fmt(t.get(d, [])):>22} | {fmt(g.get(d, [])):>26}")
    never = {d: sum(1 for r in finished(OUT / "delay") if fwd_of(r) == d and tta(r) is None) for d in a}
    print("runs that never reached 90%:", {d: n for d, n in never.items() if n})
    print("online backprop (same net, split, epochs):", fmt(sum(grouped("delay", fwd_of, bp).values(), [])))
    print("\nforward / feedback delays apart (mean 0.3 ms), 4 epochs")
    for k, v in grouped("asym", delay_of, acc).items():
        print(f"  forward {k[0]:g} ms, feedback {k[1]:g} ms: {fmt(v)}")
    print("\ndistance-based delays (2 m/s + 0.1 ms, 0.5 mm patches), 4 epochs")
    for k, v in grouped("distance", separation_of, acc).items():
        print(f"  areas {k:g} mm apart (mean delay {mean_delay(k):.3f} ms): {fmt(v)}")
    for name in ("loss", "loss_nogate"):
        print(f"\n(c) message loss, 1 epoch ({name})")
        la, lg = grouped(name, loss_of, acc), grouped(name, loss_of, angle)
        for k in la:
            print(f"  loss {k:g}: test accuracy {fmt(la[k])} {[round(v, 3) for v in la[k]]}; "
                  f"W/V angle {fmt(lg.get(k, []))}")


def plot(path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))

    def band(ax, d, **kw):
        if d:
            xs = list(d)
            ax.errorbar(xs, [np.mean(v) for v in d.values()], yerr=[np.std(v) for v in d.values()], marker="o",
                        capsize=3, **kw)

    band(axes[0], grouped("delay", fwd_of, acc), label="constant delay, every edge")
    b = grouped("delay", fwd_of, bp)
    if b:
        axes[0].axhline(np.mean(sum(b.values(), [])), color="k", ls="--", label="online backprop")
    for k, v in grouped("asym", delay_of, acc).items():
        axes[0].errorbar([0.3], [np.mean(v)], yerr=[np.std(v)], marker="s" if k[0] < k[1] else "^", ls="none",
                         capsize=3, label=f"fwd {k[0]:g} / fb {k[1]:g} ms")
    dist = grouped("distance", separation_of, acc)
    band(axes[0], {mean_delay(k): v for k, v in dist.items()}, label="distance-based, 2 m/s (mean delay)")
    axes[0].set(xlabel="delay on every edge (ms = tau_x)", ylabel="test accuracy (4 epochs)",
                title="(b) accuracy against delay")
    axes[0].legend(fontsize=7)
    band(axes[1], grouped("delay", fwd_of, tta))
    axes[1].set(xlabel="delay (ms = tau_x)", ylabel="training stream (ms) to 90% test\n(one epoch = 14,370 ms)",
                title="(b) time to accuracy (runs that got there)")
    band(axes[2], grouped("delay", fwd_of, angle))
    axes[2].axhline(90, color="0.6", lw=0.8)
    axes[2].set(xlabel="delay (ms = tau_x)", ylabel=f"angle W vs V^T, {PROJ} (deg)",
                title="(e) feedback alignment against delay")
    band(axes[3], grouped("loss", loss_of, acc), label="gate 0.01 (the scenario)")
    band(axes[3], grouped("loss_nogate", loss_of, acc), label="plain equations")
    axes[3].legend(fontsize=7)
    axes[3].set(xlabel="messages.loss", ylabel="test accuracy (1 epoch)", title="(c) accuracy against loss")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("digits 64-128-10, 10 tau_x per sample, unsynchronised clocks; mean +- sd of 3 seeds", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")
    return path


def main(argv=None) -> int:
    global OUT
    a = study_args(__doc__, list(SWEEPS), argv)
    with study_dirs(a, OUT) as (out, img):
        OUT = out
        if not a.plot_only:
            for name in a.only:
                sets, grid = SWEEPS[name]
                run_sweep(OUT / name, PIN + sets, grid, seeds=a.seeds, jobs=a.jobs, scenario=PLAIN, smoke=a.smoke)
        report()
        fig = plot(img / "digits_delays.png")
        print(json.dumps({"points": {name: len(finished(OUT / name)) for name in SWEEPS}, "figure": str(fig)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

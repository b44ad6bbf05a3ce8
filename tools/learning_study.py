"""The ablation study of docs/learning.md: every dynamics option of the neurons, alone and
combined, on the digits stream, 3 seeds each, with and without per-edge delays, against
online backprop on the same network, split and epochs. Each arm is one ``asyncpc sweep``
(resumable: rerunning the script reruns nothing that finished); then one figure.

    python tools/learning_study.py                    # ~40 min on 2 cores, + ~17 min per (3) arm
    python tools/learning_study.py --plot-only        # redraw from runs/learning/*

Arms (a scenario plus the overrides listed in ``ARMS``):
(1) options at 10 ms (10 tau_x) per sample, 4 epochs, on ``scenarios/digits_plain.toml``
    (the main job's per-edge delays, uniform 0.1-0.5 ms, mean 0.3 tau_x, and
    unsynchronised clocks; no options);
(2) steps per sample: ``data.present`` = 5, 10, 20 ms for the plain equations and the
    per-tick gate, with those delays and with the shortest delays (one step, 0.1 tau_x);
(3) the shipped configuration (``SHIPPED``: matched trace gate, feedback gain 0.5 with the
    input projection's rate doubled, 20 ms per sample, 20 epochs) with those delays and with
    the shortest, and with parts of it taken back out.
Writes ``docs/img/learning_ablation.png`` and prints a table of mean +- sd.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _sweeps import DIGITS, PLAIN, ROOT, run_sweep, study_args  # noqa: E402

OUT = ROOT / "runs" / "learning"
SHORT = ["delays.forward=0.1", "delays.feedback=0.1"]
GATE, NO_GATE = "neurons.gate=0.01", "neurons.gate=0"

#: arm name -> (--set overrides, --grid items); every arm pins the gate, so results do not
#: depend on the scenario's default
ARMS = {
    "plain": ([NO_GATE], ["data.present=5,10,20"]),
    "gate": ([GATE], ["data.present=5,10,20"]),
    "feedback_gain": ([NO_GATE], ["neurons.feedback_gain=0.5"]),
    "gate+fast_label": ([GATE], ["network.tau_x.label=0.5"]),
    "self_lag": ([NO_GATE], ["neurons.self_lag=0.3"]),
    "prospective": ([NO_GATE], ["neurons.prospective=true"]),
    "gate_0.05": ([], ["neurons.gate=0.05"]),
    "combined": ([GATE, "neurons.feedback_gain=0.5", "network.tau_x.label=0.5"], ["data.epochs=4"]),
    "plain_short": (SHORT + [NO_GATE], ["data.present=5,10,20"]),
    "gate_short": (SHORT + [GATE], ["data.present=5,10,20"]),
    # the matched trace gate over 10 epochs (docs/learning.md), and the per-tick gate over the same 10
    "trace_gate_10ep": (["neurons.gate=0.03", "data.epochs=10", "learning.anneal=0.7"], ["neurons.gate_tau=1.0"]),
    "gate_10ep": ([GATE, "data.epochs=10", "learning.anneal=0.7"], ["neurons.gate_tau=0"]),
}

#: scenarios/digits.toml's values, pinned so that a later change of its defaults does not
#: change what a rerun of the (3) arms measures
SHIPPED = ["neurons.gate=0.03", "neurons.gate_tau=1.0", "neurons.feedback_gain=0.5", "network.eta={input=0.01}",
           "learning.eta=0.005", "learning.anneal=0.8", "data.epochs=20", "data.present=20.0",
           "data.test_present=20.0"]
SHIPPED_ARMS = {
    "shipped": ([], ["data.present=20.0"]),
    "shipped_short": (SHORT, ["data.present=20.0"]),
    "shipped-gain": (["neurons.feedback_gain=1.0", "network.eta={}"], ["data.present=20.0"]),
    "shipped-trace": (["neurons.gate=0.01", "neurons.gate_tau=0"], ["data.present=20.0"]),
}
ARMS.update({k: (SHIPPED + sets, grid) for k, (sets, grid) in SHIPPED_ARMS.items()})


def _gate_of(point_dir: Path) -> float:
    """The gate a finished point ran with (its resolved scenario.toml)."""
    import tomllib

    with open(point_dir / "scenario.toml", "rb") as f:
        return float(tomllib.load(f).get("neurons", {}).get("gate", 0.0))


#: the scenario's values when the 4-epoch arms were recorded, pinned so that later defaults
#: do not change what a rerun measures (an arm's own --set values come after and win)
BASE = ["data.epochs=4", "learning.anneal=0.3", "neurons.gate_tau=0", "data.present=10.0"]


def run_arm(name: str, seeds: int, jobs: int) -> None:
    sets, grid = ARMS[name]
    if name in SHIPPED_ARMS:
        run_sweep(OUT / name, sets, grid, seeds=seeds, jobs=jobs, scenario=DIGITS)
    else:
        run_sweep(OUT / name, BASE + sets, grid, seeds=seeds, jobs=jobs, scenario=PLAIN)


def results(name: str) -> list[dict]:
    path = OUT / name / "results.csv"
    if not path.exists():
        return []
    sets = ARMS[name][0]
    want = 0.01 if GATE in sets else 0.0 if NO_GATE in sets else None
    with open(path) as f:
        rows = [r for r in csv.DictReader(f) if r.get("status") == "completed"]
    # only points that ran with the arm's gate (an arm run before the gate was pinned may mix)
    return [r for r in rows if want is None or _gate_of(OUT / name / "points" / r["point"]) == want]


def by_present(rows: list[dict], key: str = "test_accuracy") -> dict[float, list[float]]:
    out: dict[float, list[float]] = {}
    for r in rows:
        p = float(r.get("data.present") or 10.0)
        out.setdefault(p, []).append(float(r[key]))
    return dict(sorted(out.items()))


def table() -> list[tuple]:
    lines = []
    for name in ARMS:
        for p, accs in by_present(results(name)).items():
            bp = by_present(results(name), "backprop_test_accuracy").get(p, [np.nan])
            lines.append((name, p, np.mean(accs), np.std(accs), len(accs), np.mean(bp)))
    return lines


def plot(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(s, t) for s, t in (("", "per-edge delays U(0.1, 0.5) tau_x"), ("_short", "shortest delays (0.1 tau_x)"))
              if results("plain" + s) or results("gate" + s)]  # arms not run yet: no empty panel
    shipped = [k for k in SHIPPED_ARMS if results(k)]
    n = len(panels) + bool(shipped)
    fig, axes = plt.subplots(1, n, figsize=(5.5 * n + 0.5, 4.2), squeeze=False)
    axes = axes[0]
    if shipped:
        _plot_shipped(axes[-1], shipped)
    for ax, (suffix, title) in zip(axes, panels):
        bp = {}
        for arm, label in (("plain", "plain equations"), ("gate", "gate 0.01")):
            d = by_present(results(arm + suffix))
            if d:
                ps = np.array(list(d))
                ax.errorbar(ps * 10, [np.mean(v) for v in d.values()], yerr=[np.std(v) for v in d.values()],
                            marker="o", capsize=3, label=label)
            for p, v in by_present(results(arm + suffix), "backprop_test_accuracy").items():
                bp[p] = np.mean(v)
        if bp:
            ax.plot(np.array(list(bp)) * 10, list(bp.values()), "k--", label="online backprop")
        if not suffix:
            for i, arm in enumerate(("gate_0.05", "feedback_gain", "gate+fast_label", "self_lag", "prospective",
                                     "combined")):
                d = by_present(results(arm))
                if d:
                    v = list(d.values())[0]
                    ax.errorbar([100 + 4 * (i - 2.5)], [np.mean(v)], yerr=[np.std(v)], marker="s", ls="none",
                                capsize=3, label=arm)
        ax.set_xlabel("steps per sample (h = 0.1 tau_x)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (4 epochs, mean +- sd of 3 seeds)")
    for ax in axes[1:len(panels)]:
        ax.sharey(axes[0])
    for ax in axes:
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def _plot_shipped(ax, arms: list[str]) -> None:
    """The shipped configuration over 20 epochs, with each part taken out and with the
    shortest delays: free-inference test accuracy (filled) and the learned W used as a
    feedforward net (open), against online backprop over the same epochs."""
    for i, arm in enumerate(arms):
        rows = results(arm)
        for key, style in (("test_accuracy", "o"), ("feedforward_test_accuracy", "s")):
            v = [float(r[key]) for r in rows if r.get(key)]
            if v:
                ax.errorbar([i + (0.15 if style == "s" else 0)], [np.mean(v)], yerr=[np.std(v)], marker=style,
                            mfc="none" if style == "s" else None, color="C0", capsize=3, ls="none",
                            label=None if i else ("free inference (test_accuracy)" if style == "o"
                                                  else "learned W, feedforward"))
    bp = [float(r["backprop_test_accuracy"]) for r in results(arms[0])]
    ax.axhline(np.mean(bp), color="k", ls="--", label="online backprop")
    ax.set_xticks(range(len(arms)), [a.replace("shipped", "shipped ") for a in arms], fontsize=8)
    ax.set_title("scenarios/digits.toml, 20 epochs (20 tau_x per sample)")
    ax.set_ylabel("test accuracy (mean +- sd of 3 seeds)")
    ax.grid(alpha=0.3)


def main(argv=None) -> int:
    a = study_args(__doc__, list(ARMS), argv)
    if not a.plot_only:
        for name in a.only:
            run_arm(name, a.seeds, a.jobs)
    print(f"{'arm':<14} {'ms/sample':>9} {'test acc':>16} {'n':>2} {'backprop':>8}")
    for name, p, m, sd, n, bp in table():
        print(f"{name:<14} {p:>9g} {m:>9.3f} +- {sd:.3f} {n:>2} {bp:>8.3f}")
    plot(ROOT / "docs" / "img" / "learning_ablation.png")
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())

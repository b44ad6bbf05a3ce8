"""The ablation study of docs/learning.md: every dynamics option of the neurons, alone and
combined, on the digits stream, 3 seeds each, with and without per-edge delays, against
online backprop on the same network, split and epochs. Each arm is one ``asyncpc sweep``
(resumable: rerunning the script reruns nothing that finished); then the figures.

    python tools/learning_study.py                    # ~40 min on 2 cores, + ~22 min per (3) arm
    python tools/learning_study.py --plot-only        # redraw from runs/learning/*
    python tools/learning_study.py --smoke            # seconds: one point of the first arm, tiny, in a temporary folder

Arms (a scenario plus the overrides listed in ``ARMS``):
(1) options at 10 ms (10 tau_x) per sample, 4 epochs, on ``scenarios/digits_plain.toml``
    (the main job's per-edge delays, uniform 0.1-0.5 ms, mean 0.3 tau_x, and
    unsynchronised clocks; no options);
(2) steps per sample: ``data.present`` = 5, 10, 20 ms for the plain equations and the
    per-tick gate, with those delays and with the shortest delays (one step, 0.1 tau_x);
(3) the shipped configuration (``SHIPPED``: matched trace gate, feedback gain 0.5 with the
    input projection's rate doubled, 20 ms per sample, 20 epochs) at 20 and at 10 ms per
    sample (rates doubled, so every sample gets the same learning), with those delays and with
    the shortest, with synchronous clocks and with weight transport, with parts of it taken back
    out at 20 ms, and with V starting at W^T or with weight decay (what the learned feedback
    costs at 10 ms).
Writes ``docs/img/learning_ablation.png`` (1, 2) and ``docs/img/learning_shipped.png`` (3)
and prints a table of mean +- sd. ``--out`` and ``--img`` move the sweeps and the figures;
``--smoke`` runs the first arm (or ``--only``'s) at the first value of its grid, one seed, on
a 64-16-10 network with 20 + 10 samples for one epoch (``_sweeps.SMOKE_SETS``), then the
table and the figures, all in a temporary folder. The last line is one JSON object:
completed points per arm that has any, and the figures written.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _sweeps import DIGITS, PLAIN, ROOT, run_sweep, study_args, study_dirs  # noqa: E402

#: the arms' sweeps: runs/learning, or --out (set once, in main, before anything is read)
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

#: each single option at 5 and 20 ms per sample too (its 10 ms point is the arm above)
ARMS.update({f"{k}_steps": (ARMS[k][0] + ARMS[k][1], ["data.present=5,20"])
             for k in ("gate_0.05", "feedback_gain", "self_lag", "prospective")})

#: scenarios/digits.toml's values, pinned so that a later change of its defaults does not
#: change what a rerun of the (3) arms measures
SHIPPED = ["neurons.gate=0.03", "neurons.gate_tau=1.0", "neurons.feedback_gain=0.5", "network.eta={input=0.01}",
           "learning.eta=0.005", "learning.anneal=0.8", "data.epochs=20", "data.present=20.0",
           "data.test_present=20.0", "messages.send=on_delta", "messages.threshold=0.01",
           "learning.sensory_feedback=false"]
#: 10 ms per sample at twice the rates: every sample gets the same learning as at 20 ms
TEN = ["learning.eta=0.01", "network.eta={input=0.02}"]
#: what else the 20 vs 10 ms comparison runs under: the scenario's conditions, the shortest
#: delays, synchronous clocks (every neuron steps every h, in phase), weight transport (V = W^T)
CONDITIONS = {"": [], "_short": SHORT, "_sync": ["neurons.clock.period=0.1", "neurons.clock.phase=zero"],
              "_transport": ["learning.feedback=transport"]}
SHIPPED_ARMS = {
    **{name: arm for c, sets in CONDITIONS.items()
       for name, arm in ((f"shipped{c}", (sets, ["data.present=20.0"])),
                         (f"shipped_10ms{c}", (TEN + sets, ["data.present=10.0"])))},
    # what the learned feedback costs at 10 ms: V starting at W^T (symmetric at birth, not a
    # learning rule), and weight decay, which makes W and V^T converge from independent starts
    "shipped_10ms_symmetric": (TEN + ["learning.feedback_init=transpose"], ["data.present=10.0"]),
    **{f"shipped_10ms_decay{d}": (TEN + [f"learning.decay={d}"], ["data.present=10.0"]) for d in ("1e-5", "3e-5", "1e-4")},
    "shipped_decay3e-5": (["learning.decay=3e-5"], ["data.present=20.0"]),
    # parts taken out, at 20 ms
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


def arm(name: str) -> tuple[Path, list[str], list[str]]:
    """What an arm's sweep runs: its scenario, ``--set`` overrides and ``--grid`` items."""
    sets, grid = ARMS[name]
    return (DIGITS, sets, grid) if name in SHIPPED_ARMS else (PLAIN, BASE + sets, grid)


def run_arm(name: str, seeds: int, jobs: int, smoke: bool = False) -> None:
    scenario, sets, grid = arm(name)
    run_sweep(OUT / name, sets, grid, seeds=seeds, jobs=jobs, scenario=scenario, smoke=smoke)


@functools.cache
def results(name: str) -> list[dict]:
    """An arm's completed points (results.csv rows). Read once per process: the table and the
    figures ask for the same arms many times, and ``main`` reads only after its runs."""
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
        if r.get(key):  # runs recorded before a summary key existed leave its column empty
            out.setdefault(float(r.get("data.present") or 10.0), []).append(float(r[key]))
    return dict(sorted(out.items()))


def table() -> list[tuple]:
    lines = []
    for name in ARMS:
        for p, accs in by_present(results(name)).items():
            bp, ff = (by_present(results(name), k).get(p, [np.nan])
                      for k in ("backprop_test_accuracy", "feedforward_test_accuracy"))
            lines.append((name, p, np.mean(accs), np.std(accs), len(accs), np.mean(ff), np.mean(bp)))
    return lines


def plot(img: Path) -> list[Path]:
    """Two figures, each drawn only from arms that have results (so that redrawing on a
    machine that ran only some arms does not erase the others' figure): the 4-epoch options
    against steps per sample, and the shipped configuration with its parts taken out.
    Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    shipped = [k for k in SHIPPED_ARMS if results(k)]
    if shipped:
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        _plot_shipped(ax, shipped)
        ax.legend(fontsize=7, loc="lower left")
        written.append(_save(fig, img / "learning_shipped.png"))
    panels = [(s, t) for s, t in (("", "per-edge delays U(0.1, 0.5) tau_x"), ("_short", "shortest delays (0.1 tau_x)"))
              if results("plain" + s) or results("gate" + s)]  # arms not run yet: no empty panel
    if not panels:
        return written
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels) + 0.5, 4.2), squeeze=False)
    axes = axes[0]
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
    for ax in axes[1:]:
        ax.sharey(axes[0])
    for ax in axes:
        ax.legend(fontsize=7, loc="lower right")
    written.append(_save(fig, img / "learning_ablation.png"))
    return written


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")
    return path


def _plot_shipped(ax, arms: list[str]) -> None:
    """The shipped configuration over 20 epochs against steps per sample (the rates scaled
    so that every sample gets the same learning) under each of ``CONDITIONS``, and with parts
    taken out at 20 ms: free-inference test accuracy (filled) and the
    learned W used as a feedforward net (open), against online backprop over the same epochs."""
    labels = {"": "shipped: delays U(0.1, 0.5) tau_x, clocks U(0.1, 0.2) tau_x",
              "_short": "  every delay 0.1 tau_x (one step)", "_sync": "  synchronous clocks (every h)",
              "_transport": "  weight transport (V = W^T)"}
    lines = {label: (f"shipped_10ms{c}", f"shipped{c}") for c, label in labels.items()}
    points = {"shipped-gain": "- feedback gain (1, one rate)", "shipped-trace": "- trace gate (per-tick 0.01)"}

    def draw(names, label, x, style):
        # free inference filled, the learned W used feedforward open and 3 steps to the right
        for key, mfc, dx in (("test_accuracy", None, 0), ("feedforward_test_accuracy", "none", 3)):
            d = {p: v for n in names if n in arms for p, v in by_present(results(n), key).items()}
            if d:
                ax.errorbar(x(np.array(list(d))) + dx, [np.mean(v) for v in d.values()],
                            yerr=[np.std(v) for v in d.values()], mfc=mfc, capsize=3,
                            label=label if mfc is None else None, **style(mfc))

    for i, (label, names) in enumerate(lines.items()):
        draw(names, label, lambda p: p * 10, lambda mfc, i=i: dict(color=f"C{i}", marker="o",
                                                                    ls="-" if mfc is None else ":"))
    for i, (name, label) in enumerate(points.items()):
        draw([name], label, lambda p, i=i: p * 10 + 8 * (i + 1),
             lambda mfc, i=i: dict(color=f"C{i + 2}", marker="s", ls="none"))
    bp = [float(r["backprop_test_accuracy"]) for r in results("shipped" if "shipped" in arms else arms[0])]
    ax.axhline(np.mean(bp), color="k", ls="--", label="online backprop (20 epochs)")
    ax.plot([], [], "ko", mfc="none", ls=":", label="open: learned W used feedforward")
    ax.set_xlabel("steps per sample (h = 0.1 tau_x)")
    ax.set_xlim(80, 240)
    ax.set_title("scenarios/digits.toml, 20 epochs")
    ax.set_ylabel("test accuracy (mean +- sd of 3 seeds)")
    ax.grid(alpha=0.3)


def main(argv=None) -> int:
    global OUT
    a = study_args(__doc__, list(ARMS), argv)
    with study_dirs(a, OUT) as (out, img):
        OUT = out
        if not a.plot_only:
            for name in a.only:
                run_arm(name, a.seeds, a.jobs, a.smoke)
        print(f"{'arm':<16} {'ms/sample':>9} {'test acc':>16} {'n':>2} {'feedfwd':>8} {'backprop':>8}")
        for name, p, m, sd, n, ff, bp in table():
            print(f"{name:<16} {p:>9g} {m:>9.3f} +- {sd:.3f} {n:>2} {ff:>8.3f} {bp:>8.3f}")
        figures = plot(img)
        print(json.dumps({"points": {k: len(results(k)) for k in ARMS if results(k)},
                          "figures": [str(f) for f in figures]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

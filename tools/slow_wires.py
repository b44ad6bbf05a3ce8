"""Issue 21's study, docs/delays.md §4: digits against a one-way delay on every predict and
feedback edge, 20 epochs, 3 seeds, with and without the label clamped as late as the
evidence (``data.label_delay = 2 D``), every point an ``asyncpc sweep`` point (resumable: a
rerun runs only what is missing).

    python tools/slow_wires.py                    # ~4 h of one core per seed and arm; --jobs 2
    python tools/slow_wires.py --only label plain # some parts
    python tools/slow_wires.py --plot-only        # table + docs/img/slow_wires.png from runs/slow_wires/*
    python tools/slow_wires.py --smoke            # seconds: one point of the first part, tiny, in a temporary folder

Parts (``scenarios/digits_slow_wires.toml``: the main job's network, options and stream,
a constant delay D on every predict and feedback edge; its label waiting for its echo is
turned off (``NO_ECHO``) in the parts that time the label with ``label_delay``):
- ``label``: D = 0.5 ... 5 tau_x with label_delay = 2 D (``--zip``: the two move together);
- ``plain``: D = 0.1 (one step) ... 5 tau_x, the label clamped with the image (label_delay 0);
- ``shipped``: the main job (``scenarios/digits.toml``, delays U(0.1, 0.5) ms) with label_delay
  0 and 1 ms (twice the longest delay): what the compensation costs where it is not needed;
- ``random``: per-edge delays U(0.1, 2 D - 0.1) (mean D) for D = 1 and 3 tau_x, label_delay 2 D;
- ``loss``: 10% message loss at D = 1 tau_x, with and without the label delay;
- ``echo``: D = 0.5 ... 5 tau_x with the label clamped with the image but waiting for its echo
  (``neurons.clamp_echo``, neuron-local: no label_delay);
- ``echo_shipped``: the main job with ``neurons.clamp_echo``: what it costs at short delays;
- ``echo_random``, ``echo_loss``: ``random`` and ``loss`` with the label waiting for its echo
  instead of ``label_delay``.

``--out`` and ``--img`` move the sweeps and the figure (``slow_wires.png`` for every part,
else ``slow_wires_<parts>.png``, the parts named by their first word: ``--only echo
echo_shipped ...`` makes ``slow_wires_echo.png``; --plot-only too); ``--smoke`` runs the first part (or
``--only``'s) at its first point, one seed, on a 64-16-10 network with 20 + 10 samples for one
epoch (``_sweeps.SMOKE_SETS``), then the table and the figure, all in a temporary folder. The
last line is one JSON object: completed points per part, the figure.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _sweeps import DIGITS, ROOT, finished, run_sweep, study_args, study_dirs  # noqa: E402

#: the parts' folder: runs/slow_wires, or --out (set once, in main, before anything is read)
OUT = ROOT / "runs" / "slow_wires"
SLOW = ROOT / "scenarios" / "digits_slow_wires.toml"
DELAYS = (0.5, 1.0, 1.5, 2.0, 3.0, 5.0)
RANDOM = (1.0, 3.0)
#: neurons.clamp_echo and clamp_echo_max (ms) of the echo parts (docs/delays.md §4: the pilots that chose them)
ECHO, ECHO_MAX = 0.1, 10.0
ECHO_SETS = [f"neurons.clamp_echo={ECHO}", f"neurons.clamp_echo_max={ECHO_MAX}"]
ECHO_NAME = f"clamp_echo {ECHO:g}, at most {ECHO_MAX:g} ms"


def _values(xs) -> str:
    return ",".join(str(float(x)) for x in xs)


#: delays.forward's values for the random parts: U(0.1, 2 D - 0.1) ms, mean D, for D in RANDOM
RANDOM_DELAYS = "delays.forward=" + ",".join(f'{{dist="uniform",low=0.1,high={2 * d - 0.1:g}}}' for d in RANDOM)


#: the slow-wires scenario's own compensation (the label waiting for its echo) turned off
NO_ECHO = ["neurons.clamp_echo=0.0", "neurons.clamp_echo_max=0.0"]
#: part -> (scenario, --set, --grid, --zip)
PARTS = {
    "label": (SLOW, NO_ECHO, [], [f"delays.forward={_values(DELAYS)}",
                                  f"data.label_delay={_values(2 * d for d in DELAYS)}"]),
    "plain": (SLOW, NO_ECHO, [f"delays.forward={_values((0.1, *DELAYS))}", "data.label_delay=0.0"], []),
    "shipped": (DIGITS, [], ["data.label_delay=0.0,1.0"], []),
    "random": (SLOW, NO_ECHO, [], [RANDOM_DELAYS, f"data.label_delay={_values(2 * d for d in RANDOM)}"]),
    "loss": (SLOW, ["delays.forward=1.0", *NO_ECHO], ["messages.loss=0.1", "data.label_delay=0.0,2.0"], []),
    "echo": (SLOW, ["data.label_delay=0.0", *ECHO_SETS], [f"delays.forward={_values(DELAYS)}"], []),
    "echo_shipped": (DIGITS, ECHO_SETS, [], []),
    "echo_random": (SLOW, ["data.label_delay=0.0", *ECHO_SETS], [RANDOM_DELAYS], []),
    "echo_loss": (SLOW, ["delays.forward=1.0", "data.label_delay=0.0", *ECHO_SETS], ["messages.loss=0.1"], []),
}
PROJ = "hidden1->label"


#: the main job's mean one-way delay (ms): U(0.1, 0.5)
MAIN_JOB_DELAY = 0.3


def delay_of(r) -> float:
    """The mean one-way delay (ms) of a point: the constant, the uniform's mean, or its
    part's (a part that sets it with --set, or the main job's)."""
    d = r.get("delays.forward")
    if d is None:
        fixed = [s for s in PARTS[r["_part"]][1] if s.startswith("delays.forward=")]
        return float(fixed[0].split("=", 1)[1]) if fixed else MAIN_JOB_DELAY
    m = re.findall(r"(low|high)\s*=\s*([0-9.eE+-]+)", d)
    return float(np.mean([float(v) for _, v in m])) if m else float(d)


def label_of(r) -> float:
    return float(r.get("data.label_delay") or 0.0)


def acc(r):
    return float(r["test_accuracy"]) if r["test_accuracy"] else None


def angle(r):
    return r["summary"].get("w_v_angle_deg", {}).get(PROJ)


def bp(r):
    return float(r["backprop_test_accuracy"]) if r["backprop_test_accuracy"] else None


def backprop() -> list:
    """Online backprop's test accuracy per seed (delay-free: the same in every point of a seed)."""
    by_seed = {}
    for part in PARTS:
        for r in finished(OUT / part):
            r["_part"] = part
            if bp(r) is not None:
                by_seed.setdefault(int(r["seed"]), bp(r))
    return [by_seed[s] for s in sorted(by_seed)]


def grouped(part: str, x_of, key) -> dict:
    """{x: [values over seeds]} for one part; ``key(row)`` picks the value (None skips)."""
    out: dict = {}
    for r in finished(OUT / part):
        r["_part"] = part
        v = key(r)
        if v is not None:
            out.setdefault(x_of(r), []).append(float(v))
    return dict(sorted(out.items()))


def fmt(v: list) -> str:
    if not v:
        return "-"
    return f"{100 * np.mean(v):.1f} +- {100 * np.std(v):.1f}% ({' / '.join(f'{100 * x:.1f}' for x in v)})"


def by_delay_and_label(r):
    return delay_of(r), label_of(r)


def _cell(acc_v: list, ang_v: list) -> str:
    if not acc_v:
        return "- | -"
    seeds = " / ".join(f"{100 * x:.1f}" for x in acc_v)
    ang = f"{np.mean(ang_v):.0f}°" if ang_v else "-"
    return f"**{100 * np.mean(acc_v):.1f} ± {100 * np.std(acc_v):.1f}%** ({seeds}) | {ang}"


def report() -> None:
    """The study's tables, in Markdown (docs/delays.md quotes them)."""
    acc_of = {p: grouped(p, by_delay_and_label, acc) for p in PARTS}
    ang_of = {p: grouped(p, by_delay_and_label, angle) for p in PARTS}
    print("test accuracy after 20 epochs, mean ± sd over seeds (each seed), W/V^T angle " + PROJ)
    delays = sorted({k[0] for p in ("plain", "label") for k in acc_of[p]})
    if delays:
        print("\n| one-way delay D | label with the image | angle | label_delay = 2 D | angle |\n|---|---|---|---|---|")
    for d in delays:
        plain = next(((acc_of["plain"][k], ang_of["plain"].get(k, [])) for k in acc_of["plain"] if k[0] == d), ([], []))
        late = next(((acc_of["label"][k], ang_of["label"].get(k, [])) for k in acc_of["label"] if k[0] == d), ([], []))
        print(f"| {d:g} τx | {_cell(*plain)} | {_cell(*late)} |")
    if acc_of["echo"]:
        print(f"\n| one-way delay D | label waiting for its echo ({ECHO_NAME}) | angle |\n|---|---|---|")
        for (d, _), v in acc_of["echo"].items():
            print(f"| {d:g} τx | {_cell(v, ang_of['echo'].get((d, 0.0), []))} |")
    for part, what in (("shipped", "the main job, delays U(0.1, 0.5) ms"), ("random", "delays U(0.1, 2 D - 0.1)"),
                       ("loss", "10% message loss, D = 1 τx"),
                       ("echo_shipped", f"the main job with {ECHO_NAME}"),
                       ("echo_random", f"delays U(0.1, 2 D - 0.1), {ECHO_NAME}"),
                       ("echo_loss", f"10% message loss, D = 1 τx, {ECHO_NAME}")):
        if acc_of[part]:
            print(f"\n{part}: {what}")
            for (d, lab), v in acc_of[part].items():
                print(f"  mean delay {d:g} ms, label_delay {lab:g} ms: {_cell(v, ang_of[part].get((d, lab), []))}")
    b = backprop()
    if b:
        print(f"\nonline backprop (the same network, split and epochs; no delays), seeds 0-{len(b) - 1}: {fmt(b)}")


def plot(path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))

    def band(ax, part, key, keep, **kw):
        d = {x: v for x, v in grouped(part, by_delay_and_label, key).items() if keep(x)}
        if d:
            xs = [x[0] for x in d]
            ax.errorbar(xs, [np.mean(v) for v in d.values()], yerr=[np.std(v) for v in d.values()], capsize=3, **kw)

    for ax, key in ((axes[0], acc), (axes[1], angle)):
        band(ax, "plain", key, lambda x: True, marker="o", label="label clamped with the image")
        band(ax, "label", key, lambda x: True, marker="s", label="label_delay = 2 D")
        band(ax, "random", key, lambda x: True, marker="D", ls="none", label="U(0.1, 2D - 0.1), label_delay = 2 D")
        band(ax, "loss", key, lambda x: x[1] == 0, marker="v", ls="none", label="10% loss, label with the image")
        band(ax, "loss", key, lambda x: x[1] > 0, marker="^", ls="none", label="10% loss, label_delay = 2 D")
        band(ax, "shipped", key, lambda x: x[1] == 0, marker="*", ls="none", ms=10,
             label="main job, U(0.1, 0.5) (mean 0.3)")
        band(ax, "shipped", key, lambda x: x[1] > 0, marker="P", ls="none", ms=8,
             label="main job, label_delay 1 ms")
        band(ax, "echo", key, lambda x: True, marker="x", label=f"label waits for its echo ({ECHO_NAME})")
        band(ax, "echo_shipped", key, lambda x: True, marker="X", ls="none", ms=8,
             label=f"main job, {ECHO_NAME}")
        band(ax, "echo_random", key, lambda x: True, marker="d", ls="none", label="U(0.1, 2D - 0.1), clamp_echo")
        band(ax, "echo_loss", key, lambda x: True, marker="<", ls="none", label="10% loss, clamp_echo")
        ax.set_xlabel("one-way delay D on every predict and feedback edge (ms = tau_x)")
        ax.grid(alpha=0.3)
    b = backprop()
    if b:
        axes[0].axhline(np.mean(b), color="k", ls="--", lw=0.8, label="online backprop, no delays")
    axes[0].set(ylabel="test accuracy after 20 epochs", title="digits 64-128-10: accuracy against delay")
    axes[1].set(ylabel=f"angle W vs V^T, {PROJ} (deg)", title="learned feedback against delay")
    axes[1].axhline(90, color="0.6", lw=0.8)
    axes[0].legend(fontsize=7)
    fig.suptitle("unsynchronised clocks U(0.1, 0.2) ms, on_delta 0.01; mean +- sd of 3 seeds", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")
    return path


def main(argv=None) -> int:
    global OUT
    a = study_args(__doc__, list(PARTS), argv)
    with study_dirs(a, OUT) as (out, img):
        OUT = out
        if not a.plot_only:
            for name in a.only:
                scenario, sets, grid, zipped = PARTS[name]
                run_sweep(OUT / name, sets, grid, zipped=zipped, seeds=a.seeds, jobs=a.jobs, scenario=scenario,
                          smoke=a.smoke)
        report()
        every = set(a.only) == set(PARTS)
        groups = "_".join(sorted({name.split("_")[0] for name in a.only}))  # echo_shipped, echo... -> echo
        fig = plot(img / ("slow_wires.png" if every else f"slow_wires_{groups}.png"))
        print(json.dumps({"points": {name: len(finished(OUT / name)) for name in PARTS}, "figure": str(fig)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Streams that change over time (issue 24): asyncpc against online backprop on the same
stream, under concept drift and class-incremental presentation, 3 seeds.

    python tools/streams_study.py            # ~15 minutes on 2 cores; resumable (asyncpc sweep)
    python tools/streams_study.py --smoke    # seconds: tiny data, 1 seed, a temporary folder

Two resumable sweeps (the one-line commands of docs/streams.md):

    asyncpc sweep scenarios/digits_drift.toml --grid learning.anneal=1.0,0.8 --seeds 3 --jobs 2 --out runs/streams/drift
    asyncpc sweep scenarios/digits_incremental.toml --grid data.incremental.rehearse=0.0,0.1 --seeds 3 --jobs 2 \\
        --out runs/streams/incremental

then, for every run, online backprop through exactly that run's stream (the same
network, initialisation, samples, order and targets: ``BackpropMLP.follow_stream``) at
each learning rate of ``--lrs``; backprop is reported at the rate whose mean over seeds
is best on the figure of merit (drift: mean test accuracy over the epochs after the
change; incremental: final test accuracy). asyncpc runs its shipped rates (no search):
the comparison gives backprop the larger budget. Writes docs/img/streams_drift.png and
docs/img/streams_incremental.png (``--img``) and prints the tables of docs/streams.md;
the last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from asyncpc.reference import BackpropMLP  # noqa: E402
from asyncpc.scenario import load_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STUDIES = {
    "drift": ("digits_drift.toml", "learning.anneal=1.0,0.8"),
    "incremental": ("digits_incremental.toml", "data.incremental.rehearse=0.0,0.1"),
}
SMOKE_SETS = ["data.n_train=60", "data.n_test=30", "data.present=4.0", "data.test_present=4.0",
              "network.sizes=[64,8,10]"]


def sweep(name: str, out: Path, seeds: int, jobs: int, sets: list[str]) -> Path:
    scenario, grid = STUDIES[name]
    cmd = [sys.executable, "-m", "asyncpc", "sweep", str(ROOT / "scenarios" / scenario), "--grid", grid,
           "--seeds", str(seeds), "--jobs", str(jobs), "--out", str(out / name), "--quiet",
           *sum((["--set", s] for s in sets), [])]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if res.returncode != 0:
        raise SystemExit(f"streams_study: {' '.join(cmd)} exited {res.returncode}:\n{res.stderr.strip()}")
    return out / name / "results.csv"


def per_epoch(run: Path) -> dict:
    """asyncpc's test predictions per epoch, from the run's metrics.csv."""
    out: dict = {}
    for r in csv.DictReader(open(run / "metrics.csv")):
        if r["split"] == "test":
            e = out.setdefault(int(r["epoch"]), {"target": [], "pred": []})
            e["target"].append(int(r["target"]))
            e["pred"].append(int(r["predicted"]))
    return {e: {k: np.asarray(v) for k, v in d.items()} for e, d in sorted(out.items())}


def energy_at_drift(run: Path, at: int, n: int = 200) -> dict:
    """Mean error energy per area over ``n`` training presentations: the last before the
    change, the first after it, and the last of the epoch after it (from metrics.csv's
    per-presentation energies: where in the hierarchy the surprise shows)."""
    rows = [r for r in csv.DictReader(open(run / "metrics.csv")) if r["split"] == "train"]
    areas = [k[len("energy_"):] for k in rows[0] if k.startswith("energy_") and k != "energy_total"]
    before = [r for r in rows if int(r["epoch"]) == at - 1][-n:]
    after = [r for r in rows if int(r["epoch"]) == at]
    out = {}
    for name, sel in (("before", before), ("after", after[:n]), ("settled", after[-n:])):
        out[name] = {a: float(np.mean([float(r[f"energy_{a}"]) for r in sel])) for a in areas}
    return out


def backprop(run: Path, lrs: list[float]) -> dict:
    """Online backprop through the run's own stream (its resolved scenario rebuilt once),
    from the run's initial weights at each rate: ``{lr: {epoch: test predictions}}``."""
    scn = load_scenario(run / "scenario.toml")
    c = scn.compile()
    data = scn.load_data()
    sched = scn.schedule(c, data)
    return {lr: {r["epoch"]: {"target": np.asarray(r["test_target"]), "pred": np.asarray(r["test_pred"])}
                 for r in BackpropMLP.from_compiled(c).follow_stream(sched, data, lr)} for lr in lrs}


def accuracy(ep: dict, classes=None) -> np.ndarray:
    acc = []
    for e in sorted(ep):
        t, p = ep[e]["target"], ep[e]["pred"]
        sel = np.ones(len(t), bool) if classes is None else np.isin(t, classes)
        acc.append(float(np.mean(p[sel] == t[sel])) if sel.any() else float("nan"))
    return np.asarray(acc)


def drift_figures(ep: dict, at: int, n_train: int) -> dict:
    acc = accuracy(ep)
    before, after = acc[at - 1], acc[at]
    level = 0.9 * before
    rec = next((k for k in range(at, len(acc)) if acc[k] >= level), None)
    return dict(curve=acc.tolist(), before=before, first_after=after, final=acc[-1],
                mean_after=float(np.mean(acc[at:])),
                recovery_presentations=None if rec is None else (rec - at + 1) * n_train)


def incremental_figures(ep: dict, blocks, per: int) -> dict:
    acc = accuracy(ep)
    ends = [min((b + 1) * per, len(acc)) - 1 for b in range(len(blocks))]
    learned = [accuracy(ep, blk)[ends[b]] for b, blk in enumerate(blocks)]
    final = [accuracy(ep, blk)[-1] for blk in blocks]
    forgetting = [learned[b] - final[b] for b in range(len(blocks) - 1)]
    return dict(curve=acc.tolist(), final=acc[-1], block_learned=learned, block_final=final,
                forgetting=float(np.mean(forgetting)) if forgetting else 0.0)


def study(name: str, results: Path, lrs: list[float]) -> dict:
    rows = list(csv.DictReader(open(results)))
    key = next(k for k in rows[0] if k not in ("seed", "point")) if rows else None
    out: dict = {}
    for value in sorted({r[key] for r in rows}):
        runs = [results.parent / "points" / r["point"] for r in rows if r[key] == value and r["status"] == "completed"]
        scn = load_scenario(runs[0] / "scenario.toml")
        d = scn.data
        if name == "drift":
            n_train = len(scn.load_data().y_train)
            fig = lambda ep: drift_figures(ep, d.regime.at[0], n_train)  # noqa: E731
            merit = "mean_after"
        else:
            fig = lambda ep: incremental_figures(ep, d.regime.classes, d.regime.epochs)  # noqa: E731
            merit = "final"
        pc = [fig(per_epoch(r)) for r in runs]
        if name == "drift":
            for f, r in zip(pc, runs):
                f["energy"] = energy_at_drift(r, d.regime.at[0])
        bp_runs = [backprop(r, lrs) for r in runs]
        bp_by_lr = {lr: [fig(b[lr]) for b in bp_runs] for lr in lrs}
        best = max(lrs, key=lambda lr: np.mean([f[merit] for f in bp_by_lr[lr]]))
        out[f"{key}={value}"] = dict(seeds=len(runs), asyncpc=pc, backprop=bp_by_lr[best], backprop_lr=best,
                                     backprop_by_lr={lr: float(np.mean([f[merit] for f in v]))
                                                     for lr, v in bp_by_lr.items()},
                                     merit=merit, regime=dict(at=list(d.regime.at)) if name == "drift" else
                                     dict(classes=[list(b) for b in d.regime.classes], epochs=d.regime.epochs))
    return out


def ms(xs) -> str:
    xs = [x for x in xs if x is not None]
    if not xs:
        return "never"
    return f"{100 * np.mean(xs):.1f} ± {100 * np.std(xs, ddof=1):.1f}" if len(xs) > 1 else f"{100 * xs[0]:.1f}"


def report(name: str, res: dict) -> None:
    if name == "drift":
        print("\n| setting | method | before the change | first epoch after | final | mean after | presentations to 90% of before |")
        print("|---|---|---|---|---|---|---|")
        for setting, r in res.items():
            for m in ("asyncpc", "backprop"):
                f = r[m]
                rec = [x["recovery_presentations"] for x in f]
                lab = m if m == "asyncpc" else f"backprop (lr {r['backprop_lr']:g})"
                print(f"| {setting} | {lab} | {ms([x['before'] for x in f])} | {ms([x['first_after'] for x in f])} | "
                      f"{ms([x['final'] for x in f])} | {ms([x['mean_after'] for x in f])} | "
                      f"{', '.join('never' if x is None else str(x) for x in rec)} |")
        print("\n| setting | error energy per area (mean of seeds) | last 200 before the change | first 200 after | last 200 of that epoch |")
        print("|---|---|---|---|---|")
        for setting, r in res.items():
            areas = list(r["asyncpc"][0]["energy"]["before"])
            for a in areas:
                cells = [np.mean([f["energy"][w][a] for f in r["asyncpc"]]) for w in ("before", "after", "settled")]
                print(f"| {setting} | {a} | " + " | ".join(f"{x:.4f}" for x in cells) + " |")
    else:
        print("\n| setting | method | final (all classes) | first block: learned -> final | forgetting (mean over blocks) |")
        print("|---|---|---|---|---|")
        for setting, r in res.items():
            for m in ("asyncpc", "backprop"):
                f = r[m]
                lab = m if m == "asyncpc" else f"backprop (lr {r['backprop_lr']:g})"
                print(f"| {setting} | {lab} | {ms([x['final'] for x in f])} | "
                      f"{ms([x['block_learned'][0] for x in f])} -> {ms([x['block_final'][0] for x in f])} | "
                      f"{ms([x['forgetting'] for x in f])} |")


def plot(name: str, res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(res), figsize=(5.5 * len(res), 3.6), squeeze=False)
    for ax, (setting, r) in zip(axes[0], res.items()):
        for m, color in (("asyncpc", "C0"), ("backprop", "C3")):
            cur = np.asarray([x["curve"] for x in r[m]])
            e = np.arange(1, cur.shape[1] + 1)
            mu, sd = np.nanmean(cur, 0), np.nanstd(cur, 0)
            lab = m if m == "asyncpc" else f"online backprop (lr {r['backprop_lr']:g})"
            ax.plot(e, mu, color=color, marker="o", ms=3, label=f"{lab}, {cur.shape[0]} seeds")
            ax.fill_between(e, mu - sd, mu + sd, color=color, alpha=0.2)
        if name == "drift":
            for a in r["regime"]["at"]:
                ax.axvline(a + 0.5, color="k", ls="--", lw=1)
            ax.set_title(f"label mapping changes after epoch {r['regime']['at'][0]} ({setting})", fontsize=9)
        else:
            k = r["regime"]["epochs"]
            for b, blk in enumerate(r["regime"]["classes"]):
                ax.axvspan(b * k + 0.5, (b + 1) * k + 0.5, color="0.5", alpha=0.08 * (b % 2 + 1))
                ax.text((b + 0.5) * k + 0.5, 0.02, ",".join(map(str, blk)), ha="center", fontsize=8)
            ax.set_title(f"classes in blocks, all tested ({setting})", fontsize=9)
        ax.set_xlabel("epoch (test after it)")
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/streams", help="where the sweeps write their runs (resumable)")
    ap.add_argument("--img", default=str(ROOT / "docs" / "img"), help="where the figures go")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--lrs", default="0.003,0.01,0.03", help="backprop's learning-rate search")
    ap.add_argument("--smoke", action="store_true", help="tiny data, 1 seed, in a temporary folder")
    a = ap.parse_args(argv)
    lrs = [float(x) for x in a.lrs.split(",")]
    sets: list[str] = []
    tmp = None
    if a.smoke:
        tmp = tempfile.TemporaryDirectory()
        a.out, a.img, a.seeds, sets = tmp.name, tmp.name, 1, SMOKE_SETS
    out, img = Path(a.out), Path(a.img)
    img.mkdir(parents=True, exist_ok=True)
    everything = {}
    for name in STUDIES:
        res = study(name, sweep(name, out, a.seeds, a.jobs, sets), lrs)
        report(name, res)
        plot(name, res, img / f"streams_{name}.png")
        everything[name] = res
    print(json.dumps(everything, default=lambda x: None if x is None else float(x)))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Streams that change over time (issue 24): asyncpc against online backprop on the same
stream, under concept drift (of the labels, of the inputs), class-incremental presentation
and few-shot training sets, 3 seeds, the same learning-rate budget for both.

    python tools/streams_study.py            # ~35 minutes on 2 cores; resumable (asyncpc sweep)
    python tools/streams_study.py --smoke    # seconds: tiny data, 1 seed, 1 rate, a temporary folder

Every (setting, rate) is one resumable ``asyncpc sweep`` over seeds, e.g.

    asyncpc sweep scenarios/digits_drift.toml --grid 'data.drift.change="inputs"' --seeds 3 \\
        --set learning.eta=0.0025 --set network.eta.input=0.005 --out runs/streams/drift/...

The budget: asyncpc runs at 0.5, 1 and 2 times its shipped rates (``learning.eta`` and
every per-projection ``network.eta``, scaled together); online backprop, through exactly
each run's stream (the same network, initialisation, samples, order and targets:
``BackpropMLP.follow_stream``), at 0.003, 0.01 and 0.03. Each method is reported at its
rate whose mean over seeds is best on the figure of merit (drift: mean test accuracy over
the epochs after the change; incremental and few-shot: final test accuracy), and asyncpc
also at its shipped rate. Then one traced run per drift (seed 0, shipped rate) counts the
messages each area sends per presentation around the change (in the same pool). Writes
docs/img/streams_*.png (``--img``), prints the tables of docs/streams.md; the last line
is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from asyncpc.reference import BackpropMLP  # noqa: E402
from asyncpc.scenario import load_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# name: (scenario, {setting: the grid item that makes it}, extra --set, figure of merit)
STUDIES = {
    "drift": ("digits_drift.toml", {"labels": 'data.drift.change="labels"', "inputs": 'data.drift.change="inputs"',
                                    "labels, over 2 epochs": "data.drift.over=2",
                                    # hidden neurons weigh the error from above fully (shipped: 0.5):
                                    # more of the settling that prospective configuration relies on
                                    "labels, feedback gain 1": "neurons.feedback_gain=1.0"},
              # a monitor round of 60 fixed test images after every 120 training presentations
              ["data.monitor_every=120", "data.monitor_size=60"], "mean_after"),
    "incremental": ("digits_incremental.toml", {"no rehearsal": "data.incremental.rehearse=0.0",
                                                "10% rehearsal": "data.incremental.rehearse=0.1"}, [], "final"),
    # n examples of each digit, 2,000 training presentations whatever n (test once, at the end)
    "fewshot": ("digits.toml", {n: f"data.per_class={n}" for n in ("1", "5", "20")},
                ["data.test_every_epoch=false", "data.train_eval=0"], "final"),
}
FEWSHOT_PRESENTATIONS = 2000
RATES = (0.5, 1.0, 2.0)
LRS = (0.003, 0.01, 0.03)
SMOKE_SETS = ["data.n_test=30", "data.present=4.0", "data.test_present=4.0", "network.sizes=[64,8,10]"]
TRACE_BEFORE, TRACE_AFTER = 10, 30  # presentations traced around the change


def run(cmd: list[str]) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if res.returncode != 0:
        raise SystemExit(f"streams_study: {' '.join(cmd)} exited {res.returncode}:\n{res.stderr.strip()}")


def rate_sets(scenario: Path, m: float) -> list[str]:
    """``--set``s that scale every learning rate of the scenario by ``m``."""
    scn = load_scenario(scenario)
    sets = [f"learning.eta={scn.learning.plasticity.eta * m!r}"]
    sets += [f"network.eta.{p.src}={p.eta * m!r}" for p in scn.network.projections or () if p.eta is not None]
    return sets


def setting_sets(name: str, setting: str, small: bool) -> list[str]:
    if name != "fewshot":
        return ["data.n_train=60"] if small else []
    return [f"data.epochs={max(1, round((200 if small else FEWSHOT_PRESENTATIONS) / (10 * int(setting))))}"]


def sweep_dir(out: Path, name: str, setting: str, m: float) -> Path:
    return out / name / f"{setting.replace(' ', '_').replace(',', '').replace('%', 'pc')}-rate{m:g}"


def sweeps(out: Path, seeds: int, jobs: int, small: bool, rates, settings) -> None:
    """Every (study, setting, rate) sweep, and the traced drift runs, ``jobs`` at a time
    (one process each)."""
    cmds = []
    for name, (scenario, grid, extra, _) in STUDIES.items():
        path = ROOT / "scenarios" / scenario
        for setting in settings(grid):
            for m in rates:
                sets = rate_sets(path, m) + extra + setting_sets(name, setting, small) + (SMOKE_SETS if small else [])
                cmds.append([sys.executable, "-m", "asyncpc", "sweep", str(path), "--grid", grid[setting],
                             "--seeds", str(seeds), "--jobs", "1", "--out", str(sweep_dir(out, name, setting, m)),
                             "--quiet", *sum((["--set", s] for s in sets), [])])
    cmds += [trace_cmd(out, s, small) for s in settings(STUDIES["drift"][1])
             if not (trace_dir(out, s) / "summary.json").exists()]
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        list(pool.map(run, cmds))


def completed(d: Path) -> list[Path]:
    rows = list(csv.DictReader(open(d / "results.csv")))
    return [d / "points" / r["point"] for r in sorted(rows, key=lambda r: int(r["seed"])) if r["status"] == "completed"]


def read_run(run_dir: Path) -> tuple[dict, list]:
    """asyncpc's test predictions per epoch and its monitor rounds (training presentations
    before each, accuracy), from the run's metrics.csv."""
    ep: dict = {}
    rounds: list = []
    done, prev = 0, None
    for r in csv.DictReader(open(run_dir / "metrics.csv")):
        sp = r["split"]
        if sp == "train":
            done += 1
        elif sp == "test":
            e = ep.setdefault(int(r["epoch"]), {"target": [], "pred": []})
            e["target"].append(int(r["target"]))
            e["pred"].append(int(r["predicted"]))
        elif sp == "monitor":
            if prev != "monitor":
                rounds.append([done, 0, 0])
            rounds[-1][1] += r["correct"] in ("1", "True", "true")
            rounds[-1][2] += 1
        prev = sp
    ep = {e: {k: np.asarray(v) for k, v in d.items()} for e, d in sorted(ep.items())}
    return ep, [(n, c / k) for n, c, k in rounds]


def energy_at_drift(run_dir: Path, at: int, n: int = 200) -> dict:
    """Mean error energy per area over ``n`` training presentations: the last before the
    change, the first after it, and the last of the epoch after it (from metrics.csv's
    per-presentation energies: where in the hierarchy the surprise shows)."""
    rows = [r for r in csv.DictReader(open(run_dir / "metrics.csv")) if r["split"] == "train"]
    areas = [k[len("energy_"):] for k in rows[0] if k.startswith("energy_") and k != "energy_total"]
    before = [r for r in rows if int(r["epoch"]) == at - 1][-n:]
    after = [r for r in rows if int(r["epoch"]) == at]
    return {name: {a: float(np.mean([float(r[f"energy_{a}"]) for r in sel])) for a in areas}
            for name, sel in (("before", before), ("after", after[:n]), ("settled", after[-n:]))}


def backprop(run_dir: Path, lrs) -> dict:
    """Online backprop through the run's own stream (its resolved scenario rebuilt once),
    from the run's initial weights at each rate: ``{lr: (test predictions per epoch,
    monitor rounds)}``."""
    scn = load_scenario(run_dir / "scenario.toml")
    c = scn.compile()
    data = scn.load_data()
    sched = scn.schedule(c, data)
    out = {}
    for lr in lrs:
        res = BackpropMLP.from_compiled(c).follow_stream(sched, data, lr)
        out[lr] = ({r["epoch"]: {"target": np.asarray(r["test_target"]), "pred": np.asarray(r["test_pred"])}
                    for r in res if len(r["test_target"])},
                   [(x["presentations"], x["accuracy"]) for r in res for x in r["monitor"]])
    return out


def accuracy(ep: dict, classes=None) -> np.ndarray:
    acc = []
    for e in sorted(ep):
        t, p = ep[e]["target"], ep[e]["pred"]
        sel = np.ones(len(t), bool) if classes is None else np.isin(t, classes)
        acc.append(float(np.mean(p[sel] == t[sel])) if sel.any() else float("nan"))
    return np.asarray(acc)


def drift_figures(ep: dict, rounds: list, at: int, n_train: int) -> dict:
    """Per-epoch figures, and from the monitor rounds the recovery in presentations: the
    first round after the change at 90% of the level before it (the mean of the last three
    rounds before the change), counted from the change."""
    acc = accuracy(ep)
    x = np.asarray([n for n, _ in rounds])
    y = np.asarray([a for _, a in rounds])
    change = at * n_train
    level = float(np.mean(y[x <= change][-3:])) if (x <= change).any() else float("nan")
    after = np.flatnonzero((x > change) & (y >= 0.9 * level))
    return dict(curve=acc.tolist(), before=acc[at - 1], first_after=acc[at], final=acc[-1],
                mean_after=float(np.mean(acc[at:])), monitor=[x.tolist(), y.tolist()], monitor_level=level,
                monitor_low=float(y[x > change].min()) if (x > change).any() else None,
                recovery_presentations=int(x[after[0]] - change) if len(after) else None)


def incremental_figures(ep: dict, rounds, blocks, per: int) -> dict:
    acc = accuracy(ep)
    ends = [min((b + 1) * per, len(acc)) - 1 for b in range(len(blocks))]
    learned = [accuracy(ep, blk)[ends[b]] for b, blk in enumerate(blocks)]
    final = [accuracy(ep, blk)[-1] for blk in blocks]
    forgetting = [learned[b] - final[b] for b in range(len(blocks) - 1)]
    return dict(curve=acc.tolist(), final=acc[-1], block_learned=learned, block_final=final,
                forgetting=float(np.mean(forgetting)) if forgetting else 0.0)


def fewshot_figures(ep: dict, rounds) -> dict:
    acc = accuracy(ep)
    return dict(curve=acc.tolist(), final=acc[-1])


def figures_of(name: str, scn, n_train: int):
    d = scn.data
    if name == "drift":
        return lambda ep, rounds: drift_figures(ep, rounds, d.regime.at[0], n_train)
    if name == "incremental":
        return lambda ep, rounds: incremental_figures(ep, rounds, d.regime.classes, d.regime.epochs)
    return fewshot_figures


def best(by_rate: dict, merit: str):
    return max(by_rate, key=lambda k: np.mean([f[merit] for f in by_rate[k]]))


def study(name: str, out: Path, rates, lrs, settings) -> dict:
    """Figures per setting: asyncpc at each rate, backprop (through the shipped-rate runs'
    streams, which every rate shares) at each learning rate, and the best of each."""
    _, grid, _, merit = STUDIES[name]
    res: dict = {}
    for setting in settings(grid):
        runs = {m: completed(sweep_dir(out, name, setting, m)) for m in rates}
        ref = runs[1.0] if 1.0 in runs else runs[rates[0]]
        scn = load_scenario(ref[0] / "scenario.toml")
        n_train = len(scn.load_data().y_train)
        fig = figures_of(name, scn, n_train)
        pc = {m: [fig(*read_run(r)) for r in rs] for m, rs in runs.items()}
        bps = [backprop(r, lrs) for r in ref]
        bp = {lr: [fig(*b[lr]) for b in bps] for lr in lrs}
        shipped = pc.get(1.0, pc[rates[0]])
        if name == "drift":
            for f, r in zip(shipped, ref):
                f["energy"] = energy_at_drift(r, scn.data.regime.at[0])
        m_best, lr_best = best(pc, merit), best(bp, merit)
        reg = scn.data.regime
        res[setting] = dict(
            seeds=len(ref), merit=merit, asyncpc_shipped=shipped, asyncpc=pc[m_best], asyncpc_rate=m_best,
            backprop=bp[lr_best], backprop_lr=lr_best,
            asyncpc_by_rate={m: float(np.mean([f[merit] for f in v])) for m, v in pc.items()},
            backprop_by_lr={lr: float(np.mean([f[merit] for f in v])) for lr, v in bp.items()},
            regime=None if reg is None else dict(at=list(reg.at), over=reg.over, change=reg.change)
            if name == "drift" else dict(classes=[list(b) for b in reg.classes], epochs=reg.epochs),
            epochs=scn.data.epochs, n_train=n_train)
    return res


def _trace_window(setting: str, small: bool):
    """The traced run's overrides, its change and the training presentations around it:
    the last ``TRACE_BEFORE`` before the change and the first ``TRACE_AFTER`` from it
    (schedule indices; a test block and monitor rounds may lie between them; and how
    many are before), and the schedule's presentation starts (steps)."""
    scenario, grid, extra, _ = STUDIES["drift"]
    path = ROOT / "scenarios" / scenario
    sets = extra + [grid[setting]] + ((SMOKE_SETS + ["data.n_train=60"]) if small else [])
    scn = load_scenario(path, overrides=sets)
    m = scn.schedule(scn.compile(), scn.load_data()).meta
    train = np.flatnonzero(m["split"] == 0)
    i0 = int(np.argmax(m["regime"][train] > 0))  # the first training presentation of the new task
    before = train[max(i0 - TRACE_BEFORE, 0):i0]
    pick = np.concatenate([before, train[i0:i0 + TRACE_AFTER]])
    return path, sets, (scn.data.regime.at[0], scn.data.regime.over), (pick, len(before)), m["t0"], scn


def trace_dir(out: Path, setting: str) -> Path:
    return out / "drift" / f"trace-{setting.replace(' ', '_').replace(',', '')}"


def trace_cmd(out: Path, setting: str, small: bool) -> list[str]:
    """One traced run (seed 0, shipped rates) stopped one epoch after the change (or its
    transition), its sends recorded from the first to the last training presentation
    picked around the change (the stream up to there is the sweep's seed-0 run's)."""
    path, sets, (at, over), (pick, _), t0, scn = _trace_window(setting, small)
    h, P = scn.run.h, scn.data.present
    sets = sets + [f"data.epochs={at + max(over, 1)}", "trace.enabled=true", "trace.max_rows=1000000000",
                   f"trace.from={float(t0[pick[0]] * h)!r}", f"trace.to={float(t0[pick[-1]] * h + P)!r}",
                   "output.plots=false"]
    return [sys.executable, "-m", "asyncpc", "run", str(path), "--seed", "0", "--out", str(trace_dir(out, setting)),
            "--quiet", *sum((["--set", s] for s in sets), [])]


def trace_counts(out: Path, setting: str, small: bool) -> dict:
    """Sends per training presentation by area and kind around the change (with
    event-driven messaging a send is a surprise: a state that moved by more than the
    threshold): rows are the picked presentations, ``before`` of them before the change."""
    from asyncpc.trace import load

    _, _, _, (pick, before), t0, _ = _trace_window(setting, small)
    tr = load(trace_dir(out, setting))
    t = np.asarray(tr.sends.column("t"))
    src = np.asarray(tr.sends.column("src"))
    nt = tr.neurons.to_pydict()
    groups = [f"{a} {k}" for a, k in zip(nt["area"], nt["kind"])]
    names = sorted(set(groups), key=groups.index)
    code = np.asarray([names.index(g) for g in groups])
    pres = np.searchsorted(t0, t, side="right") - 1  # the presentation each send falls in
    row = np.full(len(t0), -1)
    row[pick] = np.arange(len(pick))
    k = row[pres]
    counts = np.zeros((len(pick), len(names)), np.int64)
    np.add.at(counts, (k[k >= 0], code[src[k >= 0]]), 1)
    return dict(groups=names, per_presentation=counts.tolist(), before=before)


def ms(xs) -> str:
    xs = [x for x in xs if x is not None]
    if not xs:
        return "never"
    return f"{100 * np.mean(xs):.1f} ± {100 * np.std(xs, ddof=1):.1f}" if len(xs) > 1 else f"{100 * xs[0]:.1f}"


def _methods(r: dict):
    yield "asyncpc, shipped rate", r["asyncpc_shipped"]
    yield f"asyncpc, best rate (x{r['asyncpc_rate']:g})", r["asyncpc"]
    yield f"online backprop, best lr ({r['backprop_lr']:g})", r["backprop"]


def report(name: str, res: dict, traces: dict) -> None:
    rates = lambda r: ", ".join(f"x{m:g}: {100 * v:.1f}" for m, v in r["asyncpc_by_rate"].items())  # noqa: E731
    lrs = lambda r: ", ".join(f"{lr:g}: {100 * v:.1f}" for lr, v in r["backprop_by_lr"].items())  # noqa: E731
    for setting, r in res.items():
        print(f"\n{name} {setting}: {r['merit']} by rate: asyncpc {rates(r)}; backprop {lrs(r)}")
    if name == "drift":
        print("\n| drift | method | before the change | first epoch after | final | mean after | lowest monitor "
              "round after | presentations to 90% of before (per seed) |")
        print("|---|---|---|---|---|---|---|---|")
        for setting, r in res.items():
            for lab, f in _methods(r):
                rec = ", ".join("never" if x["recovery_presentations"] is None else str(x["recovery_presentations"])
                                for x in f)
                print(f"| {setting} | {lab} | {ms([x['before'] for x in f])} | {ms([x['first_after'] for x in f])} | "
                      f"{ms([x['final'] for x in f])} | {ms([x['mean_after'] for x in f])} | "
                      f"{ms([x['monitor_low'] for x in f])} | {rec} |")
        print("\n| drift | area | error energy: last 200 before | first 200 after | last 200 of that epoch |")
        print("|---|---|---|---|---|")
        for setting, r in res.items():
            f = r["asyncpc_shipped"]
            for a in f[0]["energy"]["before"]:
                cells = [np.mean([x["energy"][w][a] for x in f]) for w in ("before", "after", "settled")]
                print(f"| {setting} | {a} | " + " | ".join(f"{x:.4f}" for x in cells) + " |")
        print(f"\n| drift | sender | sends per presentation: {TRACE_BEFORE} before | first 10 after | 20-30 after |")
        print("|---|---|---|---|---|")
        for setting, tr in traces.items():
            c = np.asarray(tr["per_presentation"], float)
            b = tr["before"]
            for g, group in enumerate(tr["groups"]):
                cells = [c[:b, g].mean(), c[b:b + 10, g].mean(), c[b + 20:, g].mean()]
                print(f"| {setting} | {group} | " + " | ".join(f"{x:,.0f}" for x in cells) + " |")
    elif name == "incremental":
        print("\n| rehearsal | method | final (all classes) | first block: learned -> final | forgetting (mean over blocks) |")
        print("|---|---|---|---|---|")
        for setting, r in res.items():
            for lab, f in _methods(r):
                print(f"| {setting} | {lab} | {ms([x['final'] for x in f])} | "
                      f"{ms([x['block_learned'][0] for x in f])} -> {ms([x['block_final'][0] for x in f])} | "
                      f"{ms([x['forgetting'] for x in f])} |")
    else:
        print("\n| examples per class | epochs (passes) | method | test accuracy |")
        print("|---|---|---|---|")
        for setting, r in res.items():
            for lab, f in _methods(r):
                print(f"| {setting} | {r['epochs']} | {lab} | {ms([x['final'] for x in f])} |")


METHODS = (("asyncpc_shipped", "C0", "asyncpc, shipped rate"), ("asyncpc", "C2", "asyncpc, best rate"),
           ("backprop", "C3", "online backprop, best lr"))


def _label(r: dict, key: str, lab: str, n: int) -> str:
    rate = f" (x{r['asyncpc_rate']:g})" if key == "asyncpc" else f" ({r['backprop_lr']:g})" if key == "backprop" else ""
    return f"{lab}{rate}, {n} seeds"


def plot(name: str, res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 1 if name == "fewshot" else min(len(res), 2)
    rows = -(-len(res) // cols) if name != "fewshot" else 1
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 3.6 * rows), squeeze=False)
    axes = [list(axes.ravel())]
    if name == "fewshot":
        ax = axes[0][0]
        n = np.asarray([int(s) for s in res])
        for key, color, lab in METHODS:
            acc = np.asarray([[x["final"] for x in r[key]] for r in res.values()])
            ax.errorbar(n, acc.mean(1), yerr=acc.std(1), color=color, marker="o", ms=4, capsize=3,
                        label=_label(next(iter(res.values())), key, lab, acc.shape[1]) if key == "asyncpc_shipped"
                        else f"{lab}, {acc.shape[1]} seeds")
        ax.set_xscale("log")
        ax.set_xticks(n, [str(x) for x in n])
        ax.set_xlabel(f"training examples per class ({FEWSHOT_PRESENTATIONS:,} presentations)")
        axes = [[ax]]
    else:
        for ax in axes[0][len(res):]:
            ax.set_visible(False)
        axes = [axes[0][:len(res)]]
    for ax, (setting, r) in zip(axes[0], res.items() if name != "fewshot" else ()):
        for key, color, lab in METHODS:
            if name == "drift":  # the monitor rounds: accuracy every 120 presentations
                x = np.asarray(r[key][0]["monitor"][0]) / r["n_train"]
                cur = np.asarray([f["monitor"][1] for f in r[key]])
            else:
                cur = np.asarray([f["curve"] for f in r[key]])
                x = np.arange(1, cur.shape[1] + 1)
            mu, sd = np.nanmean(cur, 0), np.nanstd(cur, 0)
            ax.plot(x, mu, color=color, lw=1.2, marker=None if name == "drift" else "o", ms=3,
                    label=_label(r, key, lab, cur.shape[0]))
            ax.fill_between(x, mu - sd, mu + sd, color=color, alpha=0.15)
        if name == "drift":
            reg = r["regime"]
            for a in reg["at"]:
                ax.axvline(a, color="k", ls="--", lw=1)
                if reg["over"]:
                    ax.axvspan(a, a + reg["over"], color="0.5", alpha=0.12)
            what = "label mapping" if reg["change"] == "labels" else "pixel permutation"
            ax.set_title(f"{setting}: the {what} changes at epoch {reg['at'][0]}"
                         + (f", over {reg['over']} epochs" if reg["over"] else ""), fontsize=9)
            ax.set_xlabel("training, in epochs (a monitor round every 120 presentations)", fontsize=9)
        else:
            k = r["regime"]["epochs"]
            for b, blk in enumerate(r["regime"]["classes"]):
                ax.axvspan(b * k + 0.5, (b + 1) * k + 0.5, color="0.5", alpha=0.08 * (b % 2 + 1))
                ax.text((b + 0.5) * k + 0.5, 0.02, ",".join(map(str, blk)), ha="center", fontsize=8)
            ax.set_title(f"classes in blocks, all tested ({setting})", fontsize=9)
            ax.set_xlabel("epoch (test after it)")
    for ax in axes[0]:
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/streams", help="where the sweeps write their runs (resumable)")
    ap.add_argument("--img", default=str(ROOT / "docs" / "img"), help="where the figures go")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2, help="sweeps at a time (one process each)")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny data, 1 seed, the shipped rate, the first setting of each study, a temporary folder")
    a = ap.parse_args(argv)
    rates, settings, small = RATES, (lambda g: list(g)), False
    tmp = None
    if a.smoke:
        tmp = tempfile.TemporaryDirectory()
        a.out, a.img, a.seeds, small = tmp.name, tmp.name, 1, True
        rates, settings = (1.0,), (lambda g: list(g)[:1])
    out, img = Path(a.out), Path(a.img)
    img.mkdir(parents=True, exist_ok=True)
    sweeps(out, a.seeds, a.jobs, small, rates, settings)
    everything = {}
    for name in STUDIES:
        res = study(name, out, rates, LRS, settings)
        traces = {s: trace_counts(out, s, small) for s in settings(STUDIES[name][1])} if name == "drift" else {}
        report(name, res, traces)
        plot(name, res, img / f"streams_{name}.png")
        everything[name] = dict(res, traces=traces) if traces else res
    print(json.dumps(everything, default=lambda x: None if x is None else float(x)))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``asyncpc sweep``: a grid of scenario overrides x seeds, in parallel processes, resumable."""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from ..errors import AsyncPCError
from ._rundir import atomic_write

__all__ = ["parse_grid", "parse_zip", "sweep"]

log = logging.getLogger("asyncpc")

SUMMARY_FIELDS = ("status", "test_accuracy", "train_accuracy", "final_energy", "messages_sent",
                  "messages_delivered", "messages_dropped", "sim_time_ms", "wall_seconds",
                  "backprop_test_accuracy", "feedforward_test_accuracy", "time_to_accuracy_ms",
                  "messages_per_sample")


def parse_grid(items: list[str], option: str = "--grid") -> dict[str, list[str]]:
    """``["delays.forward.mean=0.1,0.3", ...]`` -> {key: [raw values]} (values kept as TOML text)."""
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, vals = item.partition("=")
        key = key.strip()
        if not sep or not key or not vals.strip():
            raise AsyncPCError(f"{option}: expected key=v1,v2,..., got {item!r}")
        parts, depth, cur = [], 0, ""
        for ch in vals:  # split on commas outside brackets/braces: lists and tables stay whole
            if ch in "[{":
                depth += 1
            elif ch in "]}":
                depth -= 1
            if ch == "," and depth == 0:
                parts.append(cur.strip())
                cur = ""
            else:
                cur += ch
        parts.append(cur.strip())
        if any(not p for p in parts):
            raise AsyncPCError(f"{option} {key}: empty value in {vals!r}")
        if key in grid:
            raise AsyncPCError(f"{option} {key}: given twice")
        grid[key] = parts
    return grid


def parse_zip(items: list[str]) -> dict[str, list[str]]:
    """``--zip`` items: keys whose values go together, the i-th value of every key in the
    i-th row (e.g. a delay and the label delay matched to it); every key needs as many
    values."""
    linked = parse_grid(items, "--zip")
    counts = {k: len(v) for k, v in linked.items()}
    if len(set(counts.values())) > 1:
        raise AsyncPCError("--zip: every key needs the same number of values, got "
                           + ", ".join(f"{k}: {n}" for k, n in counts.items()))
    return linked


def grid_points(grid: dict[str, list[str]], linked: dict[str, list[str]] | None = None) -> list[dict]:
    """Every point of a sweep: the product of the ``grid`` keys' values, times the rows of
    ``linked`` (the ``--zip`` keys, which vary together); with neither, the one point of the
    scenario as it is (run once per seed)."""
    linked = linked or {}
    both = sorted(set(grid) & set(linked))
    if both:
        raise AsyncPCError(f"sweep: {both[0]} is given to both --grid and --zip")
    rows = [dict(zip(linked, vals)) for vals in zip(*linked.values())] if linked else [{}]
    return [{**dict(zip(grid, combo)), **row} for combo in itertools.product(*grid.values()) for row in rows]


def _point_id(point: dict, seed: int) -> str:
    text = json.dumps(sorted(point.items())) + f"|{seed}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _run_point(scenario: str, sets: list[str], out: str, seed: int, limits=(None, None)) -> dict:
    """Runs in a worker process; returns the summary (errors are reported, not raised)."""
    from ..scenario import load_scenario
    from ._run import execute

    try:
        scn = load_scenario(scenario, [*sets, f"run.seed={seed}", "run.threads=1"])
        return execute(scn, out=out, runtime=None, threads=1, quiet=True, overwrite=True,  # reruns unfinished points
                       argv=["asyncpc", "run", scenario, *[f"--set={s}" for s in sets]],
                       max_disk=limits[0], max_memory=limits[1])
    except AsyncPCError as exc:
        return {"status": "error", "error": str(exc)}


def sweep(scenario: str, grid: dict[str, list[str]], *, seeds: int, jobs: int, out, extra_sets=(),
          quiet=False, max_disk=None, max_memory=None, ranks=None, linked=None) -> Path | None:
    """Run every grid point (:func:`grid_points` of ``grid`` and ``linked``) for seeds
    0..seeds-1; skip points whose run finished before. A folder holds one sweep: a rerun
    into it with other ``extra_sets`` or another scenario is refused (its points would mix
    two settings).
    Every point is checked, and the sweep's memory (``jobs`` runs at a time) and disk
    (every run) estimated, before any process starts.

    On MPI ``ranks`` (``mpiexec -n K asyncpc sweep``, e.g. across a cluster's nodes) rank
    ``r`` runs every K-th point from the ``r``-th, ``jobs`` at a time (default: its host's
    CPUs shared among the ranks on it), and rank 0 writes ``results.csv`` and the plots
    (returns its path; None on the other ranks)."""
    from ..scenario import load_scenario

    out = Path(out)
    points = grid_points(grid, linked)
    keys = list(points[0])
    # fail fast on a bad key or value, before any process starts
    scns = [load_scenario(scenario, [*extra_sets, *[f"{k}={v}" for k, v in p.items()]]) for p in points]
    from ._threads import usable_cpus

    jobs = max(1, jobs or usable_cpus() // (ranks.local_size if ranks else 1))
    if ranks is None or ranks.root:
        (out / "points").mkdir(parents=True, exist_ok=True)
        _same_sweep(out, scenario, list(extra_sets))
        todo, rows = _todo(out, points, seeds)
        _check_sweep([scns[points.index(p)] for p, _, _ in todo], jobs * (ranks.local_size if ranks else 1), out,
                     max_disk, max_memory)
        if not quiet:
            log.info(f"sweep: {len(points)} points x {seeds} seeds; {len(rows)} done before, {len(todo)} to run"
                     + (f" on {ranks.size} MPI ranks" if ranks else ""))
    if ranks is not None:  # rank 0 decided what is left; each rank takes every K-th point
        todo = ranks.bcast(todo if ranks.root else None, "the sweep's points")[ranks.rank::ranks.size]
        mine, rows = {}, (rows if ranks.root else {})
    else:
        mine = rows
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        futs = {ex.submit(_run_point, scenario, [*extra_sets, *[f"{k}={v}" for k, v in p.items()]],
                          str(out / "points" / pid), seed, (max_disk, max_memory)): (p, seed, pid)
                for p, seed, pid in todo}
        for k, f in enumerate(as_completed(futs), 1):
            p, seed, pid = futs[f]
            s = f.result()
            mine[pid] = (p, seed, s)
            if not quiet:
                log.info(f"sweep [{k}/{len(todo)}] {p} seed={seed}: {s.get('status')} "
                         f"test_accuracy={s.get('test_accuracy')}")
            if ranks is None:
                _write_results(out, keys, rows)
    if ranks is not None:  # every rank's rows to rank 0 (a few dicts, once: pickled)
        ranks.barrier("the other ranks' sweep points", timeout=float("inf"))
        for part in ranks.comm.gather(mine, root=0) or ():
            rows.update(part)
        if not ranks.root:
            return None
    _write_results(out, keys, rows)
    _plot(out, keys, rows)
    return out / "results.csv"


def _same_sweep(out: Path, scenario: str, sets: list[str]) -> None:
    """Record what the points of ``out`` share (scenario file and ``--set`` overrides), or
    refuse a sweep that differs from the one recorded there."""
    path = out / "sweep.json"
    mine = {"scenario": Path(scenario).name, "set": sets}
    if path.exists():
        try:
            before = json.loads(path.read_text())
        except ValueError:
            raise AsyncPCError(f"{path}: not the JSON a sweep writes; give another --out") from None
        for k, what in (("scenario", "scenario"), ("set", "--set overrides")):
            if before.get(k) != mine[k]:
                raise AsyncPCError(f"--out {out}: holds a sweep with {what} {before.get(k)!r}, not {mine[k]!r}; "
                                   "give another --out (its points would mix two settings)")
        return
    atomic_write(path, json.dumps(mine, indent=1))


def _todo(out: Path, points: list, seeds: int) -> tuple[list, dict]:
    """The runs left to do, and the rows of those that completed before."""
    todo, rows = [], {}
    for p in points:
        for seed in range(seeds):
            pid = _point_id(p, seed)
            summ = out / "points" / pid / "summary.json"
            if summ.exists():
                s = json.loads(summ.read_text())
                if s.get("status") == "completed":
                    rows[pid] = (p, seed, s)
                    continue
            todo.append((p, seed, pid))
    return todo, rows


def _check_sweep(scns: list, jobs: int, out: Path, max_disk, max_memory) -> None:
    """The runs to do, up front: each alone, then ``jobs`` of the hungriest at a time in
    memory and all of them on disk (ResourceError naming the key, as for one run)."""
    from ._resources import check_resources, estimate_scenario, limits_from_env

    if not scns:
        return
    d, m = limits_from_env(max_disk, max_memory)
    ests = []
    for scn in scns:
        est = estimate_scenario(scn)
        check_resources(est, out, max_disk=d, max_memory=m)
        scn.footprint().check_limits(scn)
        ests.append(est)
    n, k = len(ests), min(jobs, len(ests))
    if n > 1:
        from dataclasses import replace

        mem = replace(max(ests, key=lambda e: e.memory_bytes), scale=(k, 0, f" for {k} runs at a time (--jobs {jobs})"))
        disk = replace(max(ests, key=lambda e: e.disk), scale=(0, n, f" for {n} runs"))
        check_resources(mem, out, max_memory=m)  # a scale of 0 leaves the other check out
        check_resources(disk, out, max_disk=d)


def _write_results(out: Path, keys, rows) -> None:
    tmp = out / ".results.csv.tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*keys, "seed", "point", *SUMMARY_FIELDS, "error"])
        for pid, (p, seed, s) in sorted(rows.items(), key=lambda kv: (list(kv[1][0].values()), kv[1][1])):
            w.writerow([*[p[k] for k in keys], seed, pid, *[s.get(k, "") for k in SUMMARY_FIELDS],
                        s.get("error", "")])
    os.replace(tmp, out / "results.csv")


def _as_number(v):
    try:
        return float(v)
    except ValueError:
        return None


def _plot(out: Path, keys, rows) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (out / "plots").mkdir(exist_ok=True)
    metrics = [m for m in ("test_accuracy", "train_accuracy", "final_energy", "messages_sent",
                           "time_to_accuracy_ms", "messages_per_sample")
               if any(isinstance(s.get(m), (int, float)) for _, _, s in rows.values())]
    for key in keys:
        for metric in metrics:
            groups: dict = {}
            for p, _, s in rows.values():
                v = s.get(metric)
                if isinstance(v, (int, float)):
                    groups.setdefault(p[key], []).append(float(v))
            if not groups:
                continue
            labels = sorted(groups, key=lambda x: (_as_number(x) is None, _as_number(x) or 0, x))
            xs = [(_as_number(x) if _as_number(x) is not None else i) for i, x in enumerate(labels)]
            mean = [np.mean(groups[x]) for x in labels]
            sd = [np.std(groups[x]) for x in labels]
            fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
            ax.errorbar(xs, mean, yerr=sd, fmt="o-", capsize=3)
            ax.set_xticks(xs, labels, rotation=30 if max(len(x) for x in labels) > 6 else 0)
            ax.set_xlabel(key)
            ax.set_ylabel(f"{metric} (mean ± sd over seeds)")
            ax.grid(alpha=0.3)
            fig.savefig(out / "plots" / f"{metric}_vs_{key.replace('.', '_')}.png", dpi=110)
            plt.close(fig)
    # energy curves per point (seed 0), from each point's metrics.csv
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    drawn = 0
    for pid, (p, seed, s) in rows.items():
        f = out / "points" / pid / "metrics.csv"
        if seed != 0 or not f.exists():
            continue
        with open(f) as fh:
            r = list(csv.DictReader(fh))
        if r and "energy_total" in r[0]:
            t = [float(x["t_ms"]) for x in r]
            e = [max(float(x["energy_total"]), 1e-12) for x in r]
            ax.plot(t, e, lw=0.7, label=", ".join(f"{k}={v}" for k, v in p.items()))
            drawn += 1
    if drawn:
        ax.set_yscale("log")
        ax.set_xlabel("simulated time (ms)")
        ax.set_ylabel("energy at read-out")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        fig.savefig(out / "plots" / "energy_per_point.png", dpi=110)
    plt.close(fig)

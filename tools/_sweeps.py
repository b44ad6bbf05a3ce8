"""Shared by the study tools: run one ``asyncpc sweep`` of ``scenarios/digits.toml`` and
read its finished points back (results.csv rows joined with each point's summary.json)."""

from __future__ import annotations

import contextlib
import csv
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the study tools import this checkout's asyncpc, as their sweeps run it
    sys.path.insert(0, str(ROOT))
DIGITS = ROOT / "scenarios" / "digits.toml"
#: the plain-equations baseline the 4-epoch studies ran on (the main job's stream, no options)
PLAIN = ROOT / "scenarios" / "digits_plain.toml"
#: --smoke: every point on a tiny network and data set for one epoch, without plots (after
#: the arm's own overrides, so these win)
SMOKE_SETS = ["network.sizes=[64, 16, 10]", "data.max_train=20", "data.max_test=10", "data.train_eval=10",
              "data.epochs=1", "output.plots=false"]


def first_values(grid: list[str]) -> list[str]:
    """``--grid`` (or ``--zip``) items cut to their first value each (one point per seed)."""
    from asyncpc.cli._sweep import parse_grid

    return [f"{k}={v[0]}" for k, v in parse_grid(grid).items()]


def run_sweep(out: Path, sets: list[str], grid: list[str], *, seeds: int, jobs: int, scenario: Path = DIGITS,
              smoke: bool = False, zipped: list[str] = ()) -> None:
    """``asyncpc sweep`` with one engine thread per point (``jobs`` points at a time);
    resumable: finished points are not rerun. ``zipped``: ``--zip`` items (keys whose values
    go together). ``smoke``: the same sweep cut to the first value of each key, on
    ``SMOKE_SETS``."""
    if smoke:
        sets, grid, zipped = [*sets, *SMOKE_SETS], first_values(grid), first_values(list(zipped))
    cmd = [sys.executable, "-m", "asyncpc", "sweep", str(scenario), "--seeds", str(seeds), "--jobs", str(jobs),
           "--out", str(out), "--quiet", "--set", "run.threads=1"]
    for s in sets:
        cmd += ["--set", s]
    for g in grid:
        cmd += ["--grid", g]
    for z in zipped:
        cmd += ["--zip", z]
    print("$", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)  # from ROOT, ``-m asyncpc`` is this checkout's package


def finished(out: Path) -> list[dict]:
    """The completed points of a sweep: results.csv's row plus ``summary`` (the point's
    summary.json, for fields results.csv does not hold, e.g. the W/V angles)."""
    path = out / "results.csv"
    if not path.exists():
        return []
    rows = []
    with open(path) as f:
        for r in csv.DictReader(f):
            if r.get("status") != "completed":
                continue
            p = out / "points" / r["point"] / "summary.json"
            r["summary"] = json.loads(p.read_text()) if p.exists() else {}
            rows.append(r)
    return rows


def study_args(doc: str, parts: list[str], argv=None):
    """The study tools' command line: ``--plot-only``, ``--only PART...``, ``--seeds``, ``--jobs``,
    ``--out``, ``--img``, ``--smoke`` (the first part only unless ``--only`` says otherwise,
    one seed, one job)."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--plot-only", action="store_true", help="only the table and figure from finished points")
    ap.add_argument("--only", nargs="*", default=None, choices=list(parts), help="run only these parts")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", help="folder of the sweeps (default runs/...; with --smoke a temporary folder, removed)")
    ap.add_argument("--img", help="folder of the figures (default docs/img; with --smoke <out>/img)")
    ap.add_argument("--smoke", action="store_true",
                    help="seconds: the first part (or --only's), 1 seed, the first value of each grid key, "
                         "on " + " ".join(SMOKE_SETS) + "; nothing written into the repository")
    a = ap.parse_args(argv)
    if a.only is None:
        a.only = list(parts[:1]) if a.smoke else list(parts)
    if a.smoke:
        a.seeds, a.jobs = 1, 1
    return a


@contextlib.contextmanager
def study_dirs(a, default_out: Path):
    """(sweeps folder, figures folder) of a study tool's run: ``--out`` and ``--img``, else
    ``default_out`` and docs/img; with ``--smoke`` and no ``--out`` a temporary folder,
    removed afterwards, holding the figures too (a smoke run never overwrites docs/img)."""
    tmp = tempfile.mkdtemp(prefix="study_smoke_") if a.smoke and not a.out else None
    try:
        out = Path(a.out or tmp or default_out).resolve()
        img = Path(a.img).resolve() if a.img else out / "img" if a.smoke else ROOT / "docs" / "img"
        img.mkdir(parents=True, exist_ok=True)
        yield out, img
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

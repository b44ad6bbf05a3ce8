"""Shared by the study tools: run one ``asyncpc sweep`` of ``scenarios/digits.toml`` and
read its finished points back (results.csv rows joined with each point's summary.json)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT / "scenarios" / "digits.toml"
#: the plain-equations baseline the 4-epoch studies ran on (the main job's stream, no options)
PLAIN = ROOT / "scenarios" / "digits_plain.toml"


def run_sweep(out: Path, sets: list[str], grid: list[str], *, seeds: int, jobs: int, scenario: Path = DIGITS) -> None:
    """``asyncpc sweep`` with one engine thread per point (``jobs`` points at a time);
    resumable: finished points are not rerun."""
    cmd = [sys.executable, "-m", "asyncpc", "sweep", str(scenario), "--seeds", str(seeds), "--jobs", str(jobs),
           "--out", str(out), "--quiet", "--set", "run.threads=1"]
    for s in sets:
        cmd += ["--set", s]
    for g in grid:
        cmd += ["--grid", g]
    print("$", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True)


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
    """The study tools' command line: ``--plot-only``, ``--only PART...``, ``--seeds``, ``--jobs``."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--plot-only", action="store_true", help="only the table and figure from finished points")
    ap.add_argument("--only", nargs="*", default=list(parts), choices=list(parts), help="run only these parts")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    return ap.parse_args(argv)

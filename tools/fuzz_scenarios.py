"""Fuzz the whole scenario schema: extreme numbers and swapped types in every key.

Every shipped scenario in ``scenarios/`` is a base, as written and resolved (every key
present), plus a GraphML base (``scenarios/xor.toml`` exported by ``asyncpc graph``). A
case changes one to three keys of a base: a number pushed to an extreme (0, -1, -0.0,
2^31, 2^53, 2^63, 10^30, a 4400-digit integer, 1e308, inf, nan, 5e-324, ...), a value
multiplied by 10^3 ... 10^18 (a typo'd run of zeros), a key's type swapped (string,
boolean, array, table, distribution), a key deleted, an unknown key added; for the GraphML
base also an attribute of the graph file. The change is written into the file or given as
``--set`` (alternately). Then ``asyncpc validate`` runs in this process, and where the
case passes and a shortened run is cheap, a tiny ``asyncpc run``.

The rule: exit status 0 or 2, on 2 exactly one line on stderr, never an exception escaping
the CLI (a traceback). ``ASYNCPC_MAX_MEMORY`` (2 GB unless set) and ``ASYNCPC_MAX_DISK``
(1 GB) bound what a case may use; an estimate that misses an allocation shows up as a
MemoryError under the address-space limit (``--rlimit-gb``).

    python tools/fuzz_scenarios.py --cases 10000 [--seed 0] [--jobs 2] [--report fuzz.json]
    python tools/fuzz_scenarios.py --smoke        # 6 cases, seconds (tests/test_fuzz_scenarios.py)

Prints the number of cases, the time, the exit codes and every finding (deduplicated by
exception type and the innermost asyncpc frame); exits 1 when there is a finding.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import math
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HUGE_INT = "9" * 4400  # more digits than Python reads from text by default (4300)
_HUGE = "__fuzz_huge_int__"

#: Numbers at and beyond every edge: sign, zero, int32, float64's exact integers, int64,
#: beyond int64, the float range, non-finite, subnormal.
EXTREMES = [0, 1, -1, 2, -0.0, 0.0, 0.5, 1e-9, 1e-300, 5e-324, 2.2250738585072014e-308, 1e6, 1e9, 1e12, 1e15,
            1e18, 1e100, 1e308, -1e308, 1.7976931348623157e308, float("inf"), float("-inf"), float("nan"),
            2**31 - 1, 2**31, 2**32, 2**53, 2**53 + 1, 2**63 - 1, 2**63, -2**63, -2**63 - 1, 10**30, -10**30, _HUGE]
#: Values of the wrong type.
SWAPS = ["", "text", "1e18", "nan", True, False, [], [1, 2], [1e308, -1e308], ["a"], [[1]], {}, {"x": 1},
         {"dist": "uniform", "low": 0.1, "high": 1e308}, {"dist": "lognormal", "mean": 0.3, "sd": 1e6},
         {"dist": "normal", "mean": 1e15, "sd": 0}, {"dist": "gamma", "mean": 1e-300, "sd": 1e300},
         {"dist": "distance", "velocity": 1e-300, "synaptic": 0.1}]
#: Attribute values for the GraphML base.
GRAPHML_VALUES = ["nan", "inf", "-inf", "-0.0", "1e308", "-1e308", "5e-324", "1e18", "0", "-1", "2147483648",
                  "9223372036854775808", "1" + "0" * 400, "", "abc", "true"]


@dataclass
class Base:
    name: str
    raw: dict
    dir: Path
    graphml: str | None = None  # the GraphML text (GraphML base)


@dataclass
class Case:
    base: str
    mutations: list = field(default_factory=list)  # (kind, key path, value)
    via_set: bool = False

    def describe(self) -> str:
        shown = ", ".join(f"{kind} {_path(p)}={_short(v)}" for kind, p, v in self.mutations)
        return f"{self.base}: {shown} ({'--set' if self.via_set else 'in the file'})"


def _short(v) -> str:
    if v == _HUGE:
        return "<4400-digit integer>"
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def _path(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


# ----------------------------------------------------------------------------- bases
def _tiny_idx(work: Path) -> Path:
    """A folder of four small MNIST-format IDX files, for scenarios that read such a
    folder (the repository ships no data)."""
    import numpy as np

    from asyncpc.environment import IDX_FILES, write_idx

    d = work / "idx"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 30), ("test", 10)):
        write_idx(d / (IDX_FILES[f"{split}_images"] + ".gz"), rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(d / (IDX_FILES[f"{split}_labels"] + ".gz"), (np.arange(n) % 10).astype(np.uint8))
    return d


def load_bases(work: Path) -> list[Base]:
    """Every shipped scenario as written and resolved, and a GraphML base. A scenario that
    reads an IDX folder (mnist) gets a tiny one of the tool's own."""
    import tomllib

    from asyncpc.scenario import load_scenario

    bases = []
    idx = None
    for f in sorted(SCENARIOS.glob("*.toml")):
        raw = tomllib.loads(f.read_text())
        sets = []
        if str(raw.get("data", {}).get("source", "")).endswith("mnist"):
            idx = idx or _tiny_idx(work)
            raw["data"]["source"] = str(idx)
            sets = [f"data.source={idx}"]
        bases.append(Base(f.stem, raw, SCENARIOS))
        bases.append(Base(f.stem + "+resolved", load_scenario(f, sets).resolved(), SCENARIOS))
    from asyncpc.model import to_graphml

    xor = load_scenario(SCENARIOS / "xor.toml", ["network.sizes=[2, 4, 1]"])
    gpath = work / "xor.graphml"
    to_graphml(xor.build_network(), gpath)
    raw = {"network": {"kind": "graphml", "path": str(gpath)}, "data": {"source": "xor", "present": 2.0,
                                                                       "epochs": 2}}
    bases.append(Base("xor_graphml", raw, work, graphml=gpath.read_text()))
    return bases


def leaves(tree, path=()):
    """Every key path of a TOML tree: tables, arrays and their elements, values."""
    out = []
    if isinstance(tree, dict):
        for k, v in tree.items():
            out.append(path + (k,))
            out.extend(leaves(v, path + (k,)))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out.append(path + (i,))
            out.extend(leaves(v, path + (i,)))
    return out


def _get(tree, path):
    for p in path:
        tree = tree[p]
    return tree


def _set(tree, path, value):
    node = tree
    for p in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(str(p), {})
        else:
            node = node[p]
    last = path[-1]
    if isinstance(node, list) and isinstance(last, int) and last >= len(node):
        node.append(value)
    elif isinstance(node, list) and isinstance(last, int):
        node[last] = value
    elif isinstance(node, dict):
        node[str(last)] = value  # TOML keys are strings


def _delete(tree, path):
    node = _get(tree, path[:-1])
    if isinstance(node, dict):
        node.pop(path[-1], None)
    elif isinstance(node, list) and path[-1] < len(node):
        del node[path[-1]]


# ----------------------------------------------------------------------------- cases
def values_for(current, rnd: random.Random):
    """Candidate replacement values of a key whose value is ``current``."""
    cands = list(EXTREMES) + list(SWAPS)
    if isinstance(current, (int, float)) and not isinstance(current, bool) and math.isfinite(current):
        for k in (1, 2, 3, 6, 9, 12, 15, 18):  # x10, x100: still plausible, built and run
            cands.append(current * 10**k if isinstance(current, int) else current * 10.0**k)
            cands.append(-current * 10**k if isinstance(current, int) else -current * 10.0**k)
        if isinstance(current, float):
            cands.append(current / 10)
    return cands


def draw_case(bases, rnd: random.Random) -> Case:
    b = rnd.choice(bases)
    case = Case(b.name, via_set=rnd.random() < 0.5)
    paths = leaves(b.raw)
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        r = rnd.random()
        if b.graphml is not None and r < 0.25:
            case.mutations.append(("graphml", (), rnd.choice(GRAPHML_VALUES)))
            continue
        if r < 0.05 or not paths:
            parent = rnd.choice([()] + [p for p in paths if isinstance(_get(b.raw, p), dict)])
            case.mutations.append(("add", parent + ("bogus_key",), rnd.choice([1, "x", 1e308])))
            continue
        p = rnd.choice(paths)
        if r < 0.12:
            case.mutations.append(("delete", p, None))
            continue
        case.mutations.append(("set", p, rnd.choice(values_for(_get(b.raw, p), rnd))))
    return case


def systematic_cases(bases) -> list[Case]:
    """One case per (base, key, value): every key pushed to every extreme and swapped to
    every other type (the first part of a long run)."""
    out = []
    for b in bases:
        for p in leaves(b.raw):
            cur = _get(b.raw, p)
            if isinstance(cur, (dict, list)) and not (isinstance(cur, list) and cur and not isinstance(cur[0], dict)):
                vals = SWAPS[:6] + [0, -1, 1e308, float("nan")]
            else:
                vals = values_for(cur, None)
            for k, v in enumerate(vals):
                out.append(Case(b.name, [("set", p, v)], via_set=bool(k % 2)))
    return out


# ----------------------------------------------------------------------------- TOML text
def toml_value(v) -> str:
    """A value as TOML text (inline tables), for ``--set``."""
    from asyncpc.api._run import _toml_value  # what the Python API writes for --set

    if v == _HUGE:
        return HUGE_INT
    if isinstance(v, (bool, int, float, str)):
        return _toml_value(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        key = lambda k: k if re.fullmatch(r"[A-Za-z0-9_-]+", str(k)) else json.dumps(str(k))
        return "{ " + ", ".join(f"{key(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    return json.dumps(str(v))


def materialize(case: Case, base: Base, work: Path) -> tuple[Path, list[str]]:
    """The case's scenario file (and GraphML file) in ``work``, and its ``--set`` arguments."""
    import tomli_w

    raw = copy.deepcopy(base.raw)
    sets = []
    graphml = base.graphml
    for kind, path, value in case.mutations:
        if kind == "graphml":
            graphml = _mutate_graphml(graphml, value, len(case.mutations) + len(path))
            continue
        if kind == "delete":
            try:
                _delete(raw, path)
            except (KeyError, IndexError, TypeError):
                pass
            continue
        if case.via_set and all(isinstance(p, str) and re.fullmatch(r"[A-Za-z0-9_-]+", p) or isinstance(p, int)
                                for p in path) and not (path and isinstance(path[0], int)):
            sets.append(f"{_path(path)}={toml_value(value)}")
            continue
        try:
            _set(raw, path, copy.deepcopy(value))  # later mutations must not change the shared candidates
        except (KeyError, IndexError, TypeError):
            pass
    if graphml is not None:
        g = work / "net.graphml"
        g.write_text(graphml)
        if isinstance(raw.get("network"), dict) and raw["network"].get("kind") == "graphml":
            raw["network"]["path"] = str(g)
    text = tomli_w.dumps(raw).replace(f'"{_HUGE}"', HUGE_INT)  # written quoted, replaced by the digits
    f = work / "case.toml"
    f.write_text(text)
    return f, sets


def _mutate_graphml(text: str, value: str, salt: int) -> str:
    """Replace one attribute value (a <data> element) of the GraphML text."""
    spans = [m.span(1) for m in re.finditer(r"<data key=\"[^\"]+\">([^<]*)</data>", text)]
    if not spans:
        return text
    a, b = spans[(salt * 7919) % len(spans)]
    return text[:a] + value + text[b:]


# ----------------------------------------------------------------------------- running
@dataclass
class Outcome:
    command: str
    code: object  # exit status, or the exception type name
    err: str = ""
    tb: str = ""


def call(argv) -> Outcome:
    """``asyncpc ARGV`` in this process: its exit status and stderr, or what escaped it."""
    from asyncpc.cli import main

    err, out = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main(list(argv))
    except (KeyboardInterrupt, Slow):
        raise
    except BaseException as exc:  # noqa: BLE001 - anything escaping the CLI is the finding
        if isinstance(exc, SystemExit) and exc.code == 2 and "usage:" in err.getvalue():
            return Outcome(argv[0], "argparse", err.getvalue())
        return Outcome(argv[0], type(exc).__name__, err.getvalue(), traceback.format_exc())
    return Outcome(argv[0], code, err.getvalue())


def problem(o: Outcome) -> str | None:
    """What is wrong with an outcome, or None (exit 0; exit 2, bad input, or 3, a diverging
    run, with one error line: docs/robustness.md's exit statuses)."""
    if o.tb:
        return f"{o.code} escaped `asyncpc {o.command}`"
    if o.code == 0:
        return None
    if o.code in (2, 3):
        lines = [ln for ln in o.err.splitlines() if ln.strip()]
        if len(lines) != 1 or not lines[0].startswith("asyncpc: error: ") or "Traceback" in o.err:
            return f"exit {o.code} without exactly one error line: {o.err[:300]!r}"
        return None
    return f"exit {o.code}: {o.err[:300]!r}"


#: Keys a tiny run shortens (unless the case changed them): one epoch of a few samples.
TINY = {"data.epochs": "1", "data.max_train": "3", "data.max_test": "2", "data.train_eval": "0",
        "output.plots": "false", "output.checkpoint_every": "0"}
#: A tiny run is made when its network and length stay below this (edges x steps).
TINY_WORK = 2e7


def tiny_run(path: Path, sets: list[str], case: Case, work: Path) -> Outcome | None:
    from asyncpc.errors import AsyncPCError
    from asyncpc.scenario import load_scenario

    touched = {_path(p) for _, p, _ in case.mutations}
    extra = [f"{k}={v}" for k, v in TINY.items() if not any(t.startswith(k) for t in touched)]
    try:
        scn = load_scenario(path, [*sets, *extra])
        fp = scn.footprint()
    except AsyncPCError:
        extra = [e for e in extra if e.startswith("output.")]  # e.g. a constant source has no epochs
        try:
            scn = load_scenario(path, [*sets, *extra])
            fp = scn.footprint()
        except AsyncPCError:
            return None
    if fp.steps * max(fp.edges, 1) > TINY_WORK or fp.steps > 200_000 or fp.samples is None:
        return None
    out = work / "run"
    shutil.rmtree(out, ignore_errors=True)
    args = ["run", str(path), "--out", str(out), "--quiet", "--threads", "1"]
    for s in [*sets, *extra]:
        args += ["--set", s]
    return call(args)


class Slow(BaseException):
    """A case ran longer than its time limit (raised by SIGALRM)."""


def _alarm(signum, frame):
    raise Slow()


def run_case(case: Case, bases: dict, work: Path, *, runs=True, timeout=120,
             tally=None) -> list[tuple[str, Outcome]]:
    """Validate (and where cheap, run) one case; the problems found. ``tally`` counts
    the exit statuses by command."""
    base = bases[case.base]
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    found = []
    tally = {} if tally is None else tally
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        path, sets = materialize(case, base, work)
        argv = ["validate", str(path)]
        for s in sets:
            argv += ["--set", s]
        o = call(argv)
        tally[f"validate {o.code}"] = tally.get(f"validate {o.code}", 0) + 1
        why = problem(o)
        if why:
            found.append((why, o))
        elif o.code == 0 and runs:
            r = tiny_run(path, sets, case, work)
            if r is not None:
                tally[f"run {r.code}"] = tally.get(f"run {r.code}", 0) + 1
            why = problem(r) if r is not None else None
            if why:
                found.append((why, r))
    except Slow:
        found.append(("slow", Outcome("case", "Slow", f"more than {timeout} s")))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return found


def signature(why: str, o: Outcome) -> str:
    """Deduplication key: the exception and the innermost asyncpc frame (file:line)."""
    if not o.tb:
        return why.split(":")[0]
    frames = re.findall(r'File "([^"]*asyncpc[^"]*)", line (\d+)', o.tb)
    where = f"{Path(frames[-1][0]).name}:{frames[-1][1]}" if frames else "?"
    return f"{o.code} at {where}"


def fuzz(n_cases: int, *, seed=0, runs=True, systematic=True, time_limit=None, progress=True, work=None):
    """Run ``n_cases`` cases (the systematic single-key ones first, shuffled, then random
    combinations); returns a report dict."""
    os.environ.setdefault("ASYNCPC_MAX_MEMORY", "2GB")
    os.environ.setdefault("ASYNCPC_MAX_DISK", "1GB")
    os.environ.setdefault("MPLBACKEND", "Agg")
    rnd = random.Random(seed)
    tmp = Path(work or tempfile.mkdtemp(prefix="asyncpc-fuzz-"))
    bases = load_bases(tmp)
    by_name = {b.name: b for b in bases}
    pool = systematic_cases(bases) if systematic else []
    rnd.shuffle(pool)
    t0 = time.time()
    codes: dict = {}
    findings: dict = {}
    keys = set()
    tried = 0
    for i in range(n_cases):
        if time_limit is not None and time.time() - t0 > time_limit:
            break
        case = pool[i] if i < len(pool) and i % 3 != 2 else draw_case(bases, rnd)
        keys.update(_path(p) for _, p, _ in case.mutations)
        found = run_case(case, by_name, tmp / "case", runs=runs, tally=codes)
        tried += 1
        for why, o in found:
            sig = signature(why, o)
            f = findings.setdefault(sig, {"count": 0, "example": case.describe(), "why": why, "stderr": o.err[-2000:],
                                          "traceback": o.tb[-4000:]})
            f["count"] += 1
        if progress and tried % 250 == 0:
            print(f"  {tried} cases, {time.time() - t0:.0f} s, {len(findings)} distinct findings", file=sys.stderr,
                  flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return {"cases": tried, "seconds": round(time.time() - t0, 1), "keys_touched": len(keys),
            "systematic_pool": len(pool), "outcomes": codes, "findings": findings}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--smoke", action="store_true", help="6 cases, seconds: what the test suite runs")
    ap.add_argument("--no-runs", action="store_true", help="validate only (no tiny runs)")
    ap.add_argument("--time-limit", type=float, help="stop drawing cases after this many seconds")
    ap.add_argument("--rlimit-gb", type=float, default=8.0, help="address-space limit of this process (0: none)")
    ap.add_argument("--report", help="write the report as JSON here")
    a = ap.parse_args(argv)
    if a.rlimit_gb:
        import resource

        lim = int(a.rlimit_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    n = 6 if a.smoke else a.cases
    rep = fuzz(n, seed=a.seed, runs=not a.no_runs, time_limit=a.time_limit, progress=not a.smoke)
    print(f"{rep['cases']} cases in {rep['seconds']} s ({rep['keys_touched']} distinct keys changed; "
          f"outcomes {rep['outcomes']}); {len(rep['findings'])} distinct findings, "
          f"{sum(f['count'] for f in rep['findings'].values())} in all")
    for sig, f in rep["findings"].items():
        print(f"- {sig} x{f['count']}: {f['why']}\n  e.g. {f['example']}")
    if a.report:
        Path(a.report).write_text(json.dumps(rep, indent=1))
    return 1 if rep["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())

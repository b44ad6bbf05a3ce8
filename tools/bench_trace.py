"""Benchmark of message-level tracing: cost of tracing every message, cost of the CLI's
tracing hooks when tracing is off, and the TraceWriter's own throughput and bytes per row.

    python tools/bench_trace.py                       # ~1 minute on 2 cores, ~0.2 GB of temporary parts
    python tools/bench_trace.py --steps 0             # the whole shortened scenario: 45,000 steps, 6.3e8
                                                      # messages, ~3 minutes and ~2 GB of temporary parts
    python tools/bench_trace.py --threads 2 --repeat 5 --set data.max_train=100

Workload: ``scenarios/digits.toml`` shortened (``data.max_train=200``, ``data.max_test=50``,
``data.epochs=1``; ``--set`` adds overrides), built, compiled and scheduled as the CLI
does, then run for the first ``--steps`` steps in the runtime calls the CLI makes
(asyncpc/cli/_run.py: ``_plan`` chunk ends -- 200 over the whole schedule -- and, while
recording, the pieces a chunk is cut into).

(a) untraced: a plain loop of ``engine.run(c, schedule, until=end, state=state)`` over
    the untraced calls (best of ``--repeat``).
(b) traced: the traced calls with ``record_messages=True``, every call's rows handed to
    a :class:`asyncpc.trace.TraceWriter` with an all-selecting filter (no row cap),
    writing Parquet parts to a temporary directory, closed at the end. Ratio traced /
    untraced (target <= 2x); the time is split into the engine calls and the writer.
(c) tracing off: the CLI's chunk loop (``_drive``) with its tracing hooks (the plan, the
    writer that is None, the per-chunk ``record`` / pieces / merge / snapshot logic) on a
    scenario with ``trace.enabled = false``, against the plain loop of (a); interleaved
    in rotating order, ``--repeat`` times; overhead in % as the median of the paired
    ratios (target <= 5%), and from the best of each.
(d) the TraceWriter alone: the rows of the first calls of (b) (up to ``--writer-rows``)
    fed again to a fresh writer, best of 3: rows per second (target >= 5e6), and bytes per
    message row on disk (message parts only, and the whole ``trace/`` directory as
    ``asyncpc trace info`` counts it).
(e) one engine.run over the same steps, against (a): what chunking itself costs.

If a target is missed, a cProfile of one traced chunk and of the writer is printed.
The machine's load average is printed first and last: other processes inflate every
figure. The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from asyncpc import engine  # noqa: E402
from asyncpc.cli import _run as cli_run  # noqa: E402
from asyncpc.compile import compile_network  # noqa: E402
from asyncpc.scenario import load_scenario  # noqa: E402
from asyncpc.trace import TraceFilter, TraceWriter  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHORT = ["data.max_train=200", "data.max_test=50", "data.epochs=1"]
TARGETS = dict(traced_ratio=2.0, hooks_overhead_pct=5.0, writer_rows_per_s=5e6)


def cli_ends(scn, c, sched, end):
    """The ends (steps) of the runtime calls the CLI makes for this scenario up to step
    ``end`` (asyncpc/cli/_run.py): chunk ends, and, while recording, the pieces a chunk is
    cut into so that the messages held in memory stay bounded."""
    if not hasattr(cli_run, "_plan"):  # older CLI: ends at probe steps only
        out = cli_run._chunks(sched, 200)
        ends = list(out[0] if isinstance(out, tuple) else out)
        return [u for u in ends if u < end] + [end]
    plan = cli_run._plan(scn, c, sched)
    calls, t0 = [], 0
    for until in [u for u in plan.ends if u < end] + [end]:
        record = scn.trace.enabled and plan.records(t0, until)
        calls += plan.pieces(t0, until, record) if hasattr(plan, "pieces") else [until]
        t0 = until
    return calls


def setup(scenario, sets, steps):
    base = SHORT + list(sets)
    scn = load_scenario(scenario, base + ["trace.enabled=false"])
    scn_on = load_scenario(scenario, base + ["trace.enabled=true", "trace.state_every=0"])
    net = scn.build_network()
    c = compile_network(net, scn.run.h)
    data = scn.load_data()
    sched = scn.schedule(c, data)
    end = int(sched.end) if steps <= 0 else min(int(steps), int(sched.end))
    return scn, c, sched, cli_ends(scn, c, sched, end), cli_ends(scn_on, c, sched, end)


def plain_loop(c, sched, chunks, seed, threads):
    """(a): engine.run over the chunks, nothing else."""
    state = None
    for until in chunks:
        state = engine.run(c, sched, seed=seed, until=until, state=state, threads=threads).state
    return state


def cli_loop(scn, c, sched, end, threads):
    """(c): the chunk loop of the CLI (asyncpc/cli/_run.py ``_drive``) with its tracing
    hooks and nothing else (metrics, progress, divergence checks, checkpoints and
    run-directory writes are not tracing)."""
    rd = SimpleNamespace(path=None)  # tracing off: the writer is never made
    kwargs = {"threads": threads}
    state = None
    if hasattr(cli_run, "_plan"):
        plan = cli_run._plan(scn, c, sched)
        tracer = cli_run._trace_writer(scn, c, rd, "engine")
        merge = getattr(cli_run, "_merge", lambda results: results[-1])
        for until in [u for u in plan.ends if u < end] + [end]:
            t0 = int(state.t) if state is not None else 0
            record = tracer is not None and not tracer.full and plan.records(t0, until)
            results = []
            for u in (plan.pieces(t0, until, record) if hasattr(plan, "pieces") else [until]):
                st = results[-1].state if results else state
                if record and tracer.full:
                    record = False
                kwargs["record_messages"] = record
                res = engine.run(c, sched, seed=scn.run.seed, until=u, state=st, **kwargs)
                results.append(res)
                if record:
                    rows = res.extra.get("messages")
                    if rows is not None and len(rows["edge"]):
                        tracer.add_messages(rows)
            state = merge(results).state
            if tracer is not None and until in plan.snaps:
                tracer.add_state(until - 1, state.s)
    else:  # older CLI
        tracer, snaps = cli_run._trace_setup(scn, c, rd, "engine", sched)
        snap_set = set(snaps)
        if tracer is not None:
            kwargs["record_messages"] = True
        for until in [u for u in cli_run._chunks(sched, 200, snaps) if u < end] + [end]:
            res = engine.run(c, sched, seed=scn.run.seed, until=until, state=state, **kwargs)
            state = res.state
            if tracer is not None:
                rows = res.extra.get("messages")
                if rows is not None and len(rows["edge"]):
                    tracer.add_messages(rows)
                if until in snap_set:
                    tracer.add_state(until - 1, state.s)
    if tracer is not None:
        tracer.close()
    return state


def traced_loop(c, sched, chunks, seed, threads, out, keep_rows=0):
    """(b): record every message, hand each chunk to a TraceWriter (all-selecting)."""
    w = TraceWriter(out, c, filt=TraceFilter.build(c), meta=dict(runtime="engine"))
    t_eng = t_wr = 0.0
    kept, n_kept = [], 0
    state = None
    t_all = time.perf_counter()
    for until in chunks:
        t0 = time.perf_counter()
        res = engine.run(c, sched, seed=seed, until=until, state=state, threads=threads, record_messages=True)
        t1 = time.perf_counter()
        state = res.state
        rows = res.extra["messages"]
        w.add_messages(rows)
        t_wr += time.perf_counter() - t1
        t_eng += t1 - t0
        if n_kept < keep_rows:
            kept.append(rows)
            n_kept += len(rows["edge"])
    t1 = time.perf_counter()
    w.close()
    t_wr += time.perf_counter() - t1
    wall = time.perf_counter() - t_all
    return dict(wall=wall, engine=t_eng, writer=t_wr, rows=int(w.meta["rows"]), parts=int(w.meta["parts"]),
                state=state), kept


def write_alone(c, kept, out):
    """(d): the TraceWriter alone on rows already in memory."""
    w = TraceWriter(out, c, filt=TraceFilter.build(c))
    t = time.perf_counter()
    for rows in kept:
        w.add_messages(rows)
    w.close()
    return time.perf_counter() - t, int(w.meta["rows"])


def dir_bytes(d: Path, sub: str | None = None) -> int:
    root = d / "trace" / sub if sub else d / "trace"
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def profile(fn, top=15) -> str:
    pr = cProfile.Profile()
    pr.enable()
    fn()
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(top)
    return s.getvalue()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "digits.toml"))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="more scenario overrides (after the shortening ones)")
    p.add_argument("--steps", type=int, default=4500, help="simulated steps (0 = the whole schedule)")
    p.add_argument("--threads", type=int, default=1, help="engine threads (the CLI's default is every core)")
    p.add_argument("--repeat", type=int, default=30,
                   help="timed runs of (a), (c), (e): the best counts; (c) vs (a) is the median of paired ratios")
    p.add_argument("--writer-rows", type=float, default=1e7, help="rows kept in memory for (d)")
    p.add_argument("--tmp", default=None, help="directory for the trace parts (default: system temp)")
    p.add_argument("--no-profile", action="store_true", help="no cProfile even if a target is missed")
    args = p.parse_args(argv)

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus")
    scn, c, sched, chunks, chunks_on = setup(args.scenario, args.set, args.steps)
    seed, th, end = scn.run.seed, args.threads, chunks[-1]
    print(f"workload: {Path(args.scenario).name} {' '.join(SHORT + args.set)}: {c.n_neurons} neurons, "
          f"{c.n_edges} edges; {end:,} of {int(sched.end):,} steps; the CLI's runtime calls: {len(chunks)} "
          f"untraced, {len(chunks_on)} traced; threads={th}")
    # compile (or load) both variants outside the timings
    t = time.perf_counter()
    engine.run(c, sched, seed=seed, until=min(20, end), threads=th)
    engine.run(c, sched, seed=seed, until=min(20, end), threads=th, record_messages=True)
    print(f"engine warm-up {time.perf_counter() - t:.1f} s")

    # (a), (c) and (e), interleaved, the order rotating (whichever runs right after another
    # is a few % slower), so that load changes and order hit them alike
    times = {"a": [], "c": [], "e": []}
    states = {}
    runs = {"a": lambda: plain_loop(c, sched, chunks, seed, th),
            "c": lambda: cli_loop(scn, c, sched, end, th),
            "e": lambda: engine.run(c, sched, seed=seed, until=end, threads=th).state}
    for rep in range(max(args.repeat, 1)):
        order = "ace"[rep % 3:] + "ace"[:rep % 3]
        for k in (order if rep % 2 == 0 else order[::-1]):
            t = time.perf_counter()
            states[k] = runs[k]()
            times[k].append(time.perf_counter() - t)
        assert all(np.array_equal(states["a"].s, states[k].s) for k in "ce"), "the loops must simulate one run"
    ref = states["a"]
    ta, tc, te = times["a"], times["c"], times["e"]
    t_un, t_cli, t_one = min(ta), min(tc), min(te)
    hooks_pct = 100 * (float(np.median(np.asarray(tc) / np.asarray(ta))) - 1)  # paired: robust to load
    sent = int(ref.sent)

    tmp = Path(tempfile.mkdtemp(prefix="bench_trace_", dir=args.tmp))
    fig = {}
    try:
        # (b)
        tr, kept = traced_loop(c, sched, chunks_on, seed, th, tmp / "traced", keep_rows=int(args.writer_rows))
        assert tr["rows"] == sent, f"traced {tr['rows']} rows but {sent} messages were sent"
        assert np.array_equal(tr["state"].s, ref.s), "tracing must not change the dynamics"
        msg_bytes = dir_bytes(tmp / "traced", "messages")
        all_bytes = dir_bytes(tmp / "traced")
        shutil.rmtree(tmp / "traced")
        # (d), best of 3
        t_w = float("inf")
        for k in range(3):
            dt, n_w = write_alone(c, kept, tmp / f"writer{k}")
            t_w = min(t_w, dt)
            shutil.rmtree(tmp / f"writer{k}")
        del kept

        fig = dict(
            steps=end, chunks=len(chunks), chunks_traced=len(chunks_on), threads=th, messages=sent,
            untraced_s=round(t_un, 4), untraced_msgs_per_s=float(f"{sent / t_un:.3g}"),
            traced_s=round(tr["wall"], 3), traced_engine_s=round(tr["engine"], 3),
            traced_writer_s=round(tr["writer"], 3), traced_ratio=round(tr["wall"] / t_un, 2),
            traced_engine_ratio=round(tr["engine"] / t_un, 2),
            traced_msgs_per_s=float(f"{sent / tr['wall']:.3g}"),
            cli_hooks_off_s=round(t_cli, 4), hooks_overhead_pct=round(hooks_pct, 2),
            hooks_overhead_best_pct=round(100 * (t_cli / t_un - 1), 2),
            one_call_s=round(t_one, 4), chunking_overhead_pct=round(100 * (t_un / t_one - 1), 1),
            writer_rows=n_w, writer_s=round(t_w, 3), writer_rows_per_s=float(f"{n_w / t_w:.3g}"),
            bytes_per_row=round(msg_bytes / max(tr["rows"], 1), 3),
            bytes_per_row_trace_dir=round(all_bytes / max(tr["rows"], 1), 3),
            parts=tr["parts"], load_avg=round(os.getloadavg()[0], 2))
        fig["targets_met"] = dict(traced_ratio=fig["traced_ratio"] <= TARGETS["traced_ratio"],
                                  hooks_overhead=fig["hooks_overhead_pct"] <= TARGETS["hooks_overhead_pct"],
                                  writer_rows_per_s=fig["writer_rows_per_s"] >= TARGETS["writer_rows_per_s"])

        rows = [
            ("(a) untraced, the CLI's calls", f"{t_un:.3f} s", f"{sent:,} messages, {sent / t_un:.3g} msg/s", ""),
            ("(b) traced, every message", f"{tr['wall']:.2f} s",
             f"engine {tr['engine']:.2f} s + writer {tr['writer']:.2f} s, {len(chunks_on)} calls",
             f"{fig['traced_ratio']:.1f}x (target <= 2x)"),
            ("(c) CLI loop, tracing off", f"{t_cli:.3f} s",
             f"vs (a) {t_un:.3f} s (best: {fig['hooks_overhead_best_pct']:+.1f}%)",
             f"{fig['hooks_overhead_pct']:+.1f}% (target <= 5%)"),
            ("(d) TraceWriter alone", f"{t_w:.2f} s", f"{n_w:,} rows",
             f"{fig['writer_rows_per_s']:.3g} rows/s (target >= 5e6)"),
            ("    bytes per message row", f"{fig['bytes_per_row']:.2f} B",
             f"{fig['bytes_per_row_trace_dir']:.2f} B with neurons/meta", f"{tr['parts']} parts"),
            ("(e) one engine.run, no chunks", f"{t_one:.3f} s", "(a) vs this: cost of chunking",
             f"{fig['chunking_overhead_pct']:+.1f}%"),
        ]
        w0, w1, w2 = (max(len(r[i]) for r in rows) for i in range(3))
        print(f"{'figure':<{w0}}  {'time':>{w1}}  {'detail':<{w2}}  result")
        for r in rows:
            print(f"{r[0]:<{w0}}  {r[1]:>{w1}}  {r[2]:<{w2}}  {r[3]}")

        if not args.no_profile and not all(fig["targets_met"].values()):
            i = min(len(chunks_on) - 1, 1)
            st = plain_loop(c, sched, chunks_on[:i], seed, th) if i else None
            w = TraceWriter(tmp / "prof", c, filt=TraceFilter.build(c))

            def one_chunk():
                r = engine.run(c, sched, seed=seed, until=chunks_on[i], state=st, threads=th, record_messages=True)
                w.add_messages(r.extra["messages"])
                w.flush()

            lo = chunks_on[i - 1] if i else 0
            print(f"\ncProfile of one traced chunk (steps {lo}..{chunks_on[i]}), by own time:")
            print(profile(one_chunk))
            print("cProfile of the same chunk untraced (plain engine.run), by own time:")
            print(profile(lambda: engine.run(c, sched, seed=seed, until=chunks_on[i], state=st, threads=th), 10))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(json.dumps(fig))


if __name__ == "__main__":
    main()

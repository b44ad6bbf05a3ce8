"""Benchmark of message-level tracing: the cost of tracing every message, the cost of the
CLI's tracing hooks when tracing is off, the TraceWriter's throughput and the bytes per
message on disk.

    python tools/bench_trace.py                       # ~3 minutes on 2 cores, ~0.1 GB of temporary parts
    python tools/bench_trace.py --steps 0 --repeat 5  # the whole shortened schedule (45,000 steps)
    python tools/bench_trace.py --threads 2 --no-end-to-end
    python tools/bench_trace.py --smoke               # seconds: every part on a [64, 16, 10] net, 500 steps

Workload: ``scenarios/digits.toml`` shortened (``data.max_train=200``, ``data.max_test=50``,
``data.epochs=1``; ``--set`` adds overrides), built, compiled and scheduled as the CLI
does, then run for the first ``--steps`` steps in the runtime calls the CLI makes
(asyncpc/cli/_run.py: ``_plan`` chunk ends -- 200 over the whole schedule -- and, while
recording, the pieces a chunk is cut into).

A trace of every message stores one row per *send* (a message is a send and an edge,
re-derived on reading), so "rows" below are message rows *represented*: the rows
``asyncpc.trace.load(RUN).messages`` gives.

(a) untraced: a plain loop of ``engine.run(c, schedule, until=end, state=state)`` over
    the untraced calls (best of ``--repeat``).
(b) traced, the CLI path: the CLI's chunk loop (``_run._chunk_results``, which runs the
    engine with ``record_sends=True`` and hands each call's sends to the run's
    ``TraceWriter``, made by ``_run._trace_writer`` from the scenario with
    ``trace.enabled = true`` and no row cap), the writer closed at the end; best of
    ``--repeat-traced``. Ratio traced / (a) (target <= 2x); split into the engine calls
    and the writer. Checked: rows = messages sent, and a window of the derived rows
    equals the engine's ``record_messages=True`` rows.
(c) tracing off: the same chunk loop on a scenario with ``trace.enabled = false``, against
    the plain loop of (a); interleaved in rotating order, ``--repeat`` times; overhead
    in % as the median of the paired ratios (target <= 5%), and from the best of each.
(d) the TraceWriter alone: the sends of (b) fed again to a fresh writer, best of 3:
    message rows represented per second (target >= 5e6) and send rows per second; bytes
    per message row on disk (send parts only, and the whole ``trace/`` directory as
    ``asyncpc trace info`` counts it) and per send row.
(e) one engine.run over the same steps, against (a): what chunking itself costs.
(f) end to end (unless ``--no-end-to-end``): ``asyncpc run`` of the whole shortened
    scenario (``execute``, plots off, quiet) with every message traced vs untraced; best
    of ``--repeat-traced``; wall time ratio.

If a target is missed, a cProfile of the traced loop is printed. The machine's load
average is printed first and last: other processes inflate every figure. The last line
is one JSON object with the figures.
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

from asyncpc import engine, trace  # noqa: E402
from asyncpc.cli import _run as cli_run  # noqa: E402
from asyncpc.scenario import load_scenario  # noqa: E402
from asyncpc.trace import TraceWriter  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHORT = ["data.max_train=200", "data.max_test=50", "data.epochs=1"]
EVERY = ["trace.enabled=true", "trace.state_every=0", "trace.max_rows=1000000000000000"]
#: --smoke: a tiny network and data set, so that every part, (f) included, takes a second or so
SMOKE = ["network.sizes=[64, 16, 10]", "data.max_train=10", "data.max_test=5"]
TARGETS = dict(traced_ratio=2.0, hooks_overhead_pct=5.0, writer_rows_per_s=5e6)


def calls(scn, c, sched, end):
    """The ends (steps) of the runtime calls the CLI makes for ``scn`` up to step ``end``."""
    plan = cli_run.plan_for(scn, c, sched)
    out, t0 = [], 0
    for until in [u for u in plan.ends if u < end] + [end]:
        out += plan.pieces(t0, until, scn.trace.enabled and plan.records(t0, until))
        t0 = until
    return out


def setup(scenario, sets, steps, threads):
    base = SHORT + list(sets)
    scn_off = load_scenario(scenario, base + ["trace.enabled=false"])
    scn_on = load_scenario(scenario, base + EVERY)
    c = scn_off.compile()
    sched = scn_off.schedule(c, scn_off.load_data())
    end = int(sched.end) if steps <= 0 else min(int(steps), int(sched.end))
    jobs = {}
    for name, scn in (("off", scn_off), ("on", scn_on)):  # what cli_run._prepare makes, sharing c and sched
        jobs[name] = cli_run.Job(scn, c, None, sched, "engine", threads, cli_run.plan_for(scn, c, sched))
    return jobs, c, sched, end, calls(scn_off, c, sched, end), calls(scn_on, c, sched, end)


def plain_loop(c, sched, ends, seed, threads):
    """(a): engine.run over the calls, nothing else."""
    state = None
    for until in ends:
        state = engine.run(c, sched, seed=seed, until=until, state=state, threads=threads).state
    return state


class Timed:
    """A TraceWriter whose own time (add_sends, close) is summed in ``.t``."""

    def __init__(self, w):
        self.w, self.t = w, 0.0
        self.sends = []

    def __getattr__(self, k):
        return getattr(self.w, k)

    def add_sends(self, sends):
        self.sends.append(sends)
        t = time.perf_counter()
        self.w.add_sends(sends)
        self.t += time.perf_counter() - t

    def close(self):
        t = time.perf_counter()
        self.w.close()
        self.t += time.perf_counter() - t


def cli_loop(job, end, out=None):
    """(b), (c): the chunk loop of the CLI (asyncpc/cli/_run.py ``_drive``) with its tracing
    and nothing else (metrics, progress, divergence checks, checkpoints and run-directory
    writes are not tracing). Returns (state, the timed writer or None)."""
    kwargs = {"threads": job.threads}
    run_fn = cli_run.pick_runtime("engine")
    tracer = cli_run._trace_writer(job.scn, job.c, SimpleNamespace(path=out), "engine")
    tracer = Timed(tracer) if tracer is not None else None
    state = None
    for until in [u for u in job.plan.ends if u < end] + [end]:
        results = list(cli_run._chunk_results(job, run_fn, tracer, state, until, kwargs))
        state = cli_run._merge(results).state
        if tracer is not None and until in job.plan.snaps:
            tracer.add_state(until - 1, state.s)
    if tracer is not None:
        tracer.close()
    return state, tracer


def write_alone(c, filt, seed, sends, out):
    """(d): a TraceWriter alone on send rows already in memory."""
    w = TraceWriter(out, c, filt=filt, seed=seed)
    t = time.perf_counter()
    for s in sends:
        w.add_sends(s)
    w.close()
    return time.perf_counter() - t, int(w.meta["rows"]), int(w.meta["sends"])


def end_to_end(scenario, sets, traced, out, threads):
    """(f): ``asyncpc run`` of the shortened scenario, plots off. Returns seconds."""
    scn = load_scenario(scenario, SHORT + list(sets) + ["output.plots=false"] + (EVERY if traced else []))
    t = time.perf_counter()
    cli_run.execute(scn, out=str(out), runtime="engine", threads=threads, quiet=True, argv=["bench"])
    return time.perf_counter() - t


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
    p.add_argument("--repeat-traced", type=int, default=5, help="timed runs of (b) and (f): the best counts")
    p.add_argument("--no-end-to-end", action="store_true", help="skip (f)")
    p.add_argument("--tmp", default=None, help="directory for the trace parts (default: system temp)")
    p.add_argument("--no-profile", action="store_true", help="no cProfile even if a target is missed")
    p.add_argument("--smoke", action="store_true", help="seconds: --steps 500 --repeat 1 --repeat-traced 1 and "
                                                        "--set " + " --set ".join(SMOKE))
    args = p.parse_args(argv)
    if args.smoke:
        args.steps, args.repeat, args.repeat_traced, args.set = 500, 1, 1, SMOKE + args.set

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus")
    jobs, c, sched, end, ends_off, ends_on = setup(args.scenario, args.set, args.steps, args.threads)
    seed, th = jobs["off"].scn.run.seed, args.threads
    print(f"workload: {Path(args.scenario).name} {' '.join(SHORT + args.set)}: {c.n_neurons} neurons, "
          f"{c.n_edges} edges; {end:,} of {int(sched.end):,} steps; the CLI's runtime calls: {len(ends_off)} "
          f"untraced, {len(ends_on)} traced; threads={th}")
    t = time.perf_counter()  # compile (or load) every variant outside the timings
    for kw in ({}, {"record_sends": True}, {"record_messages": True}):
        engine.run(c, sched, seed=seed, until=min(20, end), threads=th, **kw)
    print(f"engine warm-up {time.perf_counter() - t:.1f} s")
    tmp = Path(tempfile.mkdtemp(prefix="bench_trace_", dir=args.tmp))
    fig = {}
    try:
        # (a), (c) and (e), interleaved, the order rotating (whichever runs right after another
        # is a few % slower), so that load changes and order hit them alike
        times = {"a": [], "c": [], "e": []}
        states = {}
        runs = {"a": lambda: plain_loop(c, sched, ends_off, seed, th),
                "c": lambda: cli_loop(jobs["off"], end)[0],
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

        # (b), best of --repeat-traced; the untraced loop (a) once more between repeats
        best, t_un_b = None, []
        for rep in range(max(args.repeat_traced, 1)):
            d = tmp / f"traced{rep}"
            t = time.perf_counter()
            state, w = cli_loop(jobs["on"], end, d)
            wall = time.perf_counter() - t
            assert np.array_equal(state.s, ref.s), "tracing must not change the dynamics"
            assert w.meta["rows"] == sent, f"the trace holds {w.meta['rows']} rows but {sent} messages were sent"
            t = time.perf_counter()
            plain_loop(c, sched, ends_off, seed, th)
            t_un_b.append(time.perf_counter() - t)
            if best is None or wall < best["wall"]:
                if best is not None:
                    shutil.rmtree(best["dir"], ignore_errors=True)
                best = dict(wall=wall, writer=w.t, rows=int(w.meta["rows"]), sends=int(w.meta["sends"]),
                            parts=int(w.meta["parts"]), dir=d, kept=w.sends, filt=w.filt)
            else:
                shutil.rmtree(d, ignore_errors=True)
        t_un = min(t_un, min(t_un_b))
        # the derived rows are the engine's rows: a window checked against record_messages=True
        tr = trace.load(best["dir"])
        assert tr.storage == "sends"
        w_end = min(end, 300)
        direct = engine.run(c, sched, seed=seed, until=w_end, threads=th, record_messages=True).extra["messages"]
        derived = tr.messages_between(0, w_end)
        for k in ("t_send", "t_arrive", "src", "dst", "edge", "value", "dropped"):
            assert np.array_equal(derived.column(k).to_numpy(zero_copy_only=False), direct[k]), k
        msg_bytes = dir_bytes(best["dir"], "sends")
        all_bytes = dir_bytes(best["dir"])
        info = trace.info(tr)
        assert info["rows"] == sent
        # (d), best of 3
        t_w = float("inf")
        for k in range(3):
            dt, n_rows, n_sends = write_alone(c, best["filt"], seed, best["kept"], tmp / f"writer{k}")
            t_w = min(t_w, dt)
            shutil.rmtree(tmp / f"writer{k}")
        best["kept"] = None
        # (f)
        e2e = {}
        if not args.no_end_to_end:
            for traced in (False, True, False, True) * max(1, (args.repeat_traced + 1) // 2):
                k = "on" if traced else "off"
                dt = end_to_end(args.scenario, args.set, traced, tmp / f"run_{k}", th)
                e2e[k] = min(e2e.get(k, float("inf")), dt)
                if traced:
                    e2e["rows"] = json.loads((tmp / "run_on" / "trace" / "meta.json").read_text())["rows"]
                    e2e["bytes"] = dir_bytes(tmp / "run_on")
                shutil.rmtree(tmp / f"run_{k}")

        t_eng = best["wall"] - best["writer"]
        fig = dict(
            steps=end, calls=len(ends_off), calls_traced=len(ends_on), threads=th, messages=sent,
            untraced_s=round(t_un, 4), untraced_msgs_per_s=float(f"{sent / t_un:.3g}"),
            traced_s=round(best["wall"], 3), traced_engine_s=round(t_eng, 3), traced_writer_s=round(best["writer"], 3),
            traced_ratio=round(best["wall"] / t_un, 2), traced_engine_ratio=round(t_eng / t_un, 2),
            traced_msgs_per_s=float(f"{sent / best['wall']:.3g}"), sends=best["sends"], parts=best["parts"],
            cli_hooks_off_s=round(t_cli, 4), hooks_overhead_pct=round(hooks_pct, 2),
            hooks_overhead_best_pct=round(100 * (t_cli / t_un - 1), 2),
            one_call_s=round(t_one, 4), chunking_overhead_pct=round(100 * (t_un / t_one - 1), 1),
            writer_s=round(t_w, 3), writer_rows_per_s=float(f"{n_rows / t_w:.3g}"),
            writer_sends_per_s=float(f"{n_sends / t_w:.3g}"),
            bytes_per_row=round(msg_bytes / max(best["rows"], 1), 4),
            bytes_per_row_trace_dir=round(all_bytes / max(best["rows"], 1), 4),
            bytes_per_send=round(msg_bytes / max(best["sends"], 1), 2), load_avg=round(os.getloadavg()[0], 2))
        if e2e:
            fig.update(run_untraced_s=round(e2e["off"], 2), run_traced_s=round(e2e["on"], 2),
                       run_ratio=round(e2e["on"] / e2e["off"], 2), run_rows=e2e["rows"],
                       run_trace_bytes=e2e["bytes"])
        fig["targets_met"] = dict(traced_ratio=fig["traced_ratio"] <= TARGETS["traced_ratio"],
                                  hooks_overhead=fig["hooks_overhead_pct"] <= TARGETS["hooks_overhead_pct"],
                                  writer_rows_per_s=fig["writer_rows_per_s"] >= TARGETS["writer_rows_per_s"])

        rows = [
            ("(a) untraced, the CLI's calls", f"{t_un:.3f} s", f"{sent:,} messages, {sent / t_un:.3g} msg/s", ""),
            ("(b) traced, every message (CLI loop)", f"{best['wall']:.3f} s",
             (f"engine {t_eng:.3f} s + writer {best['writer']:.3f} s, {len(ends_on)} calls, "
              f"{best['sends']:,} sends"), f"{fig['traced_ratio']:.2f}x (target <= 2x)"),
            ("(c) CLI loop, tracing off", f"{t_cli:.3f} s",
             f"vs (a) {t_un:.3f} s (best: {fig['hooks_overhead_best_pct']:+.1f}%)",
             f"{fig['hooks_overhead_pct']:+.1f}% (target <= 5%)"),
            ("(d) TraceWriter alone", f"{t_w:.3f} s",
             f"{n_rows:,} message rows as {n_sends:,} sends ({fig['writer_sends_per_s']:.3g} sends/s)",
             f"{fig['writer_rows_per_s']:.3g} rows/s (target >= 5e6)"),
            ("    bytes per message row", f"{fig['bytes_per_row']:.3f} B",
             f"{fig['bytes_per_row_trace_dir']:.3f} B with neurons/edges/meta",
             f"{fig['bytes_per_send']:.1f} B per send, {best['parts']} parts"),
            ("(e) one engine.run, no chunks", f"{t_one:.3f} s", "(a) vs this: cost of chunking",
             f"{fig['chunking_overhead_pct']:+.1f}%"),
        ]
        if e2e:
            rows.append(("(f) asyncpc run, whole scenario", f"{e2e['on']:.2f} s",
                         f"traced ({e2e['rows']:,} rows, {e2e['bytes'] / 1e6:.0f} MB) vs untraced {e2e['off']:.2f} s",
                         f"{fig['run_ratio']:.2f}x"))
        w0, w1, w2 = (max(len(r[i]) for r in rows) for i in range(3))
        print(f"{'figure':<{w0}}  {'time':>{w1}}  {'detail':<{w2}}  result")
        for r in rows:
            print(f"{r[0]:<{w0}}  {r[1]:>{w1}}  {r[2]:<{w2}}  {r[3]}")

        if not args.no_profile and not all(fig["targets_met"].values()):
            print("\ncProfile of the traced CLI loop, by own time:")
            print(profile(lambda: cli_loop(jobs["on"], end, tmp / "prof")))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(json.dumps(fig))


if __name__ == "__main__":
    main()

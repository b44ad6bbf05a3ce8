"""Where more engine threads start to pay: wall time of the shipped scenarios' streams on
1 and 2 threads, and of digits-shaped networks with wider hidden areas.

    python tools/bench_threads.py                  # ~2 minutes on 2 idle cores
    python tools/bench_threads.py --hidden 128 512 2048 --presentations 20
    python tools/bench_threads.py --smoke          # seconds: xor and [64, 16, 10], one presentation each
    python tools/bench_threads.py --busy 1         # the same with one CPU-bound process beside it

``--busy N`` starts N processes that spin for the whole measurement (another user's job
on a shared machine): the contention figure of docs/cli.md. ``default`` is the thread
count the CLI would give the run's first chunk when none is given (the edge-count default,
less the CPUs other processes keep busy: ``asyncpc.cli._threads.ThreadGovernor``) and
``default/1`` its time against one thread's (target: at most 1.3 under contention).

Each case runs the scenario's own schedule (network, delays, clocks, data stream, learning)
for the first ``--presentations`` presentations, on 1 and on 2 threads, best of
``--repeat`` after a warm-up run (the first run compiles or loads the engine). The
threshold the CLI uses (``asyncpc.cli._threads.MIN_EDGES_PER_THREAD``) comes from this
table: below it a second thread costs more at the window barriers than it saves.
The last line is one JSON object with every row.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from asyncpc.cli._threads import ThreadGovernor, default_threads  # noqa: E402
from asyncpc.engine import run  # noqa: E402
from asyncpc.scenario import load_scenario  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scenarios")


def case(name, path, sets, presentations, repeat):
    scn = load_scenario(path, sets)
    c = scn.compile()
    sched = scn.schedule(c, scn.load_data())
    until = int(sched.probe_t[min(presentations, len(sched.probe_t)) - 1]) + 1
    row = dict(case=name, neurons=int(c.n_neurons), edges=int(c.n_edges), steps=until)
    for threads in (1, 2):
        run(c, sched, seed=0, until=min(until, 50), threads=threads)  # compile / load once
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            run(c, sched, seed=0, until=until, threads=threads)
            best = min(best, time.perf_counter() - t0)
        row[f"t{threads}_s"] = round(best, 4)
    row["speedup_2_threads"] = round(row["t1_s"] / row["t2_s"], 3)
    row["default_threads"] = ThreadGovernor(default_threads(c.n_edges)).threads()  # the CLI's first chunk
    row["default_vs_1_thread"] = round(row[f"t{row['default_threads']}_s"] / row["t1_s"], 3)
    return row


@contextlib.contextmanager
def busy(n: int):
    """``n`` CPU-bound processes for the duration of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5 if n else 0.0)
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hidden", type=int, nargs="*", default=[32, 128, 512, 2048],
                    help="hidden sizes of digits-shaped networks [64, H, 10]")
    ap.add_argument("--presentations", type=int, default=10)
    ap.add_argument("--xor-presentations", type=int, help="presentations of the xor case (default 4 x --presentations)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--busy", type=int, default=0, metavar="N", help="N spinning processes beside the runs")
    ap.add_argument("--shipped", action="store_true", help="also the shipped digits scenario (its own network)")
    ap.add_argument("--smoke", action="store_true", help="seconds: --hidden 16 --presentations 1 "
                                                         "--xor-presentations 1 --repeat 1")
    args = ap.parse_args(argv)
    if args.smoke:
        args.hidden, args.presentations, args.xor_presentations, args.repeat = [16], 1, 1, 1
    n_xor = args.presentations * 4 if args.xor_presentations is None else args.xor_presentations
    print(f"load average {os.getloadavg()[0]:.2f}; CPUs this process may use: {len(os.sched_getaffinity(0))}; "
          f"busy processes beside the runs: {args.busy}")
    with busy(args.busy):
        rows = [case("xor", os.path.join(ROOT, "xor.toml"), ["data.present=10.0"], n_xor, args.repeat)]
        if args.shipped:
            rows.append(case("digits (shipped)", os.path.join(ROOT, "digits.toml"), [], args.presentations,
                             args.repeat))
        for h in args.hidden:
            rows.append(case(f"digits [64, {h}, 10]", os.path.join(ROOT, "digits.toml"),
                             [f"network.sizes=[64, {h}, 10]", "data.present=5.0"], args.presentations, args.repeat))
    print(f"{'case':<22}{'edges':>10}{'steps':>8}{'1 thread s':>12}{'2 threads s':>13}{'speed-up':>10}"
          f"{'default':>9}{'default/1':>11}")
    for r in rows:
        print(f"{r['case']:<22}{r['edges']:>10,}{r['steps']:>8}{r['t1_s']:>12.3f}{r['t2_s']:>13.3f}"
              f"{r['speedup_2_threads']:>10.2f}{r['default_threads']:>9}{r['default_vs_1_thread']:>11.2f}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()

"""Load time and peak memory of a data source, and of the stream schedule built from it.

    python tools/data_memory.py ../shared/data/mnist
    python tools/data_memory.py ../shared/data/mnist --n-train 10000 --classes 0 1
    python tools/data_memory.py --scenario scenarios/mnist.toml --set data.source=../shared/data/mnist \\
        --set data.epochs=20 --window

Peak memory is Python's traced allocations (``tracemalloc``; numpy's arrays are traced),
above what was allocated before the step: the data set's own arrays plus whatever the
step held on the way. Reading from the page cache is assumed (run it twice). A schedule
holds its presentations as frames that read the data's rows (``asyncpc.environment.Frames``);
``--window`` also measures laying out the messages of one runtime call (at most
``ENV_ROWS``, asyncpc/cli/_resources.py).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc


def _measure(label, fn):
    tracemalloc.start()
    t = time.perf_counter()
    try:
        out = fn()
        wall = time.perf_counter() - t
        cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"{label}: {wall:.2f} s, peak {peak / 1e6:.0f} MB, held after {cur / 1e6:.0f} MB")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source", nargs="?", help="a data source as in [data] source (a folder, a file, a name)")
    p.add_argument("--n-train", type=int)
    p.add_argument("--n-test", type=int)
    p.add_argument("--classes", type=int, nargs="+")
    p.add_argument("--normalize", default="minmax")
    p.add_argument("--scenario", help="also build this scenario's stream schedule from the data")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--window", action="store_true",
                   help="also lay out the first stretch one engine call of `asyncpc run` expands")
    a = p.parse_args(argv)
    if a.scenario:
        from asyncpc.scenario import load_scenario

        scn = load_scenario(a.scenario, a.set)
        c = scn.compile()
        data = _measure("load_data", scn.load_data)
        sched = _measure("stream schedule", lambda: scn.schedule(c, data))
        n_ev, n_ex = sched.n_events, len(sched.ex_t)
        print(f"schedule: {len(sched.probe_t):,} presentations, {n_ev:,} messages ({n_ex:,} explicit, the rest in "
              f"{len(sched.frames):,} runs of frames): holds {sched.nbytes() / 1e6:.1f} MB (+ the data it "
              f"reads: {(sched.nbytes(referenced=True) - sched.nbytes()) / 1e6:.0f} MB); laid out explicitly "
              f"{n_ev * 21 / 1e6:,.0f} MB")
        if a.window:
            from asyncpc.cli._resources import ENV_ROWS
            from asyncpc.engine._env import env_messages

            lo, hi = sched.windows(0, sched.end, ENV_ROWS)[0]
            env = _measure(f"one engine call's environment messages (steps {lo}..{hi - 1})",
                           lambda: env_messages(sched, lo, hi, None)[0])
            print(f"  {len(env.arr):,} messages (ENV_ROWS = {ENV_ROWS:,})")
    else:
        from asyncpc.environment import load_dataset

        if not a.source:
            p.error("give a source or --scenario")
        data = _measure("load_dataset", lambda: load_dataset(a.source, n_train=a.n_train, n_test=a.n_test,
                                                             classes=a.classes, normalize=a.normalize))
    nbytes = data.X_train.nbytes + data.X_test.nbytes
    print(f"data set: {len(data.y_train):,} train + {len(data.y_test):,} test x {data.n_features} features, "
          f"{data.X_train.dtype}, {nbytes / 1e6:.0f} MB; scaling: {data.scaling.get('formula') if data.scaling else '-'}")


if __name__ == "__main__":
    main()

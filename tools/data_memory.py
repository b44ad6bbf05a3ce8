"""Load time and peak memory of a data source, and of the stream schedule built from it.

    python tools/data_memory.py ../shared/data/mnist
    python tools/data_memory.py ../shared/data/mnist --n-train 10000 --classes 0 1
    python tools/data_memory.py --scenario scenarios/mnist.toml --set data.source=../shared/data/mnist \\
        --set data.epochs=1

Peak memory is Python's traced allocations (``tracemalloc``; numpy's arrays are traced),
above what was allocated before the step: the data set's own arrays plus whatever the
step held on the way. Reading from the page cache is assumed (run it twice).
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
    a = p.parse_args(argv)
    if a.scenario:
        from asyncpc.scenario import load_scenario

        scn = load_scenario(a.scenario, a.set)
        c = scn.compile()
        data = _measure("load_data", scn.load_data)
        sched = _measure("stream schedule", lambda: scn.schedule(c, data))
        n_ev = len(sched.ev_t)
        size = sum(x.nbytes for x in (sched.ev_t, sched.ev_kind, sched.ev_neuron, sched.ev_value))
        print(f"schedule: {n_ev:,} events, {size / 1e6:.0f} MB of event arrays, {len(sched.probe_t):,} presentations")
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

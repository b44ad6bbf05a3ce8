"""Load time and peak memory of a data source, and of the stream schedule built from it.

    python tools/data_memory.py ../shared/data/mnist
    python tools/data_memory.py ../shared/data/mnist --n-train 10000 --classes 0 1
    python tools/data_memory.py --scenario scenarios/mnist.toml --set data.source=../shared/data/mnist \\
        --set data.epochs=20 --window
    python tools/data_memory.py --smoke     # seconds: both ways on a tiny IDX folder of its own (temporary)

Peak memory is Python's traced allocations (``tracemalloc``; numpy's arrays are traced),
above what was allocated before the step: the data set's own arrays plus whatever the
step held on the way. Reading from the page cache is assumed (run it twice). A schedule
holds its presentations as frames that read the data's rows (``asyncpc.environment.Frames``);
``--window`` also measures laying out the messages of one runtime call (at most
``ENV_ROWS``, asyncpc/cli/_resources.py). The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _measure(label, fn, figures=None):
    tracemalloc.start()
    t = time.perf_counter()
    try:
        out = fn()
        wall = time.perf_counter() - t
        cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"{label}: {wall:.2f} s, peak {peak / 1e6:.0f} MB, held after {cur / 1e6:.0f} MB")
    if figures is not None:
        figures[label.replace(" ", "_")] = dict(seconds=round(wall, 3), peak_mb=round(peak / 1e6, 1),
                                                held_mb=round(cur / 1e6, 1))
    return out


def tiny_idx(folder: Path, n_train: int = 60, n_test: int = 20) -> Path:
    """A folder of the four MNIST files (gzipped, 28 x 28, random pixels, labels 0-9 in turn)."""
    import numpy as np

    from asyncpc.environment import IDX_FILES, write_idx

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        write_idx(folder / (IDX_FILES[f"{split}_images"] + ".gz"), rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / (IDX_FILES[f"{split}_labels"] + ".gz"), (np.arange(n) % 10).astype(np.uint8))
    return folder


def measure(a) -> dict:
    """Load ``a.source`` (or ``a.scenario``'s data and stream schedule); prints and returns the figures."""
    figures = {}
    if a.scenario:
        from asyncpc.scenario import load_scenario

        scn = load_scenario(a.scenario, a.set)
        c = scn.compile()
        data = _measure("load_data", scn.load_data, figures)
        sched = _measure("stream schedule", lambda: scn.schedule(c, data), figures)
        n_ev, n_ex = sched.n_events, len(sched.ex_t)
        print(f"schedule: {len(sched.probe_t):,} presentations, {n_ev:,} messages ({n_ex:,} explicit, the rest in "
              f"{len(sched.frames):,} runs of frames): holds {sched.nbytes() / 1e6:.1f} MB (+ the data it "
              f"reads: {(sched.nbytes(referenced=True) - sched.nbytes()) / 1e6:.0f} MB); laid out explicitly "
              f"{n_ev * 21 / 1e6:,.0f} MB")
        figures.update(messages=n_ev, schedule_mb=round(sched.nbytes() / 1e6, 3), presentations=len(sched.probe_t))
        if a.window:
            from asyncpc.cli._resources import ENV_ROWS
            from asyncpc.engine._env import env_messages

            lo, hi = sched.windows(0, sched.end, ENV_ROWS)[0]
            env = _measure(f"one engine call's environment messages (steps {lo}..{hi - 1})",
                           lambda: env_messages(sched, lo, hi, None)[0], figures)
            print(f"  {len(env.arr):,} messages (ENV_ROWS = {ENV_ROWS:,})")
    else:
        from asyncpc.environment import load_dataset

        data = _measure("load_dataset", lambda: load_dataset(a.source, n_train=a.n_train, n_test=a.n_test,
                                                             classes=a.classes, normalize=a.normalize), figures)
    nbytes = data.X_train.nbytes + data.X_test.nbytes
    print(f"data set: {len(data.y_train):,} train + {len(data.y_test):,} test x {data.n_features} features, "
          f"{data.X_train.dtype}, {nbytes / 1e6:.0f} MB; scaling: {data.scaling.get('formula') if data.scaling else '-'}")
    figures.update(train=len(data.y_train), test=len(data.y_test), features=int(data.n_features),
                   data_mb=round(nbytes / 1e6, 3))
    return figures


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
    p.add_argument("--smoke", action="store_true",
                   help="seconds: a tiny IDX folder (60 + 20 images) in a temporary directory, read as a source "
                        "(--n-train 12 --classes 0 1 2) and as the data of scenarios/mnist.toml (hidden area 16) "
                        "with its schedule")
    a = p.parse_args(argv)
    if a.smoke:
        with tempfile.TemporaryDirectory(prefix="data_memory_") as tmp:
            src = str(tiny_idx(Path(tmp) / "mnist"))
            figures = {"source": measure(p.parse_args([src, "--n-train", "12", "--classes", "0", "1", "2"])),
                       "scenario": measure(p.parse_args(["--scenario", str(ROOT / "scenarios" / "mnist.toml"),
                                                         "--set", f"data.source={src}", "--set", "data.epochs=1",
                                                         "--set", "network.sizes=[784, 16, 10]", "--window"]))}
    else:
        if not a.source and not a.scenario:
            p.error("give a source or --scenario")
        figures = measure(a)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

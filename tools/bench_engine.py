"""Benchmark of the compiled engine: dense traffic against the previous engine, and cost
against messages on the shipped digits network and an MNIST-sized one.

    python tools/bench_engine.py                      # everything, ~10 minutes on 2 cores
    python tools/bench_engine.py --wait-idle 120       # on a shared machine
    python tools/bench_engine.py --smoke               # seconds: every part on tiny sizes

(a) Always-send inference: a layered network ([400, 250, 250, 10], tanh, delays uniform in
    1-10 ms, every neuron ticking every 0.1 ms step, eta = 0, send policy always, the
    input clamped). Edge-values per wall second (an edge-value: one in-edge of one
    neuron at one of its ticks) on 1 and 2 threads, for this engine's two delivery paths
    (``pull``: every in-edge read from the history ring at every tick, what ``auto``
    picks for this traffic; ``push``: the event-driven timing wheel) and, side by side in
    the same run, for the engine of git revision ``--baseline`` (extracted with ``git
    archive`` into a temporary folder and run in a subprocess on the same workload).
(b) The shipped digits network (scenarios/digits.toml: 64-128-10, its dynamics, delays
    and clocks) over the first ``--presentations`` training presentations of its stream,
    on 2 threads: wall seconds and messages per presentation for send policy always and
    on_delta with thresholds 0.001, 0.01, 0.03 -- so that wall time against messages can
    be read off.
(c) A 784-256-10 network with the shipped dynamics (MNIST-sized: 206,356 edges without
    feedback synapses into the input area, learning.sensory_feedback = false), on 2
    threads: wall seconds per 20 ms presentation, send policy always and on_delta 0.01.
    Its input: ``--mnist DIR`` (the four IDX files), else scikit-learn's digits scaled up
    to 28 x 28.
(d) Learning (eta > 0, decay > 0) against the dense synchronous numpy oracle
    ``asyncpc.reference.DensePC`` on (a)'s network with 1-step delays and synchronous
    clocks (the only timing it simulates): synaptic updates per second, 1 thread.

Timings are the best of ``--repeat`` runs after a warm-up that compiles or loads the
engine. The last line is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

#: The engine before the event-driven rewrite (per-tick plasticity, pull only).
BASELINE = "b328972"

#: (a)'s workload, run both here and by the baseline in a subprocess: prints one JSON line.
WORKLOAD = r"""
import json, sys, time
import numpy as np
from asyncpc.compile import compile_network
from asyncpc.engine import run
from asyncpc.environment import EV_CLAMP, Schedule
from asyncpc.model import Learning, layered
sizes, steps, repeat, threads = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
kw = json.loads(sys.argv[5])
c = compile_network(layered(sizes, activation="tanh", delay={"dist": "uniform", "low": 1.0, "high": 10.0},
                            learning=Learning(eta=0.0), seed=0), h=0.1)
rng = np.random.default_rng(0)
ids = c.neurons_of(c.area_names[0])
sch = Schedule.from_events([(0, EV_CLAMP, int(n), float(v)) for n, v in zip(ids, rng.uniform(-1, 1, len(ids)))],
                           probe_t=[steps - 1], readout=c.neurons_of(c.area_names[-1]), end=steps)
run(c, sch, until=20, threads=threads, **kw)
best = float("inf")
for _ in range(repeat):
    t = time.perf_counter()
    run(c, sch, threads=threads, **kw)
    best = min(best, time.perf_counter() - t)
print(json.dumps({"edges": int(c.n_edges), "seconds": best, "edge_values_per_s": c.n_edges * steps / best}))
"""


def cpu_idle(dt=0.5):
    """Fraction of the machine's CPU time idle over ``dt`` seconds (Linux), or None."""
    def snap():
        v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
        return sum(v), v[3] + v[4]
    try:
        a = snap()
        time.sleep(dt)
        b = snap()
    except OSError:
        return None
    return (b[1] - a[1]) / max(b[0] - a[0], 1)


def wait_idle(seconds):
    """Wait (up to ``seconds``) until other processes leave the CPUs idle."""
    end = time.time() + seconds
    while time.time() < end:
        i = cpu_idle()
        if i is None or i >= 0.9:
            return


def workload(pythonpath, sizes, steps, repeat, threads, kw=None) -> dict:
    """Run (a)'s workload in a subprocess with ``pythonpath`` first on the path."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    out = subprocess.run([sys.executable, "-c", WORKLOAD, json.dumps(sizes), str(steps), str(repeat), str(threads),
                          json.dumps(kw or {})], env=env, capture_output=True, text=True, cwd=tempfile.gettempdir())
    if out.returncode:
        raise RuntimeError(f"workload failed ({pythonpath}): {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def extract(rev: str, into: Path) -> Path:
    """The ``asyncpc`` package of git revision ``rev``, extracted into ``into``."""
    tar = into / "src.tar"
    with open(tar, "wb") as fh:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev, "asyncpc"], stdout=fh, check=True)
    with tarfile.open(tar) as tf:
        tf.extractall(into, filter="data")
    return into


def part_a(args, figures):
    sizes = [40, 25, 25, 10] if args.smoke else [400, 250, 250, 10]
    steps = 40 if args.smoke else args.steps
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = [("this engine, pull", ROOT, {"delivery": "pull"}), ("this engine, push", ROOT, {"delivery": "push"})]
        if args.baseline:
            paths.append((f"baseline {args.baseline}", extract(args.baseline, Path(tmp)), {}))
        for th in (1, 2):
            for name, path, kw in paths:
                wait_idle(args.wait_idle)
                r = workload(path, sizes, steps, args.repeat, th, kw)
                rows.append((name, th, r["edge_values_per_s"]))
                print(f"(a) {name}, {th} thread{'s' if th > 1 else ''}: {r['edge_values_per_s']:.3g} edge-values/s "
                      f"({r['edges']} edges, {steps} steps in {r['seconds']:.3f} s)", flush=True)
    get = {(n, t): v for n, t, v in rows}
    for th in (1, 2):
        figures[f"always_pull_{th}t"] = get[("this engine, pull", th)]
        figures[f"always_push_{th}t"] = get[("this engine, push", th)]
        if args.baseline:
            base = get[(f"baseline {args.baseline}", th)]
            figures[f"always_baseline_{th}t"] = base
            figures[f"always_ratio_vs_baseline_{th}t"] = get[("this engine, pull", th)] / base
            print(f"    {th} thread{'s' if th > 1 else ''}: pull / baseline = "
                  f"{figures[f'always_ratio_vs_baseline_{th}t']:.2f}x, push / baseline = "
                  f"{get[('this engine, push', th)] / base:.2f}x", flush=True)


def stream(scenario: str, sets: list[str], presentations: int, threads: int, repeat: int, wait: float) -> dict:
    """Wall seconds and messages per presentation over the first ``presentations`` of a
    scenario's stream (best of ``repeat``, after a warm-up)."""
    from asyncpc import engine
    from asyncpc.scenario import load_scenario

    scn = load_scenario(scenario, sets)
    c = scn.compile()
    sch = scn.schedule(c, scn.load_data())
    until = int(sch.probe_t[presentations - 1]) + 1
    engine.run(c, sch, seed=0, until=min(until, 50), threads=threads)
    best, res = float("inf"), None
    for _ in range(repeat):
        wait_idle(wait)
        t = time.perf_counter()
        res = engine.run(c, sch, seed=0, until=until, threads=threads)
        best = min(best, time.perf_counter() - t)
    return dict(edges=int(c.n_edges), s_per_presentation=best / presentations,
                messages_per_presentation=res.sent / presentations, delivery=res.extra["delivery"])


POLICIES = (("always", ["messages.send=always"]),
            ("on_delta 0.001", ["messages.send=on_delta", "messages.threshold=0.001"]),
            ("on_delta 0.01", ["messages.send=on_delta", "messages.threshold=0.01"]),
            ("on_delta 0.03", ["messages.send=on_delta", "messages.threshold=0.03"]))


def part_b(args, figures):
    n = 3 if args.smoke else args.presentations
    extra = ["network.sizes=[64, 16, 10]", "data.epochs=1"] if args.smoke else ["data.epochs=1"]
    out = {}
    for name, sets in POLICIES:
        r = stream(str(ROOT / "scenarios" / "digits.toml"), [*extra, *sets], n, 2, args.repeat, args.wait_idle)
        out[name] = r
        print(f"(b) digits, {name} ({r['delivery']}): {r['s_per_presentation'] * 1e3:.2f} ms wall and "
              f"{r['messages_per_presentation']:.3g} messages per presentation", flush=True)
    figures["digits"] = {k: {"s_per_presentation": round(v["s_per_presentation"], 5),
                             "messages_per_presentation": round(v["messages_per_presentation"], 1)}
                         for k, v in out.items()}
    a, b = out["on_delta 0.001"], out["on_delta 0.01"]
    figures["digits_msgs_ratio_0.001_to_0.01"] = a["messages_per_presentation"] / max(b["messages_per_presentation"], 1)
    figures["digits_wall_ratio_0.001_to_0.01"] = a["s_per_presentation"] / b["s_per_presentation"]
    print(f"    0.001 -> 0.01: {figures['digits_msgs_ratio_0.001_to_0.01']:.2f}x fewer messages, "
          f"{figures['digits_wall_ratio_0.001_to_0.01']:.2f}x less wall time", flush=True)


def mnist_sized_data(tmp: Path, mnist: str | None) -> str:
    """A data source for (c): the user's MNIST folder, or digits scaled up to 28 x 28."""
    if mnist:
        return mnist
    from asyncpc.environment import load_dataset

    d = load_dataset("sklearn:digits", normalize="none")
    up = lambda X: np.pad(np.kron(X.reshape(-1, 8, 8), np.ones((3, 3))), ((0, 0), (2, 2), (2, 2))).reshape(len(X), -1)  # noqa: E731
    path = tmp / "digits28.npz"
    np.savez(path, X_train=up(d.X_train), y_train=d.y_train, X_test=up(d.X_test), y_test=d.y_test)
    return str(path)


def part_c(args, figures):
    n = 2 if args.smoke else args.mnist_presentations
    sizes = "[784, 32, 10]" if args.smoke else "[784, 256, 10]"
    with tempfile.TemporaryDirectory() as tmp:
        src = mnist_sized_data(Path(tmp), args.mnist)
        for name, sets in (POLICIES[0], POLICIES[2]):
            r = stream(str(ROOT / "scenarios" / "digits.toml"),
                       [f"network.sizes={sizes}", f"data.source={src}", "data.epochs=1", "data.train_eval=0", *sets],
                       n, 2, 1 if args.smoke else 2, args.wait_idle)
            key = name.replace(" ", "_")
            figures[f"mnist_sized_{key}_s_per_presentation"] = round(r["s_per_presentation"], 4)
            figures[f"mnist_sized_{key}_messages_per_presentation"] = round(r["messages_per_presentation"], 1)
            print(f"(c) {sizes} ({r['edges']} edges), {name} ({r['delivery']}): {r['s_per_presentation']:.3f} s wall "
                  f"and {r['messages_per_presentation']:.3g} messages per 20 ms presentation, 2 threads", flush=True)


def part_d(args, figures):
    from asyncpc.compile import compile_network
    from asyncpc.engine import run
    from asyncpc.environment import EV_CLAMP, Schedule
    from asyncpc.model import Learning, layered
    from asyncpc.reference import DensePC

    sizes = [40, 25, 25, 10] if args.smoke else [400, 250, 250, 10]
    steps = 20 if args.smoke else 300
    c = compile_network(layered(sizes, activation="tanh", delay=0.1, learning=Learning(eta=0.01, decay=0.001),
                                seed=0), h=0.1)
    ids = c.neurons_of(c.area_names[0])
    rng = np.random.default_rng(0)
    sch = Schedule.from_events([(0, EV_CLAMP, int(i), float(v)) for i, v in zip(ids, rng.uniform(-1, 1, len(ids)))],
                               probe_t=[steps - 1], readout=c.neurons_of(c.area_names[-1]), end=steps)
    n_syn = int(c.n_edges - c.has_partner.sum())
    best = {}
    for name, fn in (("dense", lambda: DensePC.from_compiled(c).run(sch)), ("engine", lambda: run(c, sch))):
        fn()
        best[name] = float("inf")
        for _ in range(args.repeat):
            wait_idle(args.wait_idle)
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    figures["learning_ratio_vs_dense"] = best["dense"] / best["engine"]
    print(f"(d) learning, 1 thread: engine {n_syn * steps / best['engine']:.3g}, dense numpy oracle "
          f"{n_syn * steps / best['dense']:.3g} synaptic updates/s: ratio {figures['learning_ratio_vs_dense']:.2f}",
          flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000, help="(a): timed steps per run (0.1 ms each)")
    p.add_argument("--presentations", type=int, default=100, help="(b): presentations per run")
    p.add_argument("--mnist-presentations", type=int, default=20, help="(c): presentations per run")
    p.add_argument("--mnist", default=None, metavar="DIR", help="(c): a folder of the four MNIST IDX files")
    p.add_argument("--baseline", default=BASELINE, help="(a): git revision of the engine to compare with "
                                                        "('' to skip)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per figure; the best counts")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                   help="before each timed run, wait up to this long for the CPUs to be idle")
    p.add_argument("--only", choices=["a", "b", "c", "d"], nargs="+", default=["a", "b", "c", "d"])
    p.add_argument("--smoke", action="store_true", help="tiny sizes, no baseline: seconds")
    args = p.parse_args(argv)
    if args.smoke:
        args.baseline, args.repeat = "", 1
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus", flush=True)
    figures = {}
    for part, fn in (("a", part_a), ("b", part_b), ("c", part_c), ("d", part_d)):
        if part in args.only:
            fn(args, figures)
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in figures.items()}))


if __name__ == "__main__":
    main()

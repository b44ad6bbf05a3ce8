"""Benchmark of the compiled engine: edge-values/s on 1 and 2 threads, learning vs dense.

    python tools/bench_engine.py                     # the default workload, ~1 minute
    python tools/bench_engine.py --wait-idle 120      # on a shared machine
    python tools/bench_engine.py --steps 2000 --sizes 400 250 250 10

(a) Inference: a layered network (default [400, 250, 250, 10], tanh, >= 1e5 predict
    edges and as many feedback edges), every neuron ticking every 0.1 ms step, per-edge
    delays uniform in 1-10 ms, eta = 0, send policy always, the input clamped. Reports
    edge-values per wall second (an edge-value is one edge's value read by its receiver
    at a tick: every in-edge of every neuron, every step) on 1 and on 2 threads.
(b) Learning on (eta > 0, decay > 0): edge-updates per second (every plastic synapse,
    W and V, is updated at every tick), and the ratio against the dense synchronous
    numpy oracle ``asyncpc.reference.DensePC`` on the same network with 1-step delays
    and synchronous clocks (the only timing it can simulate).
(c) Memory: the compiled net's hot bytes per edge, the engine's own per-edge bytes,
    and the peak memory (numpy allocations by tracemalloc; process peak RSS).

Timings are the best of ``--repeat`` runs, after a warm-up run that compiles or loads
the engine. Other processes on the machine slow the 2-thread figure most (the threads
meet at every window): the load average is printed first, and ``--wait-idle 120`` waits
(up to 120 s before each timed run) for idle CPUs. The last line is one JSON object
with the headline figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from asyncpc.compile import compile_network  # noqa: E402
from asyncpc.engine import run, warmup  # noqa: E402
from asyncpc.engine._layout import EngineLayout  # noqa: E402
from asyncpc.environment import EV_CLAMP, Schedule  # noqa: E402
from asyncpc.model import Learning, layered  # noqa: E402
from asyncpc.reference import DensePC  # noqa: E402


def build(sizes, *, eta, delay, seed=0):
    learning = Learning(eta=eta, decay=eta / 10)
    return compile_network(layered(sizes, activation="tanh", delay=delay, learning=learning, seed=seed), h=0.1)


def schedule(c, steps, seed=0):
    rng = np.random.default_rng(seed)
    ids = c.neurons_of(c.area_names[0])
    ev = [(0, EV_CLAMP, int(n), float(v)) for n, v in zip(ids, rng.uniform(-1, 1, len(ids)))]
    return Schedule.from_events(ev, probe_t=[steps - 1], readout=c.neurons_of(c.area_names[-1]), end=steps)


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


WAIT = {"seconds": 0.0, "waited": 0.0}


def wait_idle():
    """With ``--wait-idle``, wait (up to that many seconds) until other processes leave
    the CPUs idle: a shared machine otherwise halves the 2-thread figure."""
    end = time.time() + WAIT["seconds"]
    while time.time() < end:
        i = cpu_idle()
        if i is None or i >= 0.9:
            return
        WAIT["waited"] += 0.5


def best_of(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        wait_idle()
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def plastic_edges(c):
    """Synapses updated at every tick: every in-edge except partner edges."""
    return int(c.n_edges - c.has_partner.sum())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[400, 250, 250, 10])
    p.add_argument("--steps", type=int, default=1000, help="timed steps per run (0.1 ms each)")
    p.add_argument("--dense-steps", type=int, default=300, help="timed steps of the dense oracle")
    p.add_argument("--eta", type=float, default=0.01, help="learning rate of part (b), per ms")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per figure; the best counts")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                   help="before each timed run, wait up to this long for the CPUs to be idle")
    args = p.parse_args(argv)
    WAIT["seconds"] = args.wait_idle

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus")
    t = time.perf_counter()
    warm = warmup()
    print(f"engine warm-up (compile or load from cache): {warm:.1f} s ({time.perf_counter() - t:.1f} s)")
    delay = {"dist": "uniform", "low": 1.0, "high": 10.0}
    c = build(args.sizes, eta=0.0, delay=delay)
    role = c.edge_role()
    n_pred = int((role == 0).sum())
    print(f"network {args.sizes}: {c.n_neurons} neurons, {c.n_edges} edges ({n_pred} predict, "
          f"{int((role == 1).sum())} feedback), delays {int(c.delay.min())}..{c.max_delay} steps")
    sch = schedule(c, args.steps)

    # (a) inference
    figures = {}
    for th in (1, 2):
        run(c, sch, until=20, threads=th)  # compile / load this variant
        dt = best_of(lambda: run(c, sch, threads=th), args.repeat)
        figures[th] = c.n_edges * args.steps / dt
        print(f"(a) inference, {th} thread{'s' if th > 1 else ''}: {dt:.3f} s for {args.steps} steps, "
              f"{figures[th]:.3g} edge-values/s")
    print(f"    2-thread speed-up {figures[2] / figures[1]:.2f}x")

    # (b) learning on, and the dense oracle on the same network with 1-step delays
    cl = build(args.sizes, eta=args.eta, delay=delay)
    n_pl = plastic_edges(cl)
    upd = {}
    for th in (1, 2):
        run(cl, sch, until=20, threads=th)
        dt = best_of(lambda: run(cl, sch, threads=th), args.repeat)
        upd[th] = n_pl * args.steps / dt
        print(f"(b) learning, {th} thread{'s' if th > 1 else ''}: {upd[th]:.3g} edge-updates/s")
    c1 = build(args.sizes, eta=args.eta, delay=0.1)
    sch1 = schedule(c1, args.dense_steps)
    DensePC.from_compiled(c1).run(sch1, until=5)
    dt = best_of(lambda: DensePC.from_compiled(c1).run(sch1), args.repeat)
    dense = n_pl * args.dense_steps / dt
    run(c1, sch1, until=5)
    dt = best_of(lambda: run(c1, sch1), args.repeat)
    eng1 = n_pl * args.dense_steps / dt
    ratio = upd[1] / dense
    print(f"    dense numpy oracle (1-step delays, synchronous): {dense:.3g} edge-updates/s")
    print(f"    engine on that same 1-step network, 1 thread: {eng1:.3g} edge-updates/s "
          f"(ratio {eng1 / dense:.2f})")
    print(f"    ratio engine (1 thread, delays 1-10 ms) / dense: {ratio:.2f}")

    # (c) memory
    lay = EngineLayout(c)
    tracemalloc.start()
    run(c, sch, threads=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(c) {c.bytes_per_edge():.1f} hot bytes/edge in the compiled net (CompiledNet.bytes_per_edge), "
          f"+{lay.engine_bytes_per_edge():.0f} in the engine (ring offset, run's synapse and inbox); "
          f"history ring {lay.L} x {2 * c.n_neurons} float64 = {lay.L * 2 * c.n_neurons * 8 / 2**20:.1f} MiB")
    print(f"    peak numpy memory of a run {peak / 2**20:.1f} MiB (tracemalloc); process peak RSS {rss:.0f} MiB")
    if WAIT["seconds"]:
        print(f"waited {WAIT['waited']:.0f} s in all for idle CPUs")
    print(json.dumps({"edge_values_per_s_1t": float(f"{figures[1]:.4g}"),
                      "edge_values_per_s_2t": float(f"{figures[2]:.4g}"),
                      "learning_ratio_vs_dense": round(ratio, 3),
                      "bytes_per_edge": round(c.bytes_per_edge(), 2)}))


if __name__ == "__main__":
    main()

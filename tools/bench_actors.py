"""Benchmark of the actor runtime: messages sent per wall second, on one core.

    python tools/bench_actors.py                      # [100, 100, 10], random delays
    python tools/bench_actors.py --steps 500 --loss 0.1 --jitter 0.2
    python tools/bench_actors.py --profile            # cProfile of the run, top 25
    python tools/bench_actors.py --smoke              # seconds: [10, 10, 3], 50 steps, one timed run

It builds a layered network (tanh, learning on, sensory and label areas clamped to
random values), warms the JIT up explicitly (reported separately: it is paid once per
machine thanks to Numba's on-disk cache, and once per process to load), then runs a
fixed number of steps in virtual time and prints messages/s (messages sent on edges,
dropped ones included, per wall second of the run), ticks/s and steps/s. The last line is
one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from asyncpc.actors import run, warmup  # noqa: E402
from asyncpc.compile import compile_network  # noqa: E402
from asyncpc.environment import EV_CLAMP, Schedule  # noqa: E402
from asyncpc.model import Clocks, Learning, Messages, layered  # noqa: E402


def build(args):
    net = layered(args.sizes, activation="tanh",
                  delay={"dist": "uniform", "low": 0.1, "high": args.delay_high},
                  clocks=Clocks(period=args.period, phase="random" if args.random_phase else "zero"),
                  messages=Messages(send=args.send, threshold=args.threshold, loss=args.loss, jitter=args.jitter),
                  learning=Learning(eta=0.01), seed=args.seed)
    return compile_network(net, h=0.1)


def schedule(c, steps, seed):
    rng = np.random.default_rng(seed)
    ids = np.concatenate([c.neurons_of(c.area_names[0]), c.neurons_of(c.area_names[-1])])
    ev = [(0, EV_CLAMP, int(n), float(v)) for n, v in zip(ids, rng.uniform(-1, 1, len(ids)))]
    return Schedule.from_events(ev, probe_t=range(0, steps, 50), readout=c.neurons_of(c.area_names[-1]), end=steps)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 100, 10])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--delay-high", type=float, default=1.0, help="delays uniform in [0.1, this] ms")
    p.add_argument("--period", type=float, default=0.1, help="clock period, ms")
    p.add_argument("--random-phase", action="store_true")
    p.add_argument("--send", default="always", choices=["always", "on_delta"])
    p.add_argument("--threshold", type=float, default=0.0)
    p.add_argument("--loss", type=float, default=0.0)
    p.add_argument("--jitter", type=float, default=0.0, help="message jitter, ms")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3, help="timed runs; the best is reported")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--smoke", action="store_true", help="seconds: --sizes 10 10 3 --steps 50 --repeat 1")
    args = p.parse_args(argv)
    if args.smoke:
        args.sizes, args.steps, args.repeat = [10, 10, 3], 50, 1

    t = time.perf_counter()
    jit_s = warmup()
    t_import = time.perf_counter() - t
    t = time.perf_counter()
    c = build(args)
    t_build = time.perf_counter() - t
    sc = schedule(c, args.steps, args.seed)
    print(f"network {args.sizes}: {c.n_neurons} neurons, {c.n_edges} edges, delays 1..{c.max_delay} steps")
    print(f"JIT warm-up: {jit_s:.2f} s (kernels compiled or loaded from cache); build+compile {t_build:.2f} s")
    del t_import

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        res = run(c, sc, seed=args.seed)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return 0
    best = None
    for _ in range(args.repeat):
        t = time.perf_counter()
        res = run(c, sc, seed=args.seed)
        wall = time.perf_counter() - t
        best = wall if best is None else min(best, wall)
    ticks = int(res.state.ticks.sum())
    print(f"{args.steps} steps in {best:.3f} s (best of {args.repeat}): {res.sent} messages sent "
          f"({res.dropped} dropped), {ticks} ticks")
    print(f"messages/s: {res.sent / best:,.0f}   ticks/s: {ticks / best:,.0f}   steps/s: {args.steps / best:,.1f}")
    print(json.dumps({"sizes": args.sizes, "edges": int(c.n_edges), "steps": args.steps, "seconds": round(best, 4),
                      "sent": int(res.sent), "dropped": int(res.dropped), "ticks": ticks,
                      "messages_per_s": float(f"{res.sent / best:.4g}"), "ticks_per_s": float(f"{ticks / best:.4g}"),
                      "jit_warmup_s": round(jit_s, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

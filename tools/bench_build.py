"""How big a network can be built: seconds and peak memory per synapse of building and
compiling a layered network, through the ``networkx`` graph against straight from its
blueprint (issue 20: 10^8 synapses in <= 60 s and <= 40 bytes per synapse at peak).

    python tools/bench_build.py                        # ~1 minute, ~4 GB at the largest size
    python tools/bench_build.py --sizes 1000,25000,1000 --graph-sizes 64,20000,10
    python tools/bench_build.py --smoke                # seconds

Each measurement runs in a fresh Python process: it imports asyncpc, warms the compiler's
Numba kernels on a tiny network, records its peak resident memory, then builds and
compiles the network (``layered(..., as_blueprint=...)`` + ``compile_network``, the
digits scenario's relu areas with per-edge delays U(0.1, 0.5) ms) and reports the
seconds and ``(peak after - peak before) / edges`` bytes per synapse (every weighted
edge: W, V and the partner edges). ``graph`` builds the ``networkx`` graph first (what
``asyncpc`` did before blueprints); ``blueprint`` never does. The last line is one JSON
object with every row.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from asyncpc.compile import compile_network
from asyncpc.model import layered

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

compile_network(layered([3, 2, 2], as_blueprint=True))  # Numba's kernels compiled or loaded
compile_network(layered([3, 2, 2]))
before = peak()
t = time.perf_counter()
net = layered({sizes!r}, activation="relu", as_blueprint={blueprint!r},
              delay={{"dist": "uniform", "low": 0.1, "high": 0.5}}, seed=0)
c = compile_network(net, 0.1)
s = time.perf_counter() - t
print(json.dumps(dict(edges=int(c.n_edges), neurons=int(c.n_neurons), seconds=round(s, 3),
                      peak_bytes_per_synapse=round((peak() - before) / c.n_edges, 2),
                      compiled_bytes_per_synapse=round(sum(a.nbytes for a in (c.src, c.dst, c.delay, c.w, c.loss,
                                                   c.jit, c.out_edge, c.mirror)) / c.n_edges, 2))))
"""


def measure(path: str, sizes: list[int], blueprint: bool) -> dict:
    code = CHILD.format(root=ROOT, sizes=sizes, blueprint=blueprint)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"bench_build: the {path} build of {sizes} failed:\n{res.stderr.strip()}")
    return dict(path=path, sizes=sizes, **json.loads(res.stdout.strip().splitlines()[-1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,25000,1000", help="the large network, blueprint only (1e8 synapses)")
    ap.add_argument("--graph-sizes", default="64,20000,10", help="the size measured both ways, side by side")
    ap.add_argument("--smoke", action="store_true", help="tiny networks, seconds")
    a = ap.parse_args(argv)
    if a.smoke:
        a.sizes, a.graph_sizes = "20,30,5", "8,12,4"
    big = [int(x) for x in a.sizes.split(",")]
    small = [int(x) for x in a.graph_sizes.split(",")]
    rows = [measure("graph", small, False), measure("blueprint", small, True), measure("blueprint", big, True)]
    print(f"{'path':<10} {'sizes':<20} {'synapses':>12} {'seconds':>8} {'peak B/synapse':>15} {'arrays B/synapse':>17}")
    for r in rows:
        print(f"{r['path']:<10} {str(r['sizes']):<20} {r['edges']:>12,} {r['seconds']:>8.2f} "
              f"{r['peak_bytes_per_synapse']:>15.1f} {r['compiled_bytes_per_synapse']:>17.1f}")
    g, b = rows[0], rows[1]
    mem = (f"{g['peak_bytes_per_synapse'] / b['peak_bytes_per_synapse']:.1f}x the memory"
           if b["peak_bytes_per_synapse"] >= 1 else "the blueprint's peak is within the noise of the measure")
    print(f"same network, graph / blueprint: {g['seconds'] / max(b['seconds'], 1e-3):.1f}x the time, {mem}")
    print(json.dumps({"rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

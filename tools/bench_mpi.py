"""Two MPI ranks against two threads: wall time of the engine on digits-shaped networks, in
one process on 1 and 2 threads and under ``mpiexec -n 2`` (one thread per rank), measured
side by side in one run; what the exchange costs per window; and a model of many ranks.

    python tools/bench_mpi.py                         # [64, 8000, 10]: 1.2e6 edges; ~3 minutes on 2 cores
    python tools/bench_mpi.py --hidden 500 8000 --presentations 2 --repeat 2
    python tools/bench_mpi.py --smoke                 # seconds: [64, 16, 10], one presentation

Each case runs the digits scenario's own schedule (delays, clocks, data stream, learning)
with the hidden area resized, for the first ``--presentations`` presentations: best of
``--repeat`` timed runs after a warm-up run (which compiles or loads the engine). Under
``mpiexec`` the same script runs as ``--child``: every rank calls ``engine.run(...,
ranks=...)`` and rank 0 reports its wall time and its exchanges (windows, bytes it sent,
seconds spent in them, waiting included). ``exchange_share`` is that time over the rest
of the wall time (the target of issue 20: at most 0.10).

The model (``--model``, printed after the measurements) is arithmetic, not a measurement:
per window, a rank's compute is the measured one-thread time per edge-step times its
share of the edges, and its exchange is ``latency x peers + bytes / bandwidth``, the
bytes from the measured bytes per cut edge and step (every edge cut with probability
1 - 1/K, as a random partition would); the time the ranks wait for the slowest one is
the measured share at 2 ranks, kept at every K. Latency and bandwidth are stated
assumptions (defaults: 2 us and 10 GB/s, an InfiniBand-class network). The last line is
one JSON object with every row.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asyncpc._mpi import find_mpiexec  # noqa: E402
from asyncpc.engine import run  # noqa: E402
from asyncpc.scenario import load_scenario  # noqa: E402

DIGITS = ROOT / "scenarios" / "digits.toml"


def load(hidden: int, presentations: int):
    scn = load_scenario(DIGITS, [f"network.sizes=[64, {hidden}, 10]"])
    c = scn.compile()
    sched = scn.schedule(c, scn.load_data())
    until = int(sched.probe_t[min(presentations, len(sched.probe_t)) - 1]) + 1
    return c, sched, until


def timed(c, sched, until, repeat, **kw) -> tuple[float, object]:
    run(c, sched, seed=0, until=min(until, 50), **kw)  # compile / load once
    best, res = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = run(c, sched, seed=0, until=until, **kw)
        best = min(best, time.perf_counter() - t0)
    return best, res


def child(hidden: int, presentations: int, repeat: int) -> None:
    """One rank of ``mpiexec -n K``: rank 0 prints its figures as JSON."""
    from asyncpc._mpi import world

    ranks = world()
    c, sched, until = load(hidden, presentations)
    wall, res = timed(c, sched, until, repeat, threads=1, ranks=ranks)
    if ranks.root:
        x = res.extra
        print(json.dumps(dict(wall_s=wall, window=x["window"], cut_edges=x["cut_edges"], balance=x["balance"],
                              **{f"exchange_{k}": v for k, v in x["exchange"].items()})), flush=True)


def case(hidden: int, presentations: int, repeat: int, ranks: int) -> dict:
    c, sched, until = load(hidden, presentations)
    row = dict(sizes=[64, hidden, 10], neurons=int(c.n_neurons), edges=int(c.n_edges), steps=until)
    for threads in (1, 2):
        row[f"threads{threads}_s"] = round(timed(c, sched, until, repeat, threads=threads)[0], 4)
    exe = find_mpiexec()
    if exe is None:
        row["ranks2_s"] = None
        row["note"] = "no mpiexec: pip install -e '.[mpi]'"
        return row
    p = subprocess.run([exe, "-n", str(ranks), sys.executable, __file__, "--child", "--hidden", str(hidden),
                        "--presentations", str(presentations), "--repeat", str(repeat)],
                       capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        raise SystemExit(f"mpiexec -n {ranks} failed:\n{p.stderr[-3000:]}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    w = r["exchange_windows"]
    row.update({f"ranks{ranks}_s": round(r["wall_s"], 4), "window_steps": r["window"],
                "cut_fraction": round(r["cut_edges"] / c.n_edges, 4), "load_balance": round(r["balance"], 4),
                "windows": w, "bytes_per_window": round(r["exchange_bytes"] / max(w, 1), 1),
                "exchange_us_per_window": round(1e6 * r["exchange_seconds"] / max(w, 1), 1),
                "waiting_us_per_window": round(1e6 * r["exchange_waiting"] / max(w, 1), 1),
                "compute_us_per_window": round(1e6 * (r["wall_s"] - r["exchange_seconds"]) / max(w, 1), 1)})
    row["exchange_share"] = round(r["exchange_seconds"] / max(r["wall_s"] - r["exchange_seconds"], 1e-12), 3)
    row["speedup_2_threads"] = round(row["threads1_s"] / row["threads2_s"], 3)
    row[f"speedup_{ranks}_ranks"] = round(row["threads1_s"] / row[f"ranks{ranks}_s"], 3)
    row["bytes_per_cut_edge_step"] = round(r["exchange_bytes"] / max(r["cut_edges"], 1) / until, 5)
    return row


def model(row: dict, neurons: float, fan_in: float, latency: float, bandwidth: float, ranks=(8, 64, 512)) -> list:
    """Predicted parallel efficiency at ``ranks`` for a network of ``neurons`` neurons with
    ``fan_in`` synapses each, from one measured row (see the module's docstring)."""
    per_edge_step = row["threads1_s"] / (row["edges"] * row["steps"])  # measured, one thread
    imbalance = row["waiting_us_per_window"] / row["compute_us_per_window"]  # measured at 2 ranks, kept
    edges = neurons * fan_in
    out = []
    for k in ranks:
        compute = per_edge_step * edges / k  # per step, one rank's share
        cut = edges * (1 - 1 / k)  # random cut: every edge leaves its rank with probability 1 - 1/k
        volume = row["bytes_per_cut_edge_step"] * cut / k  # bytes a rank sends per step
        peers = k - 1
        exchange = latency * peers + volume / bandwidth
        out.append(dict(ranks=k, compute_us_per_step=round(1e6 * compute, 2),
                        exchange_us_per_step=round(1e6 * exchange, 2),
                        imbalance=round(imbalance, 3),
                        efficiency=round(compute / (compute * (1 + imbalance) + exchange), 3)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hidden", type=int, nargs="+", default=[8000])
    ap.add_argument("--presentations", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--latency-us", type=float, default=2.0)
    ap.add_argument("--bandwidth-gbs", type=float, default=10.0)
    ap.add_argument("--model-neurons", type=float, default=1e6)
    ap.add_argument("--model-fan-in", type=float, default=1000.0)
    ap.add_argument("--smoke", action="store_true", help="seconds: [64, 16, 10], one presentation")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.smoke:
        a.hidden, a.presentations, a.repeat = [16], 1, 1
    if a.child:
        child(a.hidden[0], a.presentations, a.repeat)
        return 0
    rows = [case(h, a.presentations, a.repeat, a.ranks) for h in a.hidden]
    for r in rows:
        print({k: v for k, v in r.items()}, flush=True)
    measured = [r for r in rows if r.get(f"ranks{a.ranks}_s")]
    predicted = model(measured[-1], a.model_neurons, a.model_fan_in, a.latency_us * 1e-6,
                      a.bandwidth_gbs * 1e9) if measured else []
    for m in predicted:
        print(f"modelled: {m}")
    print(json.dumps(dict(rows=rows, model=dict(neurons=a.model_neurons, fan_in=a.model_fan_in,
                                                latency_us=a.latency_us, bandwidth_gbs=a.bandwidth_gbs,
                                                rows=predicted))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run under ``mpiexec -n K python tests/mpi_case.py THREADS`` by tests/test_mpi.py: random
networks (delays, clock jitter, message jitter, loss, on_delta, environment events) run
across the K ranks in a chain of calls, with sends and messages recorded in one of them;
rank 0 checks every state array, counter, probe, message in flight and recorded table
against the one-process run, and prints one ``OK`` line per case."""

import sys
from pathlib import Path

import networkx as nx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from test_engine import (NOISY, assert_same_result, assert_same_table, random_schedule, slow_middle,  # noqa: E402
                         two_clusters)

from asyncpc import engine  # noqa: E402
from asyncpc._mpi import world  # noqa: E402
from asyncpc.compile import CompiledNet, compile_network  # noqa: E402
from asyncpc.model import Clocks, Learning, Messages, from_area_graph, layered  # noqa: E402


#: What each call of the chain records (the compiled specialisations the test suite has).
RECORD = ({}, {"record_sends": True}, {"record_messages": True})


def cases():
    yield "layered, noisy", layered([5, 7, 6, 3], activation="tanh", seed=3, **NOISY), 90
    ag = nx.DiGraph()
    for i, n in enumerate((4, 5, 3, 4)):
        ag.add_node(f"a{i}", size=n, activation="relu")
    ag.add_edges_from([("a0", "a1"), ("a0", "a2"), ("a1", "a3"), ("a2", "a3"), ("a0", "a3")])
    yield "areas, always sending", from_area_graph(
        ag, seed=5, learning=Learning(eta=0.05), clocks=Clocks(period=0.2, phase="random"),
        delay={"dist": "uniform", "low": 0.1, "high": 0.6}), 70
    yield "layered, slow wires", layered([4, 6, 3], seed=7, messages=Messages(jitter=0.3),
                                         delay={"dist": "uniform", "low": 0.5, "high": 1.0}), 80
    yield "areas, one slow wire", slow_middle((8, 10, 6, 8)), 90
    yield "two clusters, interleaved ids", two_clusters(messages=Messages(send="on_delta", threshold=0.01)), 80


def main(threads: int) -> int:
    ranks = world()
    assert ranks is not None and ranks.size > 1, "start me with mpiexec -n K (K > 1)"
    for name, net, end in cases():
        c = net if isinstance(net, CompiledNet) else compile_network(net, h=0.1)
        sch = random_schedule(c, np.random.default_rng(end), end)
        cuts = [end // 3, 2 * end // 3, end]
        st, parts = None, []
        for i, u in enumerate(cuts):
            r = engine.run(c, sch, seed=11, until=u, state=st, threads=threads, ranks=ranks, **RECORD[i])
            st = r.state
            parts.append(r)
        if ranks.root:
            st_ref, ref = None, []
            for i, u in enumerate(cuts):
                r = engine.run(c, sch, seed=11, until=u, state=st_ref, threads=1, **RECORD[i])
                st_ref = r.state
                ref.append(r)
            for a, b in zip(parts, ref):
                assert_same_result(a, b)
                fa, fb = a.extra["in_flight"], b.extra["in_flight"]
                for k in ("t_send", "t_arrive", "edge", "value"):
                    assert np.array_equal(fa[k], fb[k]), k
            for i, key, col in ((1, "sends", "t"), (2, "messages", "t_send")):
                assert len(ref[i].extra[key][col]) > 0
                assert_same_table(parts[i].extra[key], ref[i].extra[key])
            x = parts[-1].extra
            print(f"OK {name}: K={ranks.size} threads={threads} partitioner={x['partitioner']} "
                  f"window={x['window']} cut={x['cut_edges']}/"
                  f"{c.n_edges} sent={st.sent} windows={x['exchange']['windows']}", flush=True)
        else:
            assert parts[1].extra["sends"] is None and parts[2].extra["messages"] is None
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1))

"""asyncpc.compile: the flat layout agrees with the graph."""

import numpy as np
import pytest

from asyncpc.compile import KIND_ERROR, KIND_VALUE, compile_network
from asyncpc.errors import SpecError
from asyncpc.model import Clocks, Learning, layered


def test_csr_matches_the_graph():
    net = layered([5, 4, 3], p=0.6, seed=1, delay={"dist": "uniform", "low": 0.1, "high": 0.9})
    c = compile_network(net, h=0.1)
    g = net.graph
    assert c.n_edges == g.number_of_edges()
    ids = c.node_ids
    for e in range(c.n_edges):
        u, v = ids[c.src[e]], ids[c.dst[e]]
        d = g.edges[u, v]
        assert c.w[e] == d["weight"]
        assert c.delay[e] == round(d["delay"] / 0.1)
        assert c.in_ptr[c.dst[e]] <= e < c.in_ptr[c.dst[e] + 1]
    # partner edge first in every row that has one
    roles = c.edge_role()
    for i in range(c.n_neurons):
        row = roles[c.in_ptr[i]:c.in_ptr[i + 1]]
        assert (row == 2).sum() == c.has_partner[i]
        if c.has_partner[i]:
            assert row[0] == 2
    # outgoing CSR covers every edge once, grouped by sender
    assert sorted(c.out_edge.tolist()) == list(range(c.n_edges))
    for i in range(c.n_neurons):
        assert np.all(c.src[c.out_edge[c.out_ptr[i]:c.out_ptr[i + 1]]] == i)


def test_mirror_pairs_predict_and_feedback():
    c = compile_network(layered([4, 3], seed=0))
    roles = c.edge_role()
    for e in np.flatnonzero(roles < 2):
        m = c.mirror[e]
        assert m >= 0 and c.src[m] == c.dst[e] and c.dst[m] == c.src[e] and roles[m] != roles[e]
    assert np.all(c.mirror[roles == 2] == -1)


def test_bytes_per_edge_within_budget():
    c = compile_network(layered([64, 128, 10]))
    assert c.bytes_per_edge() <= 40


def test_kinds_and_neurons_of():
    c = compile_network(layered([3, 2]))
    assert list(c.neurons_of("label", KIND_VALUE)) == [3, 4]
    assert list(c.neurons_of("label", KIND_ERROR)) == [5, 6]
    assert c.area_names == ["input", "label"]


@pytest.mark.parametrize("kwargs, h, match", [
    (dict(delay=0.04), 0.1, "below one step"),
    (dict(clocks=Clocks(period=0.04)), 0.1, "below one step"),
    (dict(clocks=Clocks(period=0.2, jitter=0.2)), 0.1, "below the period"),
    (dict(clocks=Clocks(period=2.0)), 0.1, "Euler needs"),
])
def test_compile_rejects_what_the_steps_cannot_hold(kwargs, h, match):
    with pytest.raises(SpecError, match=match):
        compile_network(layered([3, 2], **kwargs), h=h)


def test_compile_rejects_bad_resolution():
    with pytest.raises(SpecError, match="run.h"):
        compile_network(layered([3, 2]), h=0)


def test_learning_rates_land_on_the_owners():
    c = compile_network(layered([3, 2], learning=Learning(eta=0.2, eta_b=0.05, decay=1e-3)))
    assert np.all(c.eta == 0.2) and np.all(c.decay == 1e-3)
    assert np.all(c.eta_b[c.kind == KIND_ERROR] == 0.05)

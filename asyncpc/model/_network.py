"""The neuron-level network: a validated ``networkx.DiGraph`` and views of it.

Node attributes (defaults used when a user's graph omits them)
---------------------------------------------------------------
``kind``          ``"value"`` or ``"error"`` (required)
``area``          area name (default ``"default"``)
``index``         position in the area (default: order of appearance)
``activation``    ``linear|tanh|sigmoid|relu|leaky_relu`` (default ``"linear"``)
``role``          ``sensory|label|hidden`` (default ``"hidden"``)
``tau``           ms; tau_x of a value neuron (default 1.0), tau_e of an error neuron (default 0.0)
``x0``            initial activity of a value neuron (default 0.0)
``bias``          bias of an error neuron (default 0.0)
``period``        clock period, ms (default 0.1)
``phase``         clock phase, ms (default 0.0)
``clock_jitter``  ms (default 0.0)
``send``          ``always|on_delta`` (default ``"always"``); ``threshold`` (default 0.0);
                  ``refresh`` ms: on_delta sends at least this often (default 0.0: never forced)
``eta``           learning rate of the synapses this neuron owns, per ms (default 0.0)
``eta_b``         bias learning rate of an error neuron (default 0.0)
``decay``         weight decay lambda, per ms (default 0.0)
``x``, ``y``      position on the cortical sheet, mm (set by the builders; used by distance delays)

Edge attributes
---------------
``role``    ``predict`` (value -> child error), ``feedback`` (error -> parent value) or
            ``partner`` (value <-> its own error neuron) (required)
``weight``  the synapse held by the receiver (W for predict, V for feedback; partner
            edges are fixed at +1 (value -> error) and -1 (error -> value))
``delay``   ms, > 0 (default 0.1); ``loss`` probability (default 0.0); ``jitter`` ms (default 0.0)

Graph attributes: ``feedback`` (``learned`` or ``transport``), optional ``shape:AREA``
(``"RxC"``) and ``direction``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np

from ..errors import GraphError
from ..neurons import OPTIONS, check_options
from ._spec import ACTIVATIONS, ROLES, SEND_POLICIES

__all__ = ["Network", "AreaInfo", "NODE_DEFAULTS", "EDGE_DEFAULTS", "check_node"]

NODE_DEFAULTS = dict(area="default", activation="linear", role="hidden", x0=0.0, bias=0.0,
                     period=0.1, phase=0.0, clock_jitter=0.0, send="always", threshold=0.0, refresh=0.0,
                     eta=0.0, eta_b=0.0, decay=0.0, **{o.name: o.neutral for o in OPTIONS})
TAU_DEFAULT = {"value": 1.0, "error": 0.0}
EDGE_DEFAULTS = dict(delay=0.1, loss=0.0, jitter=0.0)
ROLE_ENDS = {"predict": ("value", "error"), "feedback": ("error", "value")}


@dataclass(frozen=True)
class AreaInfo:
    """What the graph says about one area."""

    name: str
    size: int
    role: str
    activation: str
    has_errors: bool
    shape: tuple[int, int] | None
    value_ids: tuple
    error_ids: tuple


def _num(v, at, field, *, lo=None, lo_open=False, hi=None):
    """``v`` as a float, refused (at ``at``, ``field``) unless finite and within bounds."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise GraphError.located(at, field, f"must be a number, got {v!r}") from None
    if not math.isfinite(f):
        raise GraphError.located(at, field, f"must be finite, got {v!r}")
    if lo is not None and (f <= lo if lo_open else f < lo):
        raise GraphError.located(at, field, f"must be {'>' if lo_open else '>='} {lo}, got {v!r}")
    if hi is not None and f > hi:
        raise GraphError.located(at, field, f"must be <= {hi}, got {v!r}")
    return f


def check_node(n, attrs: dict, a: dict) -> None:
    """One neuron's kind, activation, role, send policy, numbers and options: ``attrs``
    as given, ``a`` with the defaults filled in (:meth:`Network.node`)."""
    at = ("node", n)
    kind = attrs.get("kind")
    if kind not in ("value", "error"):
        raise GraphError.located(at, "kind", f"must be 'value' or 'error', got {kind!r}")
    if a["activation"] not in ACTIVATIONS:
        raise GraphError.located(at, "activation", f"unknown activation {a['activation']!r}; "
                                                   f"expected one of {list(ACTIVATIONS)}")
    if a["role"] not in ROLES:
        raise GraphError.located(at, "role", f"must be one of {list(ROLES)}, got {a['role']!r}")
    if a["send"] not in SEND_POLICIES:
        raise GraphError.located(at, "send", f"must be one of {list(SEND_POLICIES)}, got {a['send']!r}")
    _num(a["tau"], at, "tau", lo=0, lo_open=(kind == "value"))
    _num(a["period"], at, "period", lo=0, lo_open=True)
    _num(a["phase"], at, "phase", lo=0)
    _num(a["clock_jitter"], at, "clock_jitter", lo=0)
    for k in ("threshold", "refresh", "eta", "eta_b", "decay"):
        _num(a[k], at, k, lo=0)
    check_options({o.name: a[o.name] for o in OPTIONS if kind in o.kinds}, at, error=GraphError)
    for k in ("x0", "bias"):
        _num(a[k], at, k)
    if "index" in attrs:
        ix = attrs["index"]
        if isinstance(ix, bool) or not isinstance(ix, (int, np.integer)) or not 0 <= ix < 2**31:
            raise GraphError.located(at, "index", f"must be an integer in 0..2^31-1, got {ix!r}")


class Network:
    """A predictive-coding network on a neuron-level ``networkx.DiGraph``.

    The graph is validated on construction (:meth:`validate`); any graph obeying the
    attribute conventions of this module is accepted, whoever built it.

    Examples
    --------
    >>> from asyncpc.model import layered
    >>> net = layered([2, 3, 1])
    >>> net.areas["hidden1"].size, net.areas["hidden1"].has_errors
    (3, True)
    """

    def __init__(self, graph: nx.DiGraph, *, validate: bool = True):
        if not isinstance(graph, nx.DiGraph):
            raise GraphError.located("network", (), f"expected a networkx.DiGraph, got {type(graph).__name__}")
        self.graph = graph
        _rename_aliases(graph)
        if validate:
            self.validate()
        self.areas = self._collect_areas()
        if validate:
            for a in self.areas.values():
                if a.shape is not None and a.shape[0] * a.shape[1] != a.size:
                    raise GraphError.located(("graph", f"shape:{a.name}"), (),
                                             f"{a.shape[0]}x{a.shape[1]} does not match the area's {a.size} "
                                             "value neurons")

    def __repr__(self) -> str:
        areas = ", ".join(f"{a.name} {a.size}" for a in self.areas.values())
        return (f"Network({self.graph.number_of_nodes():,} neurons, {self.graph.number_of_edges():,} edges; "
                f"areas: {areas})")

    def node(self, n) -> dict:
        """Node attributes with documented defaults filled in."""
        a = self.graph.nodes[n]
        out = dict(NODE_DEFAULTS)
        out["tau"] = TAU_DEFAULT.get(a.get("kind"), 0.0)
        out.update(a)
        return out

    def edge(self, u, v) -> dict:
        out = dict(EDGE_DEFAULTS)
        out.update(self.graph.edges[u, v])
        return out

    def n_edges(self, role: str | None = None) -> int:
        """Number of edges, optionally of one role."""
        if role is None:
            return self.graph.number_of_edges()
        return sum(1 for *_, r in self.graph.edges(data="role") if r == role)

    def _collect_areas(self) -> dict[str, AreaInfo]:
        vals: dict[str, list] = {}
        errs: dict[str, list] = {}
        first: dict[str, dict] = {}
        for n in self.graph.nodes:
            a = self.node(n)
            (vals if a["kind"] == "value" else errs).setdefault(a["area"], []).append((a.get("index", 0), n))
            first.setdefault(a["area"], a)
        out = {}
        for name in first:
            v = [n for _, n in sorted(vals.get(name, []), key=lambda t: t[0])]
            e = [n for _, n in sorted(errs.get(name, []), key=lambda t: t[0])]
            s = self.graph.graph.get(f"shape:{name}")
            shape = tuple(int(x) for x in s.split("x")) if isinstance(s, str) else None
            out[name] = AreaInfo(name, len(v), first[name]["role"], first[name]["activation"],
                                 bool(e), shape, tuple(v), tuple(e))
        return out

    def validate(self) -> None:
        """Check the rules of the model; raise :class:`GraphError` naming the culprit."""
        g = self.graph
        if g.number_of_nodes() == 0:
            raise GraphError.located("network", (), "the graph has no neurons")
        fb = g.graph.get("feedback", "learned")
        if fb not in ("learned", "transport"):
            raise GraphError.located(("graph", "feedback"), (), f"must be 'learned' or 'transport', got {fb!r}")
        seen_index: dict = {}
        for n, attrs in g.nodes(data=True):
            if "index" in attrs:
                key = (repr(attrs.get("area", "default")), repr(attrs.get("kind")), repr(attrs["index"]))
                if key in seen_index:
                    raise GraphError.located(("node", n), "index", f"{attrs['index']!r} is also the index of "
                                             f"node {seen_index[key]!r} ({key[1]} neurons of area {key[0]})")
                seen_index[key] = n
        for key, val in g.graph.items():
            if str(key).startswith("shape:"):
                parts = str(val).split("x") if isinstance(val, str) else []
                if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
                    raise GraphError.located(("graph", key), (), f"must be 'RxC' with positive integers, got {val!r}")
        self._check_nodes()
        partner_of = self._check_edges()
        self._check_partners(partner_of)

    def _check_nodes(self) -> None:
        """Each neuron's kind, activation, role, send policy, numbers and options."""
        for n, attrs in self.graph.nodes(data=True):
            check_node(n, attrs, self.node(n) if attrs.get("kind") in ("value", "error") else attrs)

    def _check_edges(self) -> dict:
        """Each edge's role, ends, delay, loss, jitter and weight; returns each neuron's
        outgoing partners, ``(node, kind) -> {partners}``."""
        g = self.graph
        partner_of: dict = {}
        for u, v, attrs in g.edges(data=True):
            role = attrs.get("role")
            at = ("edge", u, v)
            ku, kv = g.nodes[u]["kind"], g.nodes[v]["kind"]
            if role == "partner":
                if {ku, kv} != {"value", "error"}:
                    raise GraphError.located(at, (), "a partner edge joins a value and an error neuron")
                if g.nodes[u].get("area", "default") != g.nodes[v].get("area", "default"):
                    raise GraphError.located(at, (), "partners must be in the same area")
                want = 1.0 if ku == "value" else -1.0
                if _num(attrs.get("weight", want), at, "weight") != want:
                    raise GraphError.located(at, "weight", f"a partner edge {ku} -> {kv} is fixed at {want:+g}, "
                                                           f"got {attrs.get('weight')!r}")
                partner_of.setdefault((u, ku), set()).add(v)
            elif role in ROLE_ENDS:
                if (ku, kv) != ROLE_ENDS[role]:
                    raise GraphError.located(at, (), f"a {role} edge goes {ROLE_ENDS[role][0]} -> "
                                                     f"{ROLE_ENDS[role][1]}, got {ku} -> {kv}")
            else:
                raise GraphError.located(at, "role", f"must be predict, feedback or partner, got {role!r}")
            e = self.edge(u, v)
            d = _num(e["delay"], at, "delay", lo=0, lo_open=False)
            if d <= 0:
                raise GraphError.located(at, "delay", f"must be > 0 ms (at least one step), got {e['delay']!r}")
            _num(e["loss"], at, "loss", lo=0, hi=1)
            if float(e["loss"]) >= 1:
                raise GraphError.located(at, "loss", f"must be < 1, got {e['loss']!r}")
            _num(e["jitter"], at, "jitter", lo=0)
            _num(e.get("weight", 0.0), at, "weight")
        return partner_of

    def _check_partners(self, partner_of: dict) -> None:
        """Partner edges in pairs, one partner at most, every error neuron and every value
        neuron of a predicted area with one."""
        g = self.graph
        for n, attrs in g.nodes(data=True):
            kind = attrs["kind"]
            outs = partner_of.get((n, kind), set())
            ins = {u for u in g.predecessors(n) if g.edges[u, n].get("role") == "partner"}
            if len(outs) > 1 or len(ins) > 1:
                raise GraphError.located(("node", n), (), "has more than one error partner")
            if outs != ins:
                raise GraphError.located(("node", n), (), "partner edges must come in pairs (value <-> error)")
            if kind == "error" and not outs:
                raise GraphError.located(("node", n), (), "an error neuron needs its value partner")
        # a value neuron whose area receives predictions needs an error partner
        predicted = {g.nodes[v].get("area", "default") for u, v, r in g.edges(data="role") if r == "predict"}
        for n, attrs in g.nodes(data=True):
            if attrs["kind"] == "value" and attrs.get("area", "default") in predicted:
                if not any(g.edges[n, m].get("role") == "partner" for m in g.successors(n)):
                    raise GraphError.located(("node", n), (), f"value neuron of predicted area "
                                                             f"{attrs.get('area', 'default')!r} has no error partner")


def _rename_aliases(g: nx.DiGraph) -> None:
    """Older names of option attributes (``fb_gain``, ``p_window``) -> their one name."""
    for _, a in g.nodes(data=True):
        for o in OPTIONS:
            for old in o.aliases:
                if old in a and o.name not in a:
                    a[o.name] = a.pop(old)

"""GraphML export and import of neuron-level networks (round trip exact)."""

from __future__ import annotations

import os

import networkx as nx

from ..errors import GraphError
from ._network import Network

__all__ = ["EXPORT_FORMATS", "export_graph", "to_graphml", "from_graphml"]

#: Export formats by file extension (:func:`export_graph`).
EXPORT_FORMATS = {".graphml": "GraphML", ".gexf": "GEXF (Gephi)", ".json": "networkx node-link JSON"}


def to_graphml(net: Network, path) -> None:
    """Write ``net`` as GraphML; every node, edge and graph attribute is kept."""
    # GraphML node ids are strings; integer ids are restored on import.
    try:
        nx.write_graphml(net.graph, os.fspath(path), named_key_ids=True)
    except OSError as exc:
        raise GraphError.located(("file", os.fspath(path)), (), f"cannot write GraphML ({exc.strerror})") from None


def export_graph(net: Network, path) -> str:
    """Write ``net`` in the format its extension names (:data:`EXPORT_FORMATS`): GraphML
    (reads back with :func:`from_graphml`), GEXF for Gephi, or networkx's node-link JSON
    (``networkx.node_link_graph(json.load(f), edges="edges")`` reads it). Returns the format.

    Raises
    ------
    GraphError
        For another extension (nothing is written) or a file that cannot be written.
    """
    import json

    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in EXPORT_FORMATS:
        raise GraphError.located(("file", path), (), f"unknown export format {ext or '(no extension)'!r}; expected "
                                 f"one of {', '.join(EXPORT_FORMATS)} ({', '.join(EXPORT_FORMATS.values())})")
    if ext == ".graphml":
        to_graphml(net, path)
        return EXPORT_FORMATS[ext]
    try:
        if ext == ".gexf":
            nx.write_gexf(net.graph, path)
        else:
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(nx.node_link_data(net.graph, edges="edges"), fh)
    except OSError as exc:
        raise GraphError.located(("file", path), (), f"cannot write {EXPORT_FORMATS[ext]} ({exc.strerror})") from None
    return EXPORT_FORMATS[ext]


def from_graphml(path) -> Network:
    """Read a network written by :func:`to_graphml` or by any tool following the
    attribute conventions of :mod:`asyncpc.model` (see docs/model.md).

    Raises
    ------
    GraphError
        If the file is missing, unreadable, or the graph breaks the model's rules.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise GraphError.located(("file", path), (), "GraphML file not found")
    try:
        g = nx.read_graphml(path, node_type=str)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's file
        raise GraphError.located(("file", path), (),
                                 f"not a readable GraphML file ({type(exc).__name__}: {exc})") from None
    if not isinstance(g, nx.DiGraph) or isinstance(g, nx.MultiDiGraph):
        raise GraphError.located(("file", path), (), "expected a directed graph without parallel edges")
    g.graph.pop("node_default", None)
    g.graph.pop("edge_default", None)
    # restore integer node ids where every id is an integer
    if all(_is_int(n) for n in g.nodes):
        g = nx.relabel_nodes(g, {n: int(n) for n in g.nodes}, copy=True)
    try:
        return Network(g)
    except GraphError as exc:  # where in the graph it arose stays; the text adds the file
        raise GraphError(f"{path}: {exc}", at=exc.at, field=exc.field) from None


def _is_int(s) -> bool:
    try:
        return str(int(s)) == s
    except (TypeError, ValueError):
        return False

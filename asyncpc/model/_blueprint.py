"""A network said by areas and projections, every draw made, no synapse materialised:
:class:`Blueprint` (what :func:`~asyncpc.model.blueprint` returns) and its neuron blocks.
Its projections' synapses are drawn chunk by chunk by their plans
(:class:`asyncpc.model._build.ProjectionPlan`)."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from ._network import Network

__all__ = ["Block", "Blueprint"]


@dataclass(eq=False)
class Block:
    """The neurons of one area and kind: ids ``start .. start + size - 1`` (index 0..size-1).
    ``attrs``: their node attributes; ``index``, ``period``, ``phase``, ``x`` and ``y``
    vary per neuron (the blueprint's arrays)."""

    area: str
    kind: str
    start: int
    size: int
    attrs: dict



@dataclass(eq=False)
class Blueprint:
    """A network said by areas and projections, with every draw made but no synapse
    materialised: neuron blocks with their attributes and per-neuron arrays, and per
    projection its synapses drawn chunk by chunk. :meth:`network` builds the
    ``networkx`` graph (:class:`Network`); :func:`asyncpc.compile.compile_network`
    flattens a blueprint straight into the compiled arrays, without a graph object per
    synapse (the same arrays, bit for bit, as compiling :meth:`network`).

    Examples
    --------
    >>> from asyncpc.model import layered
    >>> bp = layered([3, 2], as_blueprint=True)
    >>> bp.n_nodes, bp.n_edges
    (7, 16)
    >>> bp.network().graph.number_of_edges()
    16
    """

    seed: int
    feedback: str
    blocks: list
    index: np.ndarray
    period: np.ndarray
    phase: np.ndarray
    x: np.ndarray
    y: np.ndarray
    partner_delay: float
    projections: list
    shapes: dict
    direction: str | None = None

    @property
    def n_nodes(self) -> int:
        return len(self.period)

    @property
    def n_edges(self) -> int:
        """Synapses, partner edges included (connectivity is drawn, weights are not)."""
        n = sum(2 * b.size for b in self.blocks if b.kind == "error")
        return n + sum(int(pp.fan()[0].sum()) * (2 if pp.feedback else 1) for pp in self.projections)

    def node_attrs(self, b: Block, k: int) -> dict:
        """Node attributes of the ``k``-th neuron of block ``b``."""
        n = b.start + k
        return dict(b.attrs, index=int(self.index[n]), period=float(self.period[n]), phase=float(self.phase[n]),
                    x=float(self.x[n]), y=float(self.y[n]))

    def network(self) -> Network:
        """The neuron-level graph: nodes by block (an area's value neurons, then its error
        neurons and their partner edges), then each projection's predict and feedback edges."""
        g = nx.DiGraph()
        g.graph.update(feedback=self.feedback, seed=self.seed)
        d = float(self.partner_delay)
        for b in self.blocks:
            g.add_nodes_from((b.start + k, self.node_attrs(b, k)) for k in range(b.size))
            if b.kind == "error":
                vstart = next(v.start for v in self.blocks if v.area == b.area and v.kind == "value")
                for k in range(b.size):
                    g.add_edge(vstart + k, b.start + k, role="partner", weight=1.0, delay=d, loss=0.0, jitter=0.0)
                    g.add_edge(b.start + k, vstart + k, role="partner", weight=-1.0, delay=d, loss=0.0, jitter=0.0)
        for name, (r, c) in self.shapes.items():
            g.graph[f"shape:{name}"] = f"{r}x{c}"
        for pp in self.projections:
            loss, jit = pp.loss, pp.jitter
            for ch in pp.pairs():
                vi, ek = (ch.i + pp.src_start).tolist(), (ch.j + pp.dst_start).tolist()
                for n in range(len(vi)):
                    g.add_edge(vi[n], ek[n], role="predict", weight=float(ch.w[n]), delay=float(ch.d_fwd[n]),
                               loss=loss, jitter=jit)
                    if pp.feedback:
                        g.add_edge(ek[n], vi[n], role="feedback", weight=float(ch.v[n]), delay=float(ch.d_fb[n]),
                                   loss=loss, jitter=jit)
        if self.direction is not None:
            g.graph["direction"] = self.direction
        return Network(g)

"""What the network is: areas, projections, builders and the neuron-level graph.

See ``docs/model.md`` for the equations and the attribute conventions.
"""

from ._build import Blueprint, blueprint, build, from_area_graph, layered, positions
from ._distributions import check_dist, dist_mean, is_distance, sample
from ._graphml import EXPORT_FORMATS, export_graph, from_graphml, to_graphml
from ._kinds import NEURON_KINDS, NeuronKind
from ._network import EDGE_DEFAULTS, NODE_DEFAULTS, AreaInfo, Network
from ._spec import ACTIVATIONS, LAYOUTS, Area, Clocks, Dynamics, Learning, Messages, Projection

__all__ = ["ACTIVATIONS", "Area", "Blueprint", "blueprint", "AreaInfo", "Clocks", "Dynamics", "EDGE_DEFAULTS", "EXPORT_FORMATS", "LAYOUTS",
           "Learning", "Messages", "NEURON_KINDS", "NODE_DEFAULTS", "Network", "NeuronKind", "Projection", "build",
           "check_dist", "dist_mean", "export_graph", "from_area_graph", "from_graphml", "is_distance", "layered",
           "positions", "sample", "to_graphml"]

"""Message-level traces: filters, Parquet storage, readers, views and exporters.

See docs/traces.md.
"""

from ._filter import TraceFilter, select_neurons
from ._store import MESSAGE_COLUMNS, Trace, TraceWriter, load
from ._views import info, parse_time, plot_neuron, show, to_perfetto

__all__ = ["MESSAGE_COLUMNS", "Trace", "TraceFilter", "TraceWriter", "info", "load", "parse_time",
           "plot_neuron", "select_neurons", "show", "to_perfetto"]

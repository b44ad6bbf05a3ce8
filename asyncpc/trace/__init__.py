"""Message-level traces: filters, storage of send events (Parquet), message rows
re-derived from them, views and exporters.

See docs/traces.md.
"""

from ._filter import TraceFilter, select_neurons
from ._sendlog import SEND_COLUMNS, SendLog
from ._reader import Trace, load
from ._store import MESSAGE_COLUMNS, choose_storage
from ._writer import TraceWriter
from ._perfetto import to_perfetto
from ._views import info, parse_time, plot_neuron, show

__all__ = ["MESSAGE_COLUMNS", "SEND_COLUMNS", "SendLog", "Trace", "TraceFilter", "TraceWriter", "choose_storage",
           "info", "load", "parse_time", "plot_neuron", "select_neurons", "show", "to_perfetto"]

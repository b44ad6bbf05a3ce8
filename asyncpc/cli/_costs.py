"""What a run costs, per neuron and per edge: the one place these figures live. Measured on
this code base (resident memory and tracemalloc peaks of layered networks of 2e4 to 8e5
edges, docs/robustness.md) and rounded up; tests/test_footprint.py checks each against
the real thing on a small network (CompiledNet.hot_nbytes, the engine's per-edge working
set, the traced peak of building and compiling). The model, the compiler and the engine
are being rewritten: when one changes, update its figures here and rerun that test.
"""

#: The networkx neuron-level graph of a GraphML network (areas and projections are compiled
#: from their blueprint, with no graph): a node holds ~30 attributes, an edge 5 plus its
#: adjacency entries (measured ~1.6 kB, ~350 B).
GRAPH_NODE_BYTES = 2000
GRAPH_EDGE_BYTES = 400
#: compile_network's transient peak on top of a graph: per-edge rows of attribute copies
#: and the mirror lookup (measured ~1.15 kB per node, ~530-590 B per edge).
COMPILE_NODE_BYTES = 1300
COMPILE_EDGE_BYTES = 650
#: Compiling a blueprint: per-neuron columns (as the graph's compile) and one chunk of
#: synapse draws (``asyncpc.model._build.CHUNK_PAIRS`` pairs; measured 70-85 B per pair),
#: whatever the network's size: 1e8 synapses peak at 38.6 B each (tools/bench_build.py).
BLUEPRINT_PAIR_BYTES = 100
#: CompiledNet's arrays: per edge src, delay, w, loss, jit, out_edge (``hot_nbytes``: 26 B),
#: dst and mirror; per neuron ~30 arrays of at most 8 B.
COMPILED_EDGE_BYTES = 34
COMPILED_NODE_BYTES = 240
#: A runtime's working state on top of the compiled net: the engine's per-edge arrays
#: (``EngineLayout.engine_bytes_per_edge``: ~26-30 B) and the run's and its result's copies
#: of the per-edge state (32-48 B each); the actor runtime's Python objects per neuron and wire.
RUNTIME_EDGE_BYTES = {"engine": 160, "actors": 300}
RUNTIME_NODE_BYTES = {"engine": 600, "actors": 4000}
#: The engine's history ring: per neuron and row (step), the last sent state and rate
#: (2 float64) and a sent flag (int8); the run, its result and a checkpoint hold a copy each.
RING_BYTES = 17
RING_COPIES = 3
#: A message in flight on the actor runtime (a Python tuple on a heap).
IN_FLIGHT_BYTES = 96
#: The carried state a checkpoint holds (every NetState array), per neuron and per edge:
#: per edge w, inbox, held inputs and intercepts (+ the signal inbox and held signal with
#: learning signals); per neuron ~16 arrays of 8 B.
STATE_NODE_BYTES = 160
STATE_EDGE_BYTES = 24
#: An explicit environment message of the schedule (t int64, kind int8, neuron int32, value
#: float64: 21 B) at the peak of laying it out (blocks, concatenation, sort order, sorted
#: copies; measured 67 B on digits, 21.6 B kept). A dataset's presentations are frames
#: (asyncpc.environment.Frames), not explicit messages: see PROBE_META_BYTES.
EVENT_BYTES = 72
#: Per presentation: the schedule's metadata (sample, split, target, epoch, t0, probe step:
#: 43 B), which its frames' steps and rows are views of (a label delay adds 8 B of steps),
#: while the schedule is built (measured 41-49 B held, peak below 60 B on digits and MNIST);
#: and its row of metrics.csv on disk (plus 24 B per area's energy).
PROBE_META_BYTES = 64
METRICS_ROW_BYTES = 80
#: Environment messages one runtime call lays out at most (``cli._run.Plan.pieces`` cuts a
#: longer chunk), and their bytes each at the peak of laying them out (the schedule's
#: window, the engine's arrays sorted by arrival: measured 96 B, 32 B kept for the call).
ENV_ROWS = 1_000_000
ENV_EVENT_BYTES = 100
#: A dataset in memory: float64 samples x features, times the loader's copies (read, cast,
#: split, normalise); a .csv file is read whole as text and lines first. IDX files (MNIST)
#: are read as bytes and scaled into one float32 copy: bytes per value at the loader's peak
#: (measured 5.2: 285 MB for MNIST's 70,000 images, tools/data_memory.py).
DATA_COPIES = 4
IDX_BYTES_PER_VALUE = 6
CSV_BYTES_PER_FILE_BYTE = 4
#: GraphML: reading builds an XML tree of the whole file and the graph (peak measured
#: ~17 bytes per file byte); writing one builds the tree of the file it writes (~13); on
#: disk a GraphML file takes ~270 B per edge and ~810 per node.
GRAPHML_READ_BYTES_PER_FILE_BYTE = 20
GRAPHML_WRITE_BYTES_PER_FILE_BYTE = 16
GRAPHML_EDGE_BYTES = 300
GRAPHML_NODE_BYTES = 900
#: Bytes a trace's send row (t, src, s, rate) takes on disk (Parquet, zstd), conservatively:
#: measured ~11 on digits (tools/bench_trace.py), more on tiny traces.
TRACE_BYTES_PER_SEND = 20
#: Bytes a state-snapshot row (t, neuron, s) takes on disk, conservatively.
STATE_BYTES_PER_ROW = 16
#: Send events the runtime records per call at most while tracing (chunks are cut shorter
#: inside the trace window to keep to it): the recording buffer stays ~0.25-0.4 GB.
RECORD_ROWS = 2_000_000
#: Bytes per recorded send while a chunk is held in memory (buffers, concatenation,
#: sort, filter): engine numpy columns; actor runtime Python lists.
RECORD_BYTES = {"engine": 120, "actors": 200}
#: State snapshots of a trace at most (``trace.state_every``); cli._run plans them.
MAX_SNAPSHOTS = 200_000

"""Data sources, presentation protocols and the environment's message schedule.

- :func:`load_dataset` -> :class:`Dataset` (XOR, scikit-learn's bundled datasets, .npz, .csv,
  Parquet / Arrow tables, IDX (MNIST-format) folders and files; class filter, stratified subsets)
- :func:`stream_schedule` (learning from one continuous stream, tests, generation) and
  :func:`clamp_schedule` (constant clamps) -> :class:`Schedule` (explicit messages and
  :class:`Frames`: a presentation's clamps as a row of the data, referenced); streams that
  change over time: :class:`Drift` (the label mapping changes) and :class:`Incremental`
  (classes arrive in blocks)
- :func:`accuracy_from`, :func:`generated_images`: read-outs of a run
"""

from ._data import BUILTIN_SOURCES, NORMALIZE, Dataset, load_dataset
from ._idx import IDX_FILES, read_idx, write_idx
from ._protocol import SPLITS, clamp_schedule, stream_schedule
from ._regimes import Drift, Incremental
from ._readout import Accuracy, accuracy_from, generated_images, predicted_classes
from ._schedule import EV_CLAMP, EV_MODULATE, EV_UNCLAMP, Frames, Schedule

__all__ = ["Accuracy", "BUILTIN_SOURCES", "Dataset", "Drift", "Incremental", "EV_CLAMP", "EV_MODULATE", "EV_UNCLAMP", "Frames", "IDX_FILES",
           "NORMALIZE", "SPLITS", "Schedule", "accuracy_from", "clamp_schedule", "generated_images",
           "load_dataset", "predicted_classes", "read_idx", "stream_schedule", "write_idx"]

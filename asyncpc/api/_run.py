"""``asyncpc.run`` and ``asyncpc.resume``: what ``asyncpc run`` / ``resume`` do, from Python."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ..errors import AsyncPCError, DivergenceError
from ._result import Run

__all__ = ["resume", "run"]


def _toml_value(v) -> str:
    """A Python value as TOML text (what ``--set key=VALUE`` reads)."""
    import json
    import math

    if hasattr(v, "item") and not isinstance(v, (list, tuple, Mapping)):
        v = v.item()  # numpy scalars
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return repr(v) if math.isfinite(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, (str, os.PathLike)):
        return json.dumps(os.fspath(v))
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)) or hasattr(v, "tolist"):
        return "[" + ", ".join(_toml_value(x) for x in (v.tolist() if hasattr(v, "tolist") else v)) + "]"
    raise AsyncPCError(f"set: cannot write a {type(v).__name__} as a scenario value; expected a number, string, "
                       "boolean, list or dict")


def overrides(sets) -> list[str]:
    """``set=`` as ``key=value`` strings: a mapping ``{"data.epochs": 3}`` (values as
    Python values), or strings ``"data.epochs=3"`` (values as TOML text, like ``--set``)."""
    if sets is None:
        return []
    if isinstance(sets, str):
        return [sets]
    if isinstance(sets, Mapping):
        return [f"{k}={_toml_value(v)}" for k, v in sets.items()]
    out = []
    for s in sets:
        if not isinstance(s, str):
            raise AsyncPCError(f"set: expected 'key=value' strings or a dict, got a {type(s).__name__}")
        out.append(s)
    return out


def _scenario(scenario, sets: list[str]):
    from ..scenario import Scenario, load_scenario, parse_scenario

    if isinstance(scenario, Scenario):
        if not sets:
            return scenario
        base = os.path.dirname(os.path.abspath(scenario.path)) if scenario.path else os.getcwd()
        return parse_scenario(scenario.resolved(), base_dir=base, name=scenario.run.name, overrides=sets)
    if isinstance(scenario, Mapping):
        name = str((scenario.get("run") or {}).get("name") or "scenario")
        return parse_scenario(dict(scenario), base_dir=os.getcwd(), name=name, overrides=sets)
    if isinstance(scenario, (str, os.PathLike)):
        path = os.fspath(scenario)
        if not os.path.exists(path):
            from ..cli._scenarios import find_shipped

            shipped = find_shipped(path)
            path = str(shipped) if shipped is not None else path
        return load_scenario(path, sets)
    raise AsyncPCError(f"scenario: expected a Scenario, a file path, a shipped scenario's name or a dict, got "
                       f"{type(scenario).__name__}")


def _dataset(data):
    from ..environment import Dataset

    if isinstance(data, Dataset):
        return data
    if isinstance(data, tuple) and len(data) in (2, 4):
        return Dataset.from_arrays(*data)
    raise AsyncPCError(f"data: expected a Dataset, (X, y) or (X_train, y_train, X_test, y_test), got "
                       f"{type(data).__name__}" + (f" of length {len(data)}" if isinstance(data, tuple) else ""))


def _write_dataset(ds, out: Path) -> Path:
    """The dataset as ``RUN/data.npz`` (a file source: the run stays reproducible and
    resumable from its directory alone)."""
    import numpy as np

    from ..cli._rundir import atomic_replace

    def shaped(X):
        return X.reshape(len(X), *ds.image_shape) if ds.image_shape else X

    # labels are 0..K-1 and stay so when read back; without a test split the scenario's
    # data.test_fraction cuts one
    if len(ds.y_test):
        arrays = dict(X_train=shaped(ds.X_train), y_train=ds.y_train, X_test=shaped(ds.X_test), y_test=ds.y_test)
    else:
        arrays = dict(X=shaped(ds.X_train), y=ds.y_train)
    p = out / "data.npz"
    out.mkdir(parents=True, exist_ok=True)
    atomic_replace(p, lambda f: np.savez(f, **arrays))
    return p


class _Lines:
    """While a run reports progress as lines and nobody has configured logging, send the
    ``asyncpc`` logger's lines to stderr for the call (then undo it)."""

    def __init__(self, progress):
        self.undo = None
        if callable(progress) or progress == "none":
            return
        from ..cli._progress import resolve_mode

        if resolve_mode(progress) != "none" and not logging.getLogger("asyncpc").hasHandlers():
            from ..cli._output import configure_logging

            self.undo = configure_logging()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.undo is not None:
            self.undo()
        return False


def run(scenario, out=None, *, set=None, data=None, progress="auto", seed=None, runtime=None, threads=None,
        overwrite: bool = False, max_disk=None, max_memory=None) -> Run:
    """Run a scenario and write its run directory, as ``asyncpc run`` does; return the :class:`Run`.

    Parameters
    ----------
    scenario : Scenario, str, path or dict
        A loaded :class:`asyncpc.scenario.Scenario`, a scenario file, the name of a
        shipped scenario (``"xor"``, see ``asyncpc scenarios list``), or the scenario as
        a dict (the TOML document's tables; relative paths from the working directory).
    out : str or path, optional
        The run directory. Default: a new temporary directory (``Run.path`` says which).
        A directory holding a finished or resumable run is refused unless ``overwrite``.
    set : dict or list of str, optional
        Overrides: ``{"data.epochs": 3, "delays.forward": {"dist": "uniform", "low": 0.1,
        "high": 0.3}}`` or ``["data.epochs=3"]`` (TOML text, as ``--set``).
    data : Dataset or tuple, optional
        The data instead of ``data.source``: a :class:`asyncpc.environment.Dataset`,
        ``(X, y)`` or ``(X_train, y_train, X_test, y_test)``. It is saved as
        ``RUN/data.npz`` and the scenario's ``data.source`` points at it (the
        scenario's ``data.normalize``, ``test_fraction`` for ``(X, y)``, etc. apply).
    progress : {"auto", "bar", "lines", "none"} or callable
        ``auto``: a bar on a terminal, else lines through the ``asyncpc`` logger (to
        stderr while no logging is configured). A callable gets a
        :class:`~asyncpc.ProgressEvent` after every chunk, epoch and at the end.
    seed, runtime, threads : optional
        ``run.seed``, ``run.runtime``, ``run.threads`` (they win over ``set``).
    max_disk, max_memory : str or int, optional
        Refuse a run that would need more (``"20GB"``).

    Returns
    -------
    Run

    Raises
    ------
    AsyncPCError
        Bad input, a refused run (one line naming the file, key and what was expected).
        A run that diverges raises :class:`~asyncpc.errors.DivergenceError` whose ``run``
        attribute is the :class:`Run` (status ``diverged``, files kept).

    Examples
    --------
    >>> import asyncpc
    >>> r = asyncpc.run("xor", set={"data.epochs": 40}, progress="none")   # doctest: +SKIP
    >>> r.summary["test_accuracy"], r.epochs.tail(1)                      # doctest: +SKIP
    """
    from ..cli._run import execute
    from ..cli._rundir import refuse_existing

    sets = overrides(set)
    for key, v in (("run.seed", seed), ("run.runtime", runtime), ("run.threads", threads)):
        if v is not None:
            sets.append(f"{key}={_toml_value(v)}")
    tmp = out is None
    if data is not None:
        ds = _dataset(data)
        out = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="asyncpc-"))
        refuse_existing(out, overwrite=overwrite)
        sets.insert(0, f"data.source={_toml_value(str(_write_dataset(ds, out).resolve()))}")
    scn = _scenario(scenario, sets)
    if out is None:
        out = Path(tempfile.mkdtemp(prefix=f"asyncpc-{scn.run.name}-"))
    out = Path(out)
    with _Lines(progress):
        try:
            execute(scn, out=str(out), runtime=None, threads=None, quiet=False, argv=["asyncpc.run"],
                    max_disk=max_disk, max_memory=max_memory, progress=progress, overwrite=overwrite or tmp,
                    table=False)
        except DivergenceError as exc:
            exc.run = Run(out)
            exc.args = (f"{exc} (run directory {out})",)
            raise
    return Run(out)


def resume(run_dir, *, progress="auto", runtime=None, threads=None, max_disk=None, max_memory=None) -> Run:
    """Continue an interrupted or killed run from its last checkpoint, as ``asyncpc resume``
    does (the result is the one an uninterrupted run gives, bit for bit); return the
    :class:`Run`."""
    from ..cli._run import resume as _resume

    with _Lines(progress):
        _resume(run_dir, runtime=runtime, threads=threads, quiet=False, argv=["asyncpc.resume"],
                max_disk=max_disk, max_memory=max_memory, progress=progress, table=False)
    return Run(run_dir)

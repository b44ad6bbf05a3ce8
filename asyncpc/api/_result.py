"""``Run``: a run directory read back as Python objects."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import AsyncPCError

__all__ = ["Run", "load_run", "read_table"]


def read_table(path):
    """A CSV file as a pandas DataFrame when pandas is installed, else a pyarrow Table
    (``.to_pandas()``, polars and duckdb read it too)."""
    import importlib.util

    from pyarrow import csv

    try:
        tab = csv.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - a damaged file is one line, not a traceback
        raise AsyncPCError(f"{path}: unreadable CSV ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    if importlib.util.find_spec("pandas") is not None:
        return tab.to_pandas()
    return tab


class Run:
    """A run directory: what ``asyncpc run`` / :func:`asyncpc.run` wrote, as Python objects.

    Attributes are read from the files on access (a run still going shows its progress):
    :attr:`summary` (dict), :attr:`metrics` (one row per presentation), :attr:`epochs`
    (one row per epoch), :attr:`alignment` (W/V^T angles over time) -- tables as pandas
    DataFrames when pandas is installed, pyarrow Tables otherwise -- :attr:`trace`,
    :attr:`network` (final weights on its edges), :attr:`scenario`, :attr:`manifest`,
    :meth:`plot`.

    Examples
    --------
    >>> import asyncpc
    >>> run = asyncpc.load_run("runs/xor")                   # doctest: +SKIP
    >>> run                                                   # doctest: +SKIP
    Run('runs/xor': completed, xor, 1204/1204 presentations, test accuracy 100.0%)
    >>> run.epochs[["epoch", "test_accuracy"]]                # doctest: +SKIP
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise AsyncPCError(f"{self.path}: no such run directory")
        for f in ("manifest.json", "scenario.toml"):
            if not (self.path / f).exists():
                raise AsyncPCError(f"{self.path}: not a run directory (no {f})")

    def _json(self, name) -> dict:
        p = self.path / name
        if not p.exists():
            return {}
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError) as exc:
            raise AsyncPCError(f"{p}: unreadable ({exc})") from None

    @property
    def manifest(self) -> dict:
        """``manifest.json``: versions, command, seed, runtime, threads, status."""
        return self._json("manifest.json")

    @property
    def status(self) -> str:
        """``running``, ``completed``, ``interrupted``, ``failed`` or ``diverged``."""
        return str(self.manifest.get("status"))

    @property
    def summary(self) -> dict:
        """``summary.json``: accuracies, energy, message counts, wall time (empty while the
        run has not ended)."""
        return self._json("summary.json")

    @property
    def metrics(self):
        """``metrics.csv``: one row per presentation (time, split, epoch, sample, target,
        prediction, correctness, per-area energy)."""
        return read_table(self._need("metrics.csv"))

    @property
    def epochs(self):
        """``epochs.csv``: one row per finished epoch (presentations, simulated time, test
        and train accuracy, mean and last energy, messages sent, wall seconds)."""
        return read_table(self._need("epochs.csv"))

    @property
    def alignment(self):
        """``alignment.csv``: the angle between W and V^T per projection over time (None
        when nothing learned)."""
        p = self.path / "alignment.csv"
        return read_table(p) if p.exists() else None

    def _need(self, name) -> Path:
        p = self.path / name
        if not p.exists():
            raise AsyncPCError(f"{p}: not written (yet): the run has status {self.status}")
        return p

    @property
    def trace(self):
        """The message-level trace (:class:`asyncpc.trace.Trace`), or None when the run
        did not record one (``trace.enabled = false``)."""
        if not (self.path / "trace" / "meta.json").exists():
            return None
        from ..trace import load

        return load(self.path)

    @property
    def scenario(self):
        """The resolved scenario the run used (``RUN/scenario.toml``)."""
        from ..scenario import load_scenario

        return load_scenario(self.path / "scenario.toml")

    @property
    def final_state(self) -> dict:
        """``final_state.npz`` as arrays: ``w`` (per edge), ``s`` (per neuron), ``bias``,
        ``t`` (step), and ``src``, ``dst`` (per edge: indices into ``node_ids``, the graph's
        node ids as text)."""
        p = self.path / "final_state.npz"
        if not p.exists():
            raise AsyncPCError(f"{p}: missing; only a completed run has a final state (status {self.status})")
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    @property
    def network(self):
        """The run's network (:class:`asyncpc.model.Network`, rebuilt from its scenario)
        with the final weights on its edges (``weight``: W on predict edges, V on feedback
        edges), the final biases on its error neurons (``bias``) and the final activity
        of every neuron (node attribute ``state``); graph attribute ``t_ms``: when."""
        fs = self.final_state
        scn = self.scenario
        net = scn.build_network()
        g = net.graph
        if "src" in fs and "node_ids" in fs:
            src, dst, ids = fs["src"], fs["dst"], [str(x) for x in fs["node_ids"]]
            h = scn.run.h
        else:  # a run written before final_state.npz named its edges
            c = scn.compile(net)
            src, dst, ids, h = c.src, c.dst, [str(n) for n in c.node_ids], c.h
        node = {str(n): n for n in g.nodes}
        try:
            nodes = [node[i] for i in ids]
        except KeyError:
            raise AsyncPCError(f"{self.path / 'final_state.npz'}: its neurons are not those of "
                               f"{self.path / 'scenario.toml'}; the run directory was changed") from None
        if len(src) != g.number_of_edges() or len(nodes) != g.number_of_nodes():
            raise AsyncPCError(f"{self.path / 'final_state.npz'}: {len(src)} edges, the scenario builds "
                               f"{g.number_of_edges()}; the run directory was changed")
        w, s, bias = fs["w"], fs["s"], fs["bias"]
        for e in range(len(src)):
            d = g.edges[nodes[int(src[e])], nodes[int(dst[e])]]
            if d.get("role") in ("predict", "feedback"):
                d["weight"] = float(w[e])
        for i, n in enumerate(nodes):
            a = g.nodes[n]
            a["state"] = float(s[i])
            if a.get("kind") == "error":
                a["bias"] = float(bias[i])
        g.graph["t_ms"] = float(fs["t"]) * h
        return net

    def plot(self, which: str = "accuracy", ax=None):
        """Draw ``"accuracy"`` (test and train_eval per epoch, online backprop), ``"energy"``
        (per area at each read-out, test blocks shaded) or ``"alignment"`` (W/V^T angle)
        from the run's files, on ``ax`` or a new figure. Returns the matplotlib Figure
        (``fig.savefig("x.pdf")``); the run's own files are in ``RUN/plots/``."""
        from ..cli._plots import FIGURES, draw, read_run_series

        if which not in FIGURES:
            raise AsyncPCError(f"plot: expected one of {list(FIGURES)}, got {which!r}")
        fig = draw(read_run_series(self.path), which, ax=ax)
        if fig is None:
            raise AsyncPCError(f"plot {which!r}: {self.path} has nothing to show for it (status {self.status})")
        return fig

    def __repr__(self) -> str:
        m, s = self.manifest, self.summary
        parts = [str(m.get("status"))]
        name = m.get("scenario_name") or self.path.name
        parts.append(str(name))
        if s.get("presentations") is not None:
            parts.append(f"{s['presentations']:,} presentations")
        if s.get("test_accuracy") is not None:
            parts.append(f"test accuracy {s['test_accuracy']:.1%}")
        if s.get("wall_seconds") is not None:
            parts.append(f"{s['wall_seconds']:.1f} s")
        return f"Run({str(self.path)!r}: {', '.join(parts)})"

    def _repr_html_(self) -> str:  # Jupyter: the same line, escaped
        import html

        return f"<code>{html.escape(repr(self))}</code>"


def load_run(path) -> Run:
    """The run in directory ``path`` (see :class:`Run`).

    Raises
    ------
    AsyncPCError
        When ``path`` is not a run directory (no manifest.json or scenario.toml).
    """
    return Run(path)

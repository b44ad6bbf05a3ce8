"""Figures of a run: energy, accuracy and W/V^T alignment drawn from the run directory's
files (so ``Run.plot`` and the run itself draw the same figure), and the figures that
need the read-out itself (generated images, the springs' settling).

Every figure uses constrained layout (no clipped labels), epochs on integer ticks,
limits taken from the data, legends outside the data, and is written in
``output.plot_format`` (png, svg or pdf).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

__all__ = ["FIGURES", "draw", "plot_run", "read_run_series"]

#: Figures :func:`draw` makes from a run directory's files.
FIGURES = ("energy", "accuracy", "alignment")
_SHADE = {"test": ("tab:orange", "test (labels free, plasticity frozen)"),
          "train_eval": ("tab:green", "train_eval (labels free, frozen)"),
          "generate": ("tab:purple", "generate"),
          "monitor": ("tab:olive", "monitor (labels free, frozen)")}


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg") and not _interactive():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _interactive() -> bool:
    import sys

    return "ipykernel" in sys.modules or hasattr(sys, "ps1")


def _read_csv(path: Path) -> dict:
    """Columns of a CSV as lists of strings (empty dict when the file is missing)."""
    if not path.exists():
        return {}
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return {}
    cols = list(zip(*rows[1:])) if len(rows) > 1 else [()] * len(rows[0])
    return {k: list(v) for k, v in zip(rows[0], cols)}


def _floats(col) -> np.ndarray:
    return np.array([float(x) if x not in ("", None) else np.nan for x in col], float)


def read_run_series(run_dir) -> dict:
    """What the figures show, from ``metrics.csv``, ``epochs.csv``, ``alignment.csv`` and
    ``summary.json``: read-out times, splits and per-area energies; accuracy per epoch;
    the alignment angles over time; the backprop curve."""
    d = Path(run_dir)
    m = _read_csv(d / "metrics.csv")
    e = _read_csv(d / "epochs.csv")
    a = _read_csv(d / "alignment.csv")
    summ = json.loads((d / "summary.json").read_text()) if (d / "summary.json").exists() else {}
    out = dict(t=_floats(m.get("t_ms", [])), split=list(m.get("split", [])),
               energy={k[len("energy_"):]: _floats(v) for k, v in m.items()
                       if k.startswith("energy_") and k != "energy_total"},
               epochs=_floats(e.get("epoch", [])).astype(int) if e else np.zeros(0, int),
               test=_floats(e.get("test_accuracy", [])), train_eval=_floats(e.get("train_accuracy", [])),
               backprop=summ.get("backprop_test_accuracy_by_epoch") or [],
               align_t=_floats(a.get("t_ms", [])),
               align={k: _floats(v) for k, v in a.items() if k != "t_ms"})
    return out


def _blocks(t, split):
    """(start, end, split) of each run of non-training presentations (a presentation
    starts where the previous one ended)."""
    out = []
    prev_end = 0.0
    cur = None
    for ti, sp in zip(t, split):
        if sp in _SHADE:
            if cur is not None and cur[2] == sp:
                cur[1] = ti
            else:
                if cur is not None:
                    out.append(tuple(cur))
                cur = [prev_end, ti, sp]
        elif cur is not None:
            out.append(tuple(cur))
            cur = None
        prev_end = ti
    if cur is not None:
        out.append(tuple(cur))
    return out


def _figure(ax, size=(7, 4)):
    plt = _plt()
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def draw(series: dict, which: str, ax=None):
    """One of :data:`FIGURES` from :func:`read_run_series`; returns the Figure, or None
    when the run has nothing to show for it."""
    from matplotlib.ticker import MaxNLocator

    if which == "energy":
        if not len(series["t"]) or not series["energy"]:
            return None
        fig, ax = _figure(ax)
        t = series["t"]
        for area, E in series["energy"].items():
            ax.plot(t, np.maximum(E, 1e-12), lw=0.8, label=area)
        ax.set_yscale("log")
        shown = set()
        for t0, t1, sp in _blocks(t, series["split"]):
            color, label = _SHADE[sp]
            ax.axvspan(t0, t1, color=color, alpha=0.15, lw=0, label=None if sp in shown else label)
            shown.add(sp)
        ax.set_xlim(0, float(t[-1]))
        ax.set_xlabel("simulated time (ms)")
        ax.set_ylabel("energy ½Σε² at read-out")
        ax.set_title("Energy per area at the end of each presentation")
        _legend(fig, ax)
        return fig
    if which == "accuracy":
        ep = series["epochs"] + 1
        curves = [(series["test"], "o-", "test"), (series["train_eval"], "s--", "train_eval")]
        curves = [(ep[np.isfinite(v)], v[np.isfinite(v)], st, lab) for v, st, lab in curves if len(v)]
        curves = [c for c in curves if len(c[0])]
        bp = np.asarray(series["backprop"], float)
        if len(bp):
            curves.append((np.arange(1, len(bp) + 1), bp, "k:", "online backprop"))
        if not curves:
            return None
        fig, ax = _figure(ax)
        for x, y, st, lab in curves:
            ax.plot(x, y, st, label=lab, ms=4 if len(x) > 1 else 7)
        ys = np.concatenate([y for _, y, _, _ in curves])
        xs = np.concatenate([x for x, _, _, _ in curves])
        lo = max(0.0, float(ys.min()) - 0.05)
        ax.set_ylim(lo, min(1.0, float(ys.max())) + 0.02 * max(1.0 - lo, 0.1) + 0.01)
        ax.set_xlim(0.5, float(xs.max()) + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy")
        ax.set_title("Accuracy (labels free, read-out at the end of each presentation)", fontsize="medium")
        ax.grid(alpha=0.3)
        _legend(fig, ax)
        return fig
    if which == "alignment":
        if not len(series["align_t"]) or not series["align"]:
            return None
        fig, ax = _figure(ax)
        top = 0.0
        for key, ang in series["align"].items():
            ax.plot(series["align_t"], ang, label=key)
            top = max(top, float(np.nanmax(ang)) if np.isfinite(ang).any() else 0.0)
        ax.set_ylim(0, min(180.0, max(10.0, top * 1.08)))
        ax.set_xlim(0, float(series["align_t"][-1]))
        ax.set_xlabel("simulated time (ms)")
        ax.set_ylabel("angle between W and Vᵀ (degrees)")
        ax.set_title("Feedback alignment (learned V, no weight transport)")
        _legend(fig, ax)
        return fig
    from ..errors import AsyncPCError

    raise AsyncPCError(f"plot: expected one of {list(FIGURES)}, got {which!r}")


def _legend(fig, ax) -> None:
    """A legend below the axes, outside the data (it never hides a point)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=min(4, len(handles)),
                  frameon=False, fontsize="small")


def plot_run(m, scn, state, out) -> list:
    """Write the run's figures into ``out`` (``plots/``) in ``output.plot_format``: energy,
    accuracy and alignment from the run directory's files, and the figures that need
    the read-out (generated images, settling). Returns the file names."""
    plt = _plt()
    fmt = getattr(scn.output, "plot_format", "png")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name):
        fig.savefig(out / f"{name}.{fmt}", dpi=110)
        plt.close(fig)
        written.append(f"{name}.{fmt}")

    series = read_run_series(m.rd.path)
    for which in FIGURES:
        fig = draw(series, which)
        if fig is not None:
            save(fig, which)

    per = m.cost_per_sample()
    if len(per):
        fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
        ax.plot(per[:, 0], per[:, 1], lw=1.0, label="messages sent")
        ax.plot(per[:, 0], per[:, 2], "k:", lw=1.0, label="if every tick sent")
        ax.plot(per[:, 0], per[:, 3], lw=1.0, label="synaptic updates (inputs applied + rebased)")
        ax.set_yscale("log")
        ax.set_xlim(0, float(per[-1, 0]))
        ax.set_xlabel("presentations")
        ax.set_ylabel("per presentation")
        ax.set_title("Cost over the stream")
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        save(fig, "cost")

    gen = m.schedule.meta.get("generate_readout")
    if gen is not None and "generate" in m.split_names:
        code = m.split_names.index("generate")
        rows = np.flatnonzero(m.split == code)
        sl = m.schedule.meta.get("readout_slices", {}).get("image")
        shape = m.schedule.meta.get("image_shape") or (m.data.image_shape if m.data is not None else None)
        if len(rows) and sl is not None and shape is not None:
            a, b = sl
            fig, axes = plt.subplots(1, len(rows), figsize=(1.4 * len(rows), 1.9), layout="constrained")
            for ax, p in zip(np.atleast_1d(axes), rows):
                ax.imshow(m.probe_x[p, a:b].reshape(shape), cmap="gray_r")
                ax.set_title(str(int(m.target[p])))
                ax.axis("off")
            fig.suptitle("Generated by relaxation: label clamped, image free, weights frozen")
            save(fig, "generated")

    if m.schedule.meta.get("protocol") == "constant" and len(m.t):
        t = np.array(m.t)
        X = m.probe_x[:len(t)]
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(7, 5), sharex=True, layout="constrained")
        names = [f"n{i}" for i in range(X.shape[1])]
        for area, (a, b) in m.schedule.meta.get("readout_slices", {}).items():
            for k in range(a, b):
                names[k] = f"{area}:{k - a}" if b - a > 1 else area
        for i in range(X.shape[1]):
            a1.plot(t, X[:, i], label=names[i])
        a1.set_ylabel("activity x")
        a1.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        E = np.array(m.energy).sum(axis=1)
        a2.plot(t, E)
        a2.set_yscale("log" if np.all(E > 0) and E.max() / max(E.min(), 1e-300) > 100 else "linear")
        a2.set_ylabel("energy F")
        a2.set_xlabel("simulated time (ms)")
        a2.set_xlim(0, float(t[-1]))
        a1.set_title("Springs and platforms: the free neuron settles between prior and observation")
        save(fig, "settling")
    return written

"""Checkpoints of a CLI run (``RUN/checkpoint/checkpoint.npz``) and what ``asyncpc resume`` reads.

One file holds everything needed to continue exactly, written atomically (temporary
file, fsync, rename), so a run killed at any instant leaves either the previous
checkpoint or the new one, never half of one:

- the runtime's state at the chunk boundary (``res.state``): a ``NetState``'s arrays and
  counters plus, for the engine's ``EngineState``, its history ring and the environment
  messages in flight, or, for the actor runtime's ``CarryState``, the messages in flight
  (edge and environment). Either runtime continues either kind;
- the metrics accumulator (so metrics.csv and summary.json continue exactly);
- the position of metrics.csv (rows, bytes) and of the trace (rows, parts, every-k
  counter; the trace is flushed first, so the trace on disk matches the checkpoint);
- the chunk position, the scenario hash, wall time so far.

Across MPI ranks each rank also writes its part: the per-neuron and per-synapse rows of
the neurons it owns (``checkpoint/part-<chunk>-<rank>.npz``, with their ids), and rank 0's
file holds the rest and names the parts (``info["parts"]``). The parts are written first,
then (after every rank has written) rank 0 replaces checkpoint.npz and deletes the parts
of older checkpoints: at any instant checkpoint.npz names parts that are complete on
disk. A resume reads them back into whole arrays, so it runs on any number of ranks.

Random draws are counter-based and the environment is a precomputed schedule, so
nothing else (no RNG state, no data iterator) needs saving. The file is a numpy ``.npz``
read with ``allow_pickle=False``: loading a checkpoint never runs code.
"""

from __future__ import annotations

import json
import tokenize
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from ..errors import AsyncPCError
from ..state import NetState
from ._rundir import atomic_replace

__all__ = ["CHECKPOINT", "Checkpoint", "read_checkpoint", "state_arrays", "state_from_arrays",
           "write_checkpoint", "write_part"]

#: Where a run's checkpoint lives, relative to the run directory.
CHECKPOINT = Path("checkpoint") / "checkpoint.npz"
FORMAT = 2  # 2: event-driven synapse state and learning signals (asyncpc 0.2)

_NET_FIELDS = tuple(f.name for f in fields(NetState))
_SCALARS = ("t", "sent", "delivered", "dropped", "applied", "rebased")
_EDGE_COLS = ("t_send", "t_arrive", "edge", "value", "signal")
_ENV_COLS = ("env_t_send", "env_t_arrive", "env_kind", "env_neuron", "env_value")
#: the state's rows a rank writes in its part: per neuron and per synapse (incoming edge)
_NEURON_ROWS = ("s", "bias", "clamped", "clamp_val", "gain", "last_tick", "next_tick", "ticks", "last_sent", "aux",
                "lz_p", "lz_t", "lz_a", "lz_q", "lz_n", "last_send", "last_sig")
_EDGE_ROWS = ("w", "inbox", "held", "syn_c", "inbox_sig", "held_sig")


def _part_path(run_dir, chunk: int, rank: int) -> Path:
    return Path(run_dir) / CHECKPOINT.parent / f"part-{chunk:08d}-{rank}.npz"


# ----------------------------------------------------------------------------- runtime state
def state_arrays(state) -> tuple[dict, dict]:
    """A runtime's carried state as (arrays, JSON info): what the checkpoint stores."""
    arrays = {f"state.{k}": np.asarray(getattr(state, k)) for k in _NET_FIELDS if k not in _SCALARS}
    info = {k: int(getattr(state, k)) for k in _SCALARS}
    hist = getattr(state, "history", None)
    if hist is not None and hist.hist is not None:  # a pulling engine run's EngineState: its ring
        info.update(kind="engine", hist_t=int(hist.t), hist_seed=int(hist.seed),
                    hist_n_in_flight=int(hist.n_in_flight), hist_env=hist.env is not None)
        arrays["hist.hist"] = np.asarray(hist.hist)
        arrays["hist.flag"] = np.asarray(hist.flag)
        if hist.env is not None:
            for k, v in hist.env.items():
                arrays[f"hist.env.{k}"] = np.asarray(v)
        return arrays, info
    fl = getattr(state, "in_flight", None)
    if fl is not None:  # a CarryState or a pushing engine run: the messages in flight themselves
        info.update(kind="carry", env_known=getattr(fl, "env_t_arrive", None) is not None)
        for k in _EDGE_COLS + (_ENV_COLS if info["env_known"] else ()):
            arrays[f"fl.{k}"] = np.asarray(getattr(fl, k))
        return arrays, info
    info["kind"] = "plain"
    return arrays, info


def state_from_arrays(c, arrays: dict, info: dict) -> NetState:
    """Rebuild the state :func:`state_arrays` stored, for network ``c``."""
    kw = {k: arrays[f"state.{k}"] for k in _NET_FIELDS if k not in _SCALARS}
    kw.update({k: int(info[k]) for k in _SCALARS})
    if len(kw["s"]) != c.n_neurons or len(kw["w"]) != c.n_edges:
        raise AsyncPCError(f"checkpoint: a network of {len(kw['s'])} neurons and {len(kw['w'])} edges, the "
                           f"scenario builds {c.n_neurons} and {c.n_edges}")
    kind = info.get("kind", "plain")
    if kind == "engine":
        from ..engine import EngineState, History
        from ..engine._layout import EngineLayout

        env = {k[len("hist.env."):]: v for k, v in arrays.items() if k.startswith("hist.env.")}
        lay = EngineLayout(c)
        if arrays["hist.hist"].shape != (lay.L * lay.net.NC,):
            raise AsyncPCError("checkpoint: its history ring does not fit the scenario's network")
        h = History(t=int(info["hist_t"]), seed=int(info["hist_seed"]), n_in_flight=int(info["hist_n_in_flight"]),
                    hist=arrays["hist.hist"], flag=arrays["hist.flag"], layout=lay,
                    env=env if info.get("hist_env", True) else None)
        return EngineState(**kw, history=h)
    if kind == "carry":
        from ..actors import CarryState
        from ..observe import InFlight

        cols = [arrays[f"fl.{k}"] for k in _EDGE_COLS]
        env = [arrays[f"fl.{k}"] for k in _ENV_COLS] if info.get("env_known") else [None] * len(_ENV_COLS)
        return CarryState(**kw, in_flight=InFlight(*cols, *env))
    return NetState(**kw)


# ----------------------------------------------------------------------------- the file
@dataclass
class Checkpoint:
    """A checkpoint read back: ``info`` (JSON: position, hashes, counters), the runtime
    state's arrays, and the metrics accumulator's arrays."""

    path: Path
    info: dict
    state: dict
    metrics: dict

    def runtime_state(self, c) -> NetState:
        return state_from_arrays(c, self.state, self.info["state"])


def _split_fields(state) -> list[tuple[str, bool]]:
    """The state's arrays that ranks write in parts, each with whether it is per neuron
    (else per synapse); an option's empty array stays in rank 0's file."""
    n, e = len(state.s), len(state.w)
    return [(k, per_neuron) for names, per_neuron, size in ((_NEURON_ROWS, True, n), (_EDGE_ROWS, False, e))
            for k in names if size and len(getattr(state, k)) == size]


def write_part(run_dir, chunk: int, rank: int, state, ids: np.ndarray, edges: np.ndarray) -> Path:
    """Write one MPI rank's part of the checkpoint of ``chunk`` atomically: the state's rows
    of the neurons ``ids`` and of their incoming synapses ``edges``."""
    payload = {"ids": np.asarray(ids, np.int64), "edges": np.asarray(edges, np.int64)}
    for k, per_neuron in _split_fields(state):
        payload[f"state.{k}"] = np.asarray(getattr(state, k))[ids if per_neuron else edges]
    path = _part_path(run_dir, chunk, rank)
    atomic_replace(path, lambda f: np.savez(f, **payload))
    return path


def write_checkpoint(run_dir, *, state, metrics, info: dict, parts: int = 0) -> Path:
    """Write ``RUN/checkpoint/checkpoint.npz`` atomically (replacing the previous one).

    ``metrics`` is the accumulator's :meth:`Metrics.checkpoint` pair; ``info`` the
    JSON-able position (chunk, metrics.csv, trace, wall time, scenario hash). ``parts``:
    the number of MPI ranks whose :func:`write_part` files of this chunk hold the state's
    rows (written before this is called); they are left out of this file, and the parts
    of older checkpoints are deleted once it is in place."""
    s_arrays, s_info = state_arrays(state)
    m_arrays, m_info = metrics
    if parts:
        s_info.update(parts=int(parts), split=[k for k, _ in _split_fields(state)])
        for k in s_info["split"]:
            del s_arrays[f"state.{k}"]
    info = dict(info, format=FORMAT, state=s_info, metrics=m_info)
    payload = {"info": np.array(json.dumps(info))}
    payload.update(s_arrays)
    payload.update({f"metrics.{k}": np.asarray(v) for k, v in m_arrays.items()})
    path = Path(run_dir) / CHECKPOINT
    atomic_replace(path, lambda f: np.savez(f, **payload))
    keep = {_part_path(run_dir, int(info["chunk"]), r).name for r in range(parts)}
    for old in path.parent.glob("part-*.npz"):
        if old.name not in keep:
            old.unlink(missing_ok=True)
    return path


def _join_parts(run_dir, info: dict, state: dict) -> None:
    """Put the rows of the ranks' parts named by ``info`` back into whole arrays in ``state``."""
    s_info = info["state"]
    split = s_info.get("split", [])
    got = []
    for r in range(int(s_info["parts"])):
        path = _part_path(run_dir, int(info["chunk"]), r)
        if not path.exists():
            raise ValueError(f"its part {path.name} (rank {r} of {s_info['parts']}) is missing")
        with np.load(path, allow_pickle=False) as z:
            got.append({k: z[k] for k in z.files})
    n = sum(len(p["ids"]) for p in got)
    e = sum(len(p["edges"]) for p in got)
    for key, size in (("ids", n), ("edges", e)):
        seen = np.bincount(np.concatenate([p[key] for p in got]), minlength=size) if size else np.zeros(0)
        if len(seen) != size or (seen != 1).any():
            raise ValueError(f"its parts do not hold every {'neuron' if key == 'ids' else 'synapse'} once")
    for k in split:
        rows = "ids" if k in _NEURON_ROWS else "edges"
        first = got[0][f"state.{k}"]
        whole = np.empty((n if rows == "ids" else e,) + first.shape[1:], first.dtype)
        for p in got:
            whole[p[rows]] = p[f"state.{k}"]
        state[f"state.{k}"] = whole


def read_checkpoint(run_dir) -> Checkpoint:
    """Read and check ``RUN/checkpoint/checkpoint.npz``; one-line :class:`AsyncPCError` when
    it is missing or damaged."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        raise AsyncPCError(f"{path}: no checkpoint to resume from (set output.checkpoint_every = N to write one "
                           "every N presentations); start the run again with asyncpc run")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}  # reads every member: CRC-checked
        info = json.loads(str(data.pop("info")))
        if not isinstance(info, dict) or info.get("format") != FORMAT:
            raise ValueError(f"unknown format {info.get('format') if isinstance(info, dict) else info!r}")
        state = {k: v for k, v in data.items() if not k.startswith("metrics.")}
        metrics = {k[len("metrics."):]: v for k, v in data.items() if k.startswith("metrics.")}
        for k in ("chunk", "t", "scenario_hash", "metrics_rows", "metrics_bytes"):
            if k not in info:
                raise ValueError(f"'{k}' missing")
        if info["state"].get("parts"):
            _join_parts(path.parent.parent, info, state)
    except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError,
            SyntaxError, tokenize.TokenError) as exc:  # the last two: numpy parsing a damaged array header
        raise AsyncPCError(f"{path}: corrupt checkpoint ({type(exc).__name__}: {exc}); delete it and start the "
                           "run again with asyncpc run") from None
    return Checkpoint(path, info, state, metrics)

"""Distributions for per-edge delays and per-neuron clock parameters.

A *distribution spec* is either a number (a constant) or a mapping with a ``dist`` key:

======================  ==========================================
``{"dist": "constant", "value": v}``
``{"dist": "uniform", "low": a, "high": b}``
``{"dist": "lognormal", "mean": m, "sd": s}``   (mean and sd of the values themselves)
``{"dist": "gamma", "mean": m, "sd": s}``
``{"dist": "normal", "mean": m, "sd": s}``
``{"dist": "distance", "velocity": v, "synaptic": s}``   (delays only: ``s + d / v``)
======================  ==========================================

Every draw is added to ``offset`` (default 0), e.g. a synaptic delay.

``distance`` is a *delay model*, not a distribution: the delay of an edge is its
synaptic delay ``s`` (ms) plus the distance ``d`` (mm) between the two neurons' positions
on the cortical sheet divided by the conduction velocity ``v`` (mm/ms = m/s). Only
projection delays accept it (the builder knows the positions; see docs/delays.md).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import SpecError

__all__ = ["sample", "check_dist", "dist_mean", "is_distance"]

DIST_SPEC_FIELDS = {
    "constant": ("value",),
    "uniform": ("low", "high"),
    "lognormal": ("mean", "sd"),
    "gamma": ("mean", "sd"),
    "normal": ("mean", "sd"),
    "distance": ("velocity", "synaptic"),
}


def check_dist(spec, at, field=(), *, positive: bool = False, distance: bool = False) -> None:
    """Raise :class:`SpecError` at ``at``, ``field`` (see :func:`asyncpc.errors.place`; a
    plain string ``at`` is a section, e.g. ``"delays.forward"``) if ``spec`` is not a valid
    distribution.

    ``distance``: also accept the distance-based delay model (projection delays only).
    """
    field = (field,) if isinstance(field, str) else tuple(field)

    def fail(sub, msg):
        raise SpecError.located(at, (*field, *sub), msg)

    if isinstance(spec, bool):
        fail((), f"must be a number or a distribution table, got {spec!r}")
    if isinstance(spec, (int, float)):
        if not np.isfinite(spec):
            fail((), f"must be finite, got {spec!r}")
        if positive and spec <= 0:
            fail((), f"must be > 0, got {spec!r}")
        return
    if not isinstance(spec, Mapping):
        fail((), f"must be a number or a distribution table, got {spec!r}")
    kind = spec.get("dist")
    kinds = sorted(k for k in DIST_SPEC_FIELDS if distance or k != "distance")
    if kind not in kinds:
        extra = (" ('distance' is a delay model: only projection delays accept it)"
                 if kind == "distance" else "")
        fail(("dist",), f"must be one of {kinds}, got {kind!r}{extra}")
    allowed = set(DIST_SPEC_FIELDS[kind]) | {"dist"} | ({"offset"} if kind != "distance" else set())
    for key in spec:
        if key not in allowed:
            fail((str(key),), f"unknown key for dist={kind!r}; expected {sorted(allowed)}")
    for key in DIST_SPEC_FIELDS[kind]:
        if key not in spec:
            fail((key,), f"required for dist={kind!r}")
    for key in (*DIST_SPEC_FIELDS[kind], "offset"):
        v = spec.get(key, 0.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            fail((key,), f"must be a finite number, got {v!r}")
    if kind == "uniform" and spec["low"] > spec["high"]:
        fail((), f"low must be <= high, got {spec['low']} > {spec['high']}")
    if kind in ("lognormal", "gamma"):
        if spec["mean"] <= 0:
            fail(("mean",), f"must be > 0 for dist={kind!r}, got {spec['mean']}")
        if spec["sd"] < 0:
            fail(("sd",), f"must be >= 0, got {spec['sd']}")
    if kind == "normal" and spec["sd"] < 0:
        fail(("sd",), f"must be >= 0, got {spec['sd']}")
    if kind == "distance":
        if spec["velocity"] <= 0:
            fail(("velocity",), f"must be > 0 mm/ms, got {spec['velocity']}")
        if spec["synaptic"] < 0 or (positive and spec["synaptic"] <= 0):
            fail(("synaptic",), f"must be > 0 ms (neurons at the same place still need "
                                f"a delay of at least one step), got {spec['synaptic']}")
    if positive:
        low = {"constant": spec.get("value"), "uniform": spec.get("low")}.get(kind)
        if low is not None and low + spec.get("offset", 0.0) <= 0:
            fail((), f"values must be > 0, got a lower end of {low}")


def dist_mean(spec) -> float:
    """The mean of a distribution spec (for reports and validation); for the distance
    model, its synaptic delay (the least delay: the mean depends on the positions)."""
    if isinstance(spec, (int, float)):
        return float(spec)
    off = float(spec.get("offset", 0.0))
    kind = spec["dist"]
    if kind == "distance":
        return float(spec["synaptic"])
    if kind == "constant":
        return off + spec["value"]
    if kind == "uniform":
        return off + 0.5 * (spec["low"] + spec["high"])
    return off + spec["mean"]


def is_distance(spec) -> bool:
    """Whether ``spec`` is the distance-based delay model."""
    return isinstance(spec, Mapping) and spec.get("dist") == "distance"


def sample(spec, n: int, rng: np.random.Generator, distance=None) -> np.ndarray:
    """Draw ``n`` values (float64) from a distribution spec.

    ``distance``: for the distance model, the ``n`` distances (mm) between the ends of
    each edge; the result is ``synaptic + distance / velocity`` (no random draw).
    """
    if isinstance(spec, (int, float)):
        return np.full(n, float(spec))
    off = float(spec.get("offset", 0.0))
    kind = spec["dist"]
    if kind == "distance":
        if distance is None:
            raise SpecError("dist='distance' needs the positions of both ends of each edge "
                            "(only projection delays accept it)")
        d = np.asarray(distance, dtype=np.float64)
        if d.shape != (n,):
            raise ValueError(f"distance: expected {n} distances, got shape {d.shape}")
        return float(spec["synaptic"]) + d / float(spec["velocity"])
    if kind == "constant":
        out = np.full(n, float(spec["value"]))
    elif kind == "uniform":
        out = rng.uniform(spec["low"], spec["high"], n)
    elif kind == "normal":
        out = rng.normal(spec["mean"], spec["sd"], n)
    elif kind == "lognormal":
        m, s = np.float64(spec["mean"]), np.float64(spec["sd"])
        with np.errstate(over="ignore"):  # numpy scalars: an extreme ratio overflows to inf, not an exception
            sigma2 = np.log1p(np.square(s / m))
        if not np.isfinite(sigma2):
            raise SpecError(f"dist='lognormal': sd / mean = {s / m:.3g} is too large to draw from")
        out = rng.lognormal(np.log(m) - 0.5 * sigma2, np.sqrt(sigma2), n)
    else:  # gamma
        m, s = np.float64(spec["mean"]), np.float64(spec["sd"])
        with np.errstate(over="ignore", under="ignore", divide="ignore"):
            k = np.square(m / s) if s else np.float64(np.inf)
        if not np.isfinite(k):  # sd vanishing next to the mean: the gamma's limit is the constant
            out = np.full(n, float(m))
        elif k > 0:
            out = rng.gamma(k, m / k, n)
        else:
            raise SpecError(f"dist='gamma': sd / mean = {s / m:.3g} is too large to draw from")
    return out + off

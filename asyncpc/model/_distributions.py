"""Distributions for per-edge delays and per-neuron clock parameters.

A *distribution spec* is either a number (a constant) or a mapping with a ``dist`` key:

======================  ==========================================
``{"dist": "constant", "value": v}``
``{"dist": "uniform", "low": a, "high": b}``
``{"dist": "lognormal", "mean": m, "sd": s}``   (mean and sd of the values themselves)
``{"dist": "gamma", "mean": m, "sd": s}``
``{"dist": "normal", "mean": m, "sd": s}``
======================  ==========================================

Every draw is added to ``offset`` (default 0), e.g. a synaptic delay.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import SpecError

__all__ = ["sample", "check_dist", "dist_mean"]

_FIELDS = {
    "constant": ("value",),
    "uniform": ("low", "high"),
    "lognormal": ("mean", "sd"),
    "gamma": ("mean", "sd"),
    "normal": ("mean", "sd"),
}


def check_dist(spec, where: str, *, positive: bool = False) -> None:
    """Raise :class:`SpecError` naming ``where`` if ``spec`` is not a valid distribution."""
    if isinstance(spec, bool):
        raise SpecError(f"{where}: must be a number or a distribution table, got {spec!r}")
    if isinstance(spec, (int, float)):
        if not np.isfinite(spec):
            raise SpecError(f"{where}: must be finite, got {spec!r}")
        if positive and spec <= 0:
            raise SpecError(f"{where}: must be > 0, got {spec!r}")
        return
    if not isinstance(spec, Mapping):
        raise SpecError(f"{where}: must be a number or a distribution table, got {spec!r}")
    kind = spec.get("dist")
    if kind not in _FIELDS:
        raise SpecError(f"{where}.dist: must be one of {sorted(_FIELDS)}, got {kind!r}")
    allowed = set(_FIELDS[kind]) | {"dist", "offset"}
    for key in spec:
        if key not in allowed:
            raise SpecError(f"{where}.{key}: unknown key for dist={kind!r}; "
                            f"expected {sorted(allowed)}")
    for key in _FIELDS[kind]:
        if key not in spec:
            raise SpecError(f"{where}.{key}: required for dist={kind!r}")
    for key in (*_FIELDS[kind], "offset"):
        v = spec.get(key, 0.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise SpecError(f"{where}.{key}: must be a finite number, got {v!r}")
    if kind == "uniform" and spec["low"] > spec["high"]:
        raise SpecError(f"{where}: low must be <= high, got {spec['low']} > {spec['high']}")
    if kind in ("lognormal", "gamma"):
        if spec["mean"] <= 0:
            raise SpecError(f"{where}.mean: must be > 0 for dist={kind!r}, got {spec['mean']}")
        if spec["sd"] < 0:
            raise SpecError(f"{where}.sd: must be >= 0, got {spec['sd']}")
    if kind == "normal" and spec["sd"] < 0:
        raise SpecError(f"{where}.sd: must be >= 0, got {spec['sd']}")
    if positive:
        low = {"constant": spec.get("value"), "uniform": spec.get("low")}.get(kind)
        if low is not None and low + spec.get("offset", 0.0) <= 0:
            raise SpecError(f"{where}: values must be > 0, got a lower end of {low}")


def dist_mean(spec) -> float:
    """The mean of a distribution spec (for reports and validation)."""
    if isinstance(spec, (int, float)):
        return float(spec)
    off = float(spec.get("offset", 0.0))
    kind = spec["dist"]
    if kind == "constant":
        return off + spec["value"]
    if kind == "uniform":
        return off + 0.5 * (spec["low"] + spec["high"])
    return off + spec["mean"]


def sample(spec, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` values (float64) from a distribution spec."""
    if isinstance(spec, (int, float)):
        return np.full(n, float(spec))
    off = float(spec.get("offset", 0.0))
    kind = spec["dist"]
    if kind == "constant":
        out = np.full(n, float(spec["value"]))
    elif kind == "uniform":
        out = rng.uniform(spec["low"], spec["high"], n)
    elif kind == "normal":
        out = rng.normal(spec["mean"], spec["sd"], n)
    elif kind == "lognormal":
        m, s = float(spec["mean"]), float(spec["sd"])
        sigma2 = np.log1p((s / m) ** 2)
        out = rng.lognormal(np.log(m) - 0.5 * sigma2, np.sqrt(sigma2), n)
    else:  # gamma
        m, s = float(spec["mean"]), float(spec["sd"])
        if s == 0:
            out = np.full(n, m)
        else:
            k = (m / s) ** 2
            out = rng.gamma(k, m / k, n)
    return out + off

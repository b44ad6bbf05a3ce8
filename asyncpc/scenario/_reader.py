"""Typed reading of a parsed TOML table: every getter checks one key, records its resolved
value, and remembers that the key is known, so that whatever is left over is an unknown
key. Every failure is a :class:`ScenarioError` naming the file, the key path and its line.
"""

from __future__ import annotations

import difflib
import math
import sys
from types import MappingProxyType

from ..errors import ScenarioError
from ..model._distributions import DIST_SPEC_FIELDS
from ._toml import KeyLines, format_path

__all__ = ["Ctx", "Table", "MISSING", "MAX_STEPS", "MAX_RUN_STEPS", "INT64_MAX", "describe", "fmt_num",
           "number_problem"]

MISSING = object()
#: Longest time (in steps) a delay, period or presentation may last; compiled delays are int32.
MAX_STEPS = 10_000_000
#: Longest run (steps): data.duration, a dataset stream, trace windows. Far inside int64 and
#: float64's exact integers, so no step count, product of counts or time in ms overflows.
MAX_RUN_STEPS = 10**12
#: TOML integers are 64-bit (tomllib reads longer ones; nothing downstream could hold them).
INT64_MAX = 2**63 - 1
DIST_FIELDS = DIST_SPEC_FIELDS  # one table of distribution keys, owned by the model


def fmt_int(v: int) -> str:
    """An integer for a message: exact within 64 bits, else ``1.23e+45`` (never converted to
    a float, which would overflow)."""
    if -2**63 <= v < 2**63:
        return str(v)
    sign = "-" if v < 0 else ""
    if v.bit_length() > 13_000:  # str() refuses integers of more than 4300 digits
        return f"{sign}~1e+{int(v.bit_length() * 0.30103)}"
    s = str(abs(v))
    return f"{sign}{s[0]}.{s[1:3]}e+{len(s) - 1}"


def number_problem(v, *, integer=False) -> str | None:
    """Why ``v`` is not a usable TOML number (None when it is): not a number, an integer
    beyond 64 bits, NaN or infinite, negative zero, or a subnormal float."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return "not a number"
    if isinstance(v, int):
        if not -INT64_MAX - 1 <= v <= INT64_MAX:
            return f"{fmt_int(v)} does not fit 64 bits (TOML integers are at most {INT64_MAX})"
        return None
    if not math.isfinite(v):
        return f"{v!r} is not a finite number"
    if v == 0 and math.copysign(1.0, v) < 0:
        return "-0.0 is negative zero; write 0"
    if v != 0 and abs(v) < sys.float_info.min:
        return f"{v!r} is a subnormal float (below {sys.float_info.min:.3g}); write 0 or a larger number"
    return None


def describe(v) -> str:
    """A value as a user wrote it, with its TOML type."""
    if isinstance(v, bool):
        return f"{str(v).lower()} (a boolean)"
    if isinstance(v, int):
        return f"{fmt_int(v)} (an integer)"
    if isinstance(v, float):
        return f"{v!r} (a float)" if math.isfinite(v) else f"{v!r}"
    if isinstance(v, str):
        return f"{v!r} (a string)"
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        s = repr(v)
        return f"{s if len(s) <= 40 else s[:37] + '...'} (an array)"
    return f"{v!s} (a {type(v).__name__})"


def fmt_num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else fmt_int(x) if isinstance(x, int) else str(x)


class Ctx:
    """One scenario file: its name, where its keys are, which keys ``--set`` changed."""

    def __init__(self, file: str | None, lines: KeyLines | None, overridden=()):
        self.file = file
        self.lines = lines
        self.overridden = {tuple(p) for p in overridden}

    def _from_override(self, path) -> bool:
        return any(tuple(path[:len(o)]) == o for o in self.overridden)

    def fail(self, path, msg, *, value: str | None = None, cls=ScenarioError):
        """Raise ``cls`` (a :class:`ScenarioError` unless told) at key ``path``; ``value``:
        the key's value as shown in ``key = value: msg``."""
        path = tuple(path)
        line = None
        if self._from_override(path):
            msg += " (value set by --set)"
        elif self.lines is not None:
            line = self.lines.find(path)
        raise cls(msg, file=self.file, key=format_path(path) or None, line=line, value=value)


class Table:
    """A reader over one TOML table at ``path``."""

    def __init__(self, ctx: Ctx, path: tuple, raw):
        if not isinstance(raw, dict):
            ctx.fail(path, f"must be a table, got {describe(raw)}")
        self.ctx, self.path, self.raw = ctx, tuple(path), raw
        self.known: list[str] = []
        self.out: dict = {}

    # -- plumbing ----------------------------------------------------------------------
    def fail(self, key, msg):
        """Fail at ``key`` (a name, a tuple of path parts below this table, or None)."""
        rel = () if key is None else key if isinstance(key, tuple) else (key,)
        self.ctx.fail(self.path + rel, msg)

    def has(self, key) -> bool:
        return key in self.raw

    def take(self, key, default=MISSING, *, required=False):
        if key not in self.known:
            self.known.append(key)
        v = self.raw.get(key, MISSING)
        if v is MISSING:
            if required:
                self.fail(key, "required key is missing")
            return default
        return v

    def put(self, key, value):
        if value is not None:
            self.out[key] = value
        return value

    def done(self, not_here: dict | None = None) -> dict:
        """Reject keys nobody read; ``not_here`` maps keys valid elsewhere to why not here."""
        for key in self.raw:
            if key in self.known:
                continue
            if not_here and key in not_here:
                self.fail(key, not_here[key])
            close = difflib.get_close_matches(str(key), self.known + list(not_here or ()), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            expected = ", ".join(self.known) if self.known else "no keys"
            self.fail(key, f"unknown key{hint} (expected: {expected})")
        # resolved keys in reading order, whenever their value was settled
        order = {k: i for i, k in enumerate(self.known)}
        self.out = dict(sorted(self.out.items(), key=lambda kv: order.get(kv[0], len(order))))
        return self.out

    # -- typed getters -----------------------------------------------------------------
    def number(self, key, default=MISSING, *, lo=None, lo_open=False, hi=None, hi_open=False,
               unit="", required=False, resolve=True):
        v = self.take(key, default, required=required)
        if v is MISSING or v is None:
            return None
        v = self.check_number(key, v, lo=lo, lo_open=lo_open, hi=hi, hi_open=hi_open, unit=unit)
        return self.put(key, v) if resolve else v

    def check_number(self, key, v, *, lo=None, lo_open=False, hi=None, hi_open=False, unit=""):
        u = f" {unit}" if unit else ""
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail(key, f"must be a number{' in ' + unit if unit else ''}, got {describe(v)}")
        if not isinstance(v, int) and not math.isfinite(v):
            self.fail(key, f"must be a finite number, got {v!r}")
        why = number_problem(v)
        if why:
            self.fail(key, f"must be a usable number: {why}")
        if lo is not None and (v <= lo if lo_open else v < lo):
            self.fail(key, f"must be {'>' if lo_open else '>='} {fmt_num(lo)}{u}, got {fmt_num(v)}")
        if hi is not None and (v >= hi if hi_open else v > hi):
            self.fail(key, f"must be {'<' if hi_open else '<='} {fmt_num(hi)}{u}, got {fmt_num(v)}")
        return float(v)

    def integer(self, key, default=MISSING, *, lo=None, hi=None, required=False):
        v = self.take(key, default, required=required)
        if v is MISSING or v is None:
            return None
        return self.put(key, self.check_int(key, v, lo=lo, hi=hi))

    def check_int(self, key, v, *, lo=None, hi=None):
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, float) and math.isfinite(v) and v == int(v):
                self.fail(key, f"must be an integer (write {fmt_int(int(v))}, not {v!r})")
            self.fail(key, f"must be an integer, got {describe(v)}")
        lo = -INT64_MAX - 1 if lo is None else lo
        if v < lo:
            self.fail(key, f"must be an integer >= {fmt_num(lo)}, got {fmt_int(v)}")
        hi = INT64_MAX if hi is None else min(hi, INT64_MAX)
        if v > hi:
            self.fail(key, f"must be an integer <= {fmt_num(hi)}, got {fmt_int(v)}"
                      + (" (TOML integers are 64-bit)" if hi == INT64_MAX else ""))
        return int(v)

    def boolean(self, key, default=MISSING, *, required=False):
        v = self.take(key, default, required=required)
        if v is MISSING or v is None:
            return None
        if not isinstance(v, bool):
            hint = " (write true or false, without quotes)" if isinstance(v, str) else ""
            self.fail(key, f"must be true or false, got {describe(v)}{hint}")
        return self.put(key, v)

    def string(self, key, default=MISSING, *, choices=None, required=False, nonempty=True):
        v = self.take(key, default, required=required)
        if v is MISSING or v is None:
            return None
        return self.put(key, self.check_str(key, v, choices=choices, nonempty=nonempty))

    def check_str(self, key, v, *, choices=None, nonempty=True):
        if not isinstance(v, str):
            if choices:
                self.fail(key, f"must be one of {list(choices)}, got {describe(v)}")
            self.fail(key, f"must be a string, got {describe(v)}")
        if choices is not None and v not in choices:
            close = difflib.get_close_matches(v, list(choices), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.fail(key, f"must be one of {list(choices)}, got {v!r}{hint}")
        if nonempty and not v.strip():
            self.fail(key, "must be a non-empty string")
        return v

    def array(self, key, default=MISSING, *, required=False, min_len=0):
        """An array (returned raw, as a list) or None if absent."""
        v = self.take(key, default, required=required)
        if v is MISSING or v is None:
            return None
        if not isinstance(v, list):
            self.fail(key, f"must be an array, got {describe(v)}")
        if len(v) < min_len:
            self.fail(key, f"must have at least {min_len} element(s), got {len(v)}")
        return v

    def table(self, key, *, required=False) -> Table:
        v = self.take(key, {}, required=required)
        return Table(self.ctx, self.path + (key,), v)

    def sub(self, key, t: Table):
        """Record a sub-table's resolved values (after ``t.done()``)."""
        if t.out:
            self.out[key] = t.out

    def dist(self, key, default=MISSING, *, min_value=None, unit="ms", required=False, distance=False):
        """A number or a distribution table (see :mod:`asyncpc.model._distributions`).

        ``min_value``: the constant, the lower end of a uniform, and the mean of any
        other distribution must be at least this (e.g. one step ``h``); for the distance
        delay model (accepted only with ``distance=True``), its synaptic delay.
        """
        v = self.take(key, default, required=required)
        if v is MISSING or v is None:
            return None
        if v is default and not isinstance(v, (int, float)):
            return self.put(key, v)  # an already checked distribution
        if isinstance(v, dict):
            return self.put(key, self._dist_table(key, v, min_value, unit, distance))
        v = self.check_number(key, v, lo=0, lo_open=True, unit=unit)
        if min_value is not None:
            self._step_range(key, v, min_value, unit)
        return self.put(key, v)

    def _step_range(self, key, v, h, unit, what=""):
        if v < h * (1 - 1e-9):
            self.fail(key, f"must be >= one step (h = {fmt_num(h)} {unit}), got {fmt_num(v)}{what}")
        if v > MAX_STEPS * h:
            self.fail(key, f"must be <= {MAX_STEPS:g} steps ({MAX_STEPS * h:g} {unit} at h = {fmt_num(h)} {unit}), "
                           f"got {fmt_num(v)}{what}")

    def _dist_table(self, key, raw, min_value, unit, distance=False):
        t = Table(self.ctx, self.path + (key,), raw)
        kind = t.string("dist", required=True, choices=tuple(k for k in DIST_FIELDS if distance or k != "distance"))
        out = {"dist": kind}
        if kind == "distance":  # a delay model: synaptic + distance / velocity
            out["velocity"] = t.number("velocity", required=True, lo=0, lo_open=True, unit="mm/ms")
            out["synaptic"] = t.number("synaptic", required=True, lo=0, lo_open=True, unit=unit)
            t.done()
            if min_value is not None:
                t._step_range("synaptic", out["synaptic"], min_value, unit)
            return MappingProxyType(out)
        for f in DIST_FIELDS[kind]:
            lo, lo_open = {"sd": (0, False), "mean": (0, True), "value": (0, True)}.get(f, (None, False))
            if kind == "normal" and f == "mean":
                lo = None
            out[f] = t.number(f, required=True, lo=lo, lo_open=lo_open, unit=unit)
        off = t.number("offset", 0.0, unit=unit)
        t.done()
        if kind == "uniform":
            if out["low"] > out["high"]:
                t.fail("low", f"must be <= high ({fmt_num(out['high'])}), got {fmt_num(out['low'])}")
            if out["low"] + off <= 0:
                t.fail("low", f"must be > 0 {unit} (with offset {fmt_num(off)}), got {fmt_num(out['low'])}")
        if off:
            out["offset"] = off
        if min_value is not None:
            f = {"constant": "value", "uniform": "low"}.get(kind, "mean")
            what = f" + offset {fmt_num(off)}" if off else ""
            if out[f] + off < min_value * (1 - 1e-9):
                t.fail(f, f"must be >= one step (h = {fmt_num(min_value)} {unit}), got {fmt_num(out[f])}{what}")
            for hi in ({"constant": "value", "uniform": "high"}.get(kind, "mean"), "sd"):
                if hi in out and out[hi] + (off if hi != "sd" else 0) > MAX_STEPS * min_value:
                    t.fail(hi, f"must be <= {MAX_STEPS:g} steps ({MAX_STEPS * min_value:g} {unit} at "
                               f"h = {fmt_num(min_value)} {unit}), got {fmt_num(out[hi])}{what}")
        return MappingProxyType(out)

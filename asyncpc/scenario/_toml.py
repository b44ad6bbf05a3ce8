"""TOML plumbing: reading a scenario file, finding the line of a key, ``--set`` overrides."""

from __future__ import annotations

import copy
import os
import re
import tomllib

from ..errors import ScenarioError

__all__ = ["read_toml", "KeyLines", "apply_overrides", "format_path"]


def format_path(path) -> str:
    """``("network", "projections", 1, "p")`` -> ``"network.projections[1].p"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


#: What tomllib's plain ValueError for an integer of more than 4300 digits means to a user.
_LONG_INT = "TOML syntax: an integer with thousands of digits; TOML integers are 64-bit (at most 9223372036854775807)"


def _long_int_line(text: str) -> int | None:
    m = re.search(r"[0-9_]{4000,}", text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def read_toml(path) -> tuple[dict, str]:
    """Parse a TOML file; a missing file or a syntax error is a :class:`ScenarioError`
    naming the file (and the line, for syntax errors)."""
    path = os.fspath(path)
    try:
        with open(path, "rb", buffering=0) as fh:  # one read of the file's size, no buffer on top
            data = fh.read()
    except FileNotFoundError:
        raise ScenarioError("scenario file not found", file=path) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read the scenario file ({exc.strerror})", file=path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ScenarioError("TOML syntax: the file is not valid UTF-8", file=path, line=line) from None
    try:
        raw = tomllib.loads(text)
    except ValueError as exc:  # tomllib: an integer of more than 4300 digits is a plain ValueError
        if not isinstance(exc, tomllib.TOMLDecodeError):
            raise ScenarioError(_LONG_INT, file=path, line=_long_int_line(text)) from None
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        if m:
            msg = msg[:m.start()].rstrip() + f" (column {m.group(2)})"
        elif "end of document" in msg:
            line = text.count("\n") + 1
        raise ScenarioError(f"TOML syntax: {msg}", file=path, line=line) from None
    return raw, text


# ---------------------------------------------------------------------------------------
# Where is a key?  A small scanner of (already valid) TOML text that records, for every
# key path, the line its key appears on; array elements get the line they start on.

_BARE = re.compile(r"[A-Za-z0-9_-]+")


class KeyLines:
    """Line numbers of key paths in a TOML text.

    ``find(("delays", "forward", "mean"))`` returns the line of that key, or of its
    nearest enclosing table or key when the key itself is not in the text (a missing
    key, or one set by an override), or ``None``.
    """

    def __init__(self, text: str):
        self.lines: dict[tuple, int] = {}
        self._arrays: dict[tuple, int] = {}
        try:
            self._scan(text)
        except (IndexError, ValueError):  # a line index is a courtesy; never fail on it
            pass

    def find(self, path) -> int | None:
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def exact(self, path) -> int | None:
        return self.lines.get(tuple(path))

    # -- scanner -----------------------------------------------------------------------
    def _scan(self, s: str):
        self.s, self.i, self.line = s, 0, 1
        prefix: tuple = ()
        while self.i < len(s):
            self._skip_ws(newlines=True)
            if self.i >= len(s):
                break
            ch = s[self.i]
            if ch == "[":
                array = s.startswith("[[", self.i)
                self.i += 2 if array else 1
                self._skip_ws()
                key = self._in_arrays(self._key(), array)
                self._skip_ws()
                self.i += 2 if array else 1
                if array:
                    n = self._arrays.get(key, -1) + 1
                    self._arrays[key] = n
                    self.lines.setdefault(key, self.line)
                    prefix = key + (n,)
                else:
                    prefix = key
                self._mark_parents(prefix)
                self.lines[prefix] = self.line
            else:
                self._keyval(prefix)
            self._skip_ws()
            self._skip_comment()

    def _in_arrays(self, key: tuple, array: bool) -> tuple:
        """``[a.b.c]`` below ``[[a.b]]`` means ``a.b[last].c``."""
        out: tuple = ()
        for k, part in enumerate(key):
            out += (part,)
            if (array and k == len(key) - 1) or out not in self._arrays:
                continue
            out += (self._arrays[out],)
        return out

    def _mark_parents(self, path):
        for k in range(1, len(path)):
            self.lines.setdefault(path[:k], self.line)

    def _keyval(self, prefix):
        line = self.line
        key = prefix + self._key()
        self._mark_parents(key)
        self.lines.setdefault(key, line)
        self._skip_ws()
        if self.s[self.i] != "=":
            raise ValueError("expected =")
        self.i += 1
        self._skip_ws()
        self._value(key)

    def _key(self) -> tuple:
        parts = []
        while True:
            self._skip_ws()
            ch = self.s[self.i]
            if ch in "\"'":
                parts.append(self._string())
            else:
                m = _BARE.match(self.s, self.i)
                if not m:
                    raise ValueError("bad key")
                parts.append(m.group(0))
                self.i = m.end()
            self._skip_ws()
            if self.i < len(self.s) and self.s[self.i] == ".":
                self.i += 1
                continue
            return tuple(parts)

    def _value(self, path):
        s = self.s
        ch = s[self.i]
        if ch in "\"'":
            self._string()
        elif ch == "[":
            self.i += 1
            n = 0
            while True:
                self._skip_ws(newlines=True)
                self._skip_comment()
                self._skip_ws(newlines=True)
                if s[self.i] == "]":
                    self.i += 1
                    return
                self.lines.setdefault(path + (n,), self.line)
                self._value(path + (n,))
                n += 1
                self._skip_ws(newlines=True)
                self._skip_comment()
                self._skip_ws(newlines=True)
                if s[self.i] == ",":
                    self.i += 1
        elif ch == "{":
            self.i += 1
            while True:
                self._skip_ws()
                if s[self.i] == "}":
                    self.i += 1
                    return
                self._keyval(path)
                self._skip_ws()
                if s[self.i] == ",":
                    self.i += 1
        else:  # number, bool, date: up to a delimiter
            while self.i < len(s) and s[self.i] not in ",]}\n#":
                self.i += 1

    def _string(self) -> str:
        s = self.s
        q = s[self.i]
        if s.startswith(q * 3, self.i):
            end = s.index(q * 3, self.i + 3)
            while s.startswith(q, end + 3):  # up to two quotes may close the string
                end += 1
            body = s[self.i + 3:end]
            self.i = end + 3
            self.line += body.count("\n")
            return body
        j = self.i + 1
        while s[j] != q:
            j += 2 if (q == '"' and s[j] == "\\") else 1
        body = s[self.i + 1:j]
        self.i = j + 1
        if q == '"':
            try:
                body = tomllib.loads(f'k = "{body}"')["k"]
            except tomllib.TOMLDecodeError:
                pass
        return body

    def _skip_ws(self, newlines=False):
        s = self.s
        while self.i < len(s) and (s[self.i] in " \t\r" or (newlines and s[self.i] == "\n")):
            if s[self.i] == "\n":
                self.line += 1
            self.i += 1
        if newlines and self.i < len(s) and s[self.i] == "#":
            self._skip_comment()
            self._skip_ws(newlines=True)

    def _skip_comment(self):
        if self.i < len(self.s) and self.s[self.i] == "#":
            while self.i < len(self.s) and self.s[self.i] != "\n":
                self.i += 1


# ---------------------------------------------------------------------------------------
# --set key.path=value

def _split_key(key: str, spec: str) -> list:
    parts = []
    for seg in re.split(r"\.", key):
        m = re.fullmatch(r"([A-Za-z0-9_-]+)((?:\[\d+\])*)", seg.strip())
        if not m:
            raise ScenarioError(f"--set {spec!r}: bad key path {key!r}; expected dotted names "
                                "like data.epochs or network.projections[0].p")
        parts.append(int(m.group(1)) if m.group(1).isdigit() and parts else m.group(1))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return parts


def parse_override(spec: str) -> tuple[list, object]:
    """``"a.b=1"`` -> ``(["a", "b"], 1)``; the value is read as a TOML value, or kept as a
    bare string if it is not one."""
    if not isinstance(spec, str) or "=" not in spec:
        raise ScenarioError(f"--set {spec!r}: expected key.path=value, e.g. data.epochs=2")
    key, _, text = spec.partition("=")
    key, text = key.strip(), text.strip()
    if not key:
        raise ScenarioError(f"--set {spec!r}: the key path before '=' is empty")
    if not text:
        raise ScenarioError(f"--set {spec!r}: the value after '=' is empty; quote an empty string as \"\"")
    path = _split_key(key, spec)
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except ValueError as exc:  # TOMLDecodeError, or tomllib's plain ValueError for a 4300-digit integer
        if not isinstance(exc, tomllib.TOMLDecodeError):
            raise ScenarioError(f"--set {key}=...: {_LONG_INT.removeprefix('TOML syntax: ')}") from None
        if text[:1] in "[{\"'":
            raise ScenarioError(f"--set {spec!r}: {text!r} is not a valid TOML value") from None
        value = text
    return path, value


def apply_overrides(raw: dict, overrides) -> dict:
    """Return a copy of ``raw`` with ``key.path=value`` overrides applied (intermediate
    tables are created; an integer segment or ``[i]`` indexes an array of tables).

    Examples
    --------
    >>> apply_overrides({"data": {"epochs": 3}}, ["data.epochs=1", "network.sizes=[64,32,10]",
    ...                                           "data.source=sklearn:digits"])
    {'data': {'epochs': 1, 'source': 'sklearn:digits'}, 'network': {'sizes': [64, 32, 10]}}
    """
    out = copy.deepcopy(raw)
    if isinstance(overrides, str):
        overrides = [overrides]
    for spec in overrides:
        path, value = parse_override(spec)
        node = out
        for k, part in enumerate(path[:-1]):
            where = format_path(path[:k + 1])
            if isinstance(node, list):
                if not isinstance(part, int) or part >= len(node):
                    raise ScenarioError(f"--set {spec!r}: {format_path(path[:k])} has {len(node)} "
                                        f"element(s); {where} does not exist")
                node = node[part]
            else:
                node = node.setdefault(str(part) if isinstance(part, int) else part, {})
            if not isinstance(node, (dict, list)):
                raise ScenarioError(f"--set {spec!r}: {where} is {node!r}, not a table; "
                                    f"set {where}=... instead")
        last = path[-1]
        if isinstance(node, list):
            if not isinstance(last, int) or last >= len(node):
                raise ScenarioError(f"--set {spec!r}: {format_path(path[:-1])} has {len(node)} "
                                    f"element(s); {format_path(path)} does not exist")
        else:
            last = str(last) if isinstance(last, int) else last
        node[last] = value
    return out


def override_paths(overrides) -> set[tuple]:
    """The key paths the overrides set (to say so in error messages)."""
    if isinstance(overrides, str):
        overrides = [overrides]
    return {tuple(parse_override(s)[0]) for s in overrides}

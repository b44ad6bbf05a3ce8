"""The scenario files shipped with asyncpc (``asyncpc scenarios list|copy``).

The repository's top-level ``scenarios/`` is their source; a wheel installs them as
``asyncpc/_scenarios/`` (setup.cfg maps the package ``asyncpc._scenarios`` to that
directory). In a source checkout they are read from ``scenarios/`` itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import AsyncPCError

__all__ = ["copy_scenarios", "find_shipped", "list_scenarios", "scenario_dir"]


def scenario_dir() -> Path:
    """Where the shipped scenarios are: installed package data, else the checkout's."""
    pkg = Path(__file__).resolve().parents[1]
    for d in (pkg / "_scenarios", pkg.parent / "scenarios"):
        if d.is_dir() and any(d.glob("*.toml")):
            return d
    raise AsyncPCError("the shipped scenarios are missing from this installation (expected "
                       f"{pkg / '_scenarios'}); reinstall asyncpc")


def _describe(path: Path) -> str:
    """The first comment line of a scenario file."""
    for line in path.read_text(encoding="utf-8").splitlines():
        s = line.strip()
        if s.startswith("#"):
            return s.lstrip("#").strip()
        if s:
            break
    return ""


def list_scenarios() -> list[tuple[str, str]]:
    """(name, description) of every shipped scenario, sorted by name."""
    return [(p.stem, _describe(p)) for p in sorted(scenario_dir().glob("*.toml"))]


def find_shipped(name: str) -> Path | None:
    """The shipped scenario called ``name`` (``xor`` or ``xor.toml``), or None."""
    stem = name[:-5] if name.endswith(".toml") else name
    if not stem or "/" in stem or "\\" in stem:
        return None
    p = scenario_dir() / f"{stem}.toml"
    return p if p.is_file() else None


def copy_scenarios(name: str, dest, *, overwrite: bool = False) -> list[Path]:
    """Copy the shipped scenario ``name`` (or ``all``) into directory ``dest``."""
    names = [n for n, _ in list_scenarios()]
    if name == "all":
        srcs = [scenario_dir() / f"{n}.toml" for n in names]
    else:
        p = find_shipped(name)
        if p is None:
            import difflib

            close = difflib.get_close_matches(name, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise AsyncPCError(f"scenarios copy: no shipped scenario {name!r}{hint} (expected one of {names} "
                               "or 'all')")
        srcs = [p]
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise AsyncPCError(f"{dest}: not a directory; expected the directory to copy the scenario into")
    dest.mkdir(parents=True, exist_ok=True)
    clash = [dest / s.name for s in srcs if (dest / s.name).exists()]
    if clash and not overwrite:
        raise AsyncPCError(f"{clash[0]}: exists; pass --overwrite to replace it")
    out = []
    for s in srcs:
        shutil.copyfile(s, dest / s.name)
        out.append(dest / s.name)
    return out

"""What a wheel ships: every subpackage, the scenarios as package data, py.typed, LICENSE;
the metadata the index shows."""

import configparser
import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def cfg():
    c = configparser.ConfigParser()
    c.read(ROOT / "setup.cfg")
    return c


def test_setup_cfg_lists_every_subpackage_and_maps_the_scenarios():
    c = cfg()
    listed = set(c["options"]["packages"].split())
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "asyncpc").rglob("__init__.py")}
    assert found <= listed, f"add to setup.cfg [options] packages: {sorted(found - listed)}"
    assert "asyncpc._scenarios" in listed
    assert c["options"]["package_dir"].split() == ["asyncpc._scenarios", "=", "scenarios"]
    data = c["options.package_data"]
    assert data["asyncpc._scenarios"].strip() == "*.toml" and data["asyncpc"].strip() == "py.typed"
    meta = c["metadata"]
    assert meta["license"] == "MIT" and "License :: OSI Approved :: MIT License" in meta["classifiers"]
    assert len(meta["classifiers"].split("\n")) >= 8
    assert "pandas" not in c["options"]["install_requires"]  # an extra, never a core dependency
    for f in ("LICENSE", "CITATION.cff", "asyncpc/py.typed"):
        assert (ROOT / f).exists(), f
    assert "MIT License" in (ROOT / "LICENSE").read_text()


@pytest.mark.skipif(importlib.util.find_spec("wheel") is None, reason="building a wheel needs the wheel package")
def test_the_wheel_ships_the_scenarios_and_runs_them_by_name(tmp_path):
    src = tmp_path / "src"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for f in files:  # a copy: building writes build/ and *.egg-info next to the sources
        if (ROOT / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, src / f)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    str(src), "-w", str(tmp_path / "dist")], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("asyncpc-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("asyncpc/_scenarios/")}
    assert shipped == {p.name for p in (ROOT / "scenarios").glob("*.toml")}
    assert "asyncpc/py.typed" in names and any(n.endswith("LICENSE") for n in names)
    assert not any(n.startswith(("tests/", "tools/")) for n in names)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "asyncpc", "scenarios", "list", "--format", "csv"], cwd=tmp_path,
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert str(target) in subprocess.run([sys.executable, "-c", "import asyncpc; print(asyncpc.__file__)"],
                                         cwd=tmp_path, env=env, capture_output=True, text=True).stdout
    assert "xor," in out.stdout and "digits," in out.stdout
    out = subprocess.run([sys.executable, "-m", "asyncpc", "validate", "xor"], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr

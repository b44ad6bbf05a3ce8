"""Importing asyncpc is cheap: no JIT compile, no heavy import, no side effects."""

import subprocess
import sys


def test_import_compiles_nothing_and_loads_nothing_heavy():
    code = ("import sys, asyncpc; "
            "heavy = [m for m in ('numba', 'networkx', 'matplotlib', 'pyarrow', 'sklearn') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    assert out.stderr == ""


def test_version_is_exposed():
    import asyncpc
    assert asyncpc.__version__.count(".") == 2


def test_the_api_names_load_on_use_and_lightly():
    code = ("import sys, logging, asyncpc; f = asyncpc.run, asyncpc.load_run, asyncpc.Run, asyncpc.ProgressEvent; "
            "heavy = [m for m in ('numba', 'networkx', 'matplotlib', 'pyarrow', 'sklearn', 'pandas') "
            "if m in sys.modules]; "
            "print(','.join(heavy), len(logging.getLogger('asyncpc').handlers), len(logging.getLogger().handlers))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"], out.stdout  # nothing heavy, no logging configured
    assert out.stderr == ""

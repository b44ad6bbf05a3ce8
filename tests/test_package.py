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


# ---------------------------------------------------------------------------- code shape
# docs/architecture.md: the floors, lowest first; a package imports only from its own floor or below.
FLOORS = (("errors", "_seed", "__version__"), ("neurons", "_mpi"), ("model",), ("compile",), ("kernels",),
          ("state", "environment", "observe"), ("actors", "engine", "reference"), ("trace",),
          ("scenario",), ("cli",), ("api", "__main__", "__init__"))
#: The one function allowed past 80 lines, and why (docs/architecture.md, "Code size").
LONG = {("asyncpc/engine/_step.py", "advance")}


def _package_imports():
    """``{(importer package, imported package): first file}`` over every import in asyncpc/,
    those inside functions included."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    found = {}
    for p in sorted((root / "asyncpc").rglob("*.py")):
        parts = p.relative_to(root).with_suffix("").parts
        here, me = list(parts[:-1]), parts[1]  # the importing module's package; its top-level package
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = here[:len(here) - node.level + 1]
                names = [node.module] if node.module else [a.name for a in node.names]
                targets = [".".join(base + [n]) for n in names]
            elif isinstance(node, ast.ImportFrom):
                targets = [node.module or ""]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for t in targets:
                t = t.split(".")
                if t[0] == "asyncpc":
                    found.setdefault((me, t[1] if len(t) > 1 else "__init__"), str(p.relative_to(root)))
    return found


def test_imports_point_down_the_floors_and_never_in_a_circle():
    floor = {pkg: k for k, names in enumerate(FLOORS) for pkg in names}
    imports = _package_imports()
    assert {a for a, _ in imports} | {b for _, b in imports} <= set(floor), "a package missing from FLOORS"
    up = [f"{where}: {a} imports {b}" for (a, b), where in imports.items() if floor[b] > floor[a]]
    assert not up, up
    # packages on one floor may use each other, but never both ways
    both = [(a, b) for (a, b) in imports if a < b and (b, a) in imports]
    assert not both, both


def test_no_function_over_80_lines_and_no_module_over_500():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    long_modules, long_functions = [], []
    for p in sorted((root / "asyncpc").rglob("*.py")):
        text = p.read_text()
        where = str(p.relative_to(root))
        if text.count("\n") > 500:
            long_modules.append(where)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                if (where, node.name) not in LONG:
                    long_functions.append(f"{where}:{node.lineno} {node.name}")
    assert not long_modules and not long_functions, (long_modules, long_functions)

"""asyncpc: predictive-coding networks run as autonomous neurons exchanging delayed messages.

Importing asyncpc compiles nothing, imports no heavy module and configures no logging;
subpackages load on use:

>>> import asyncpc
>>> net = asyncpc.model.layered([4, 3, 2])

Runs from Python (``asyncpc.api``): ``asyncpc.run(scenario, out=None, set=..., progress=...)``
and ``asyncpc.load_run(dir)`` return a :class:`Run` (``.summary``, ``.metrics``,
``.epochs``, ``.trace``, ``.network``, ``.plot()``); ``asyncpc.Dataset.from_arrays(X, y)``
makes data for ``asyncpc.run(..., data=...)``. Progress is reported through the
``asyncpc`` logger.
"""

from importlib import import_module

__version__ = "0.1.0"
_MODULES = ("model", "compile", "kernels", "reference", "actors", "engine", "environment", "scenario", "trace",
            "errors", "api")
#: Names served from a submodule on first use: name -> module.
_NAMES = {"run": "api", "resume": "api", "load_run": "api", "Run": "api", "ProgressEvent": "api",
          "Dataset": "environment", "load_scenario": "scenario", "AsyncPCError": "errors"}
__all__ = [*_MODULES, *_NAMES, "__version__"]


def __getattr__(name):
    if name in _MODULES:
        return import_module(f".{name}", __name__)
    if name in _NAMES:
        return getattr(import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module 'asyncpc' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))

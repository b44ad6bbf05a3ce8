"""asyncpc: predictive-coding networks run as autonomous neurons exchanging delayed messages.

Importing asyncpc compiles nothing and imports no heavy module; subpackages load on use:

>>> import asyncpc
>>> net = asyncpc.model.layered([4, 3, 2])
"""

from importlib import import_module

__version__ = "0.1.0"
__all__ = ["model", "compile", "kernels", "reference", "actors", "engine", "environment",
           "scenario", "trace", "errors", "__version__"]


def __getattr__(name):
    if name in __all__ and name != "__version__":
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'asyncpc' has no attribute {name!r}")

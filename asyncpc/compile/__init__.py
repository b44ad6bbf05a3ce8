"""Network -> flat arrays. See :mod:`asyncpc.compile._layout` for the layout."""

from ._layout import EDGE_ROLES, KIND_ERROR, KIND_VALUE, ROLE_CODES, CompiledNet, compile_network

__all__ = ["CompiledNet", "EDGE_ROLES", "KIND_ERROR", "KIND_VALUE", "ROLE_CODES", "compile_network"]

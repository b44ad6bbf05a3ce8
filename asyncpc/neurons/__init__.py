"""Declarations of the neurons' dynamics options: each said once (name, kinds, unit,
neutral value, bounds, what it needs or excludes, one line of documentation); the
scenario reader, graph validation, ``asyncpc describe``, the compiler, the kernels'
parameter columns and the dense reference's refusals are derived from them.

The ground floor beside :mod:`asyncpc.kernels`: it imports nothing else from asyncpc but
its errors.
"""

from ._options import OPTIONS, Option, attrs_for, check_options, option, option_names, turned_on

__all__ = ["OPTIONS", "Option", "attrs_for", "check_options", "option", "option_names", "turned_on"]

"""What threads need to wait for each other without a barrier: atomic loads and stores of
an int64 array element, a spin-loop hint, and yielding the CPU.

Numba has no atomics for CPU code; these are LLVM's, emitted as intrinsics. An atomic
load is never hoisted out of a loop (a plain one may be, and a spin would never end),
and acquire/release order the partitions' writes to the shared state before the
progress they publish. ``yield_cpu`` calls the C library's ``sched_yield`` by name, so
compiled code that uses it can still be cached.
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["load_acquire", "store_release", "spin_pause", "yield_cpu"]


@intrinsic
def load_acquire(typingctx, arr, idx):
    """``arr[idx]`` (int64, C-contiguous 1-d array) read with acquire ordering."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1):
        return None

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, sig.args[0], ary, [args[1]])
        return builder.load_atomic(ptr, ordering="acquire", align=8)

    return types.int64(arr, idx), codegen


@intrinsic
def store_release(typingctx, arr, idx, val):
    """``arr[idx] = val`` (int64) written with release ordering."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1):
        return None

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, sig.args[0], ary, [args[1]])
        v = context.cast(builder, args[2], sig.args[2], types.int64)
        builder.store_atomic(v, ptr, ordering="release", align=8)
        return context.get_dummy_value()

    return types.none(arr, idx, val), codegen


@intrinsic
def spin_pause(typingctx):
    """The CPU's spin-wait hint (``pause`` on x86; nothing elsewhere)."""
    def codegen(context, builder, sig, args):
        import platform

        if platform.machine().lower() in ("x86_64", "amd64", "i386", "i686"):
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                                "llvm.x86.sse2.pause")
            builder.call(fn, [])
        return context.get_dummy_value()

    return types.none(), codegen


@intrinsic
def yield_cpu(typingctx):
    """``sched_yield()``: give the CPU to whoever else is waiting for it."""
    def codegen(context, builder, sig, args):
        fnty = ir.FunctionType(ir.IntType(32), [])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "sched_yield")
        builder.call(fn, [])
        return context.get_dummy_value()

    return types.none(), codegen

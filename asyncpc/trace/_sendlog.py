"""An observer that records send events, on either runtime (what a trace stores)."""

from __future__ import annotations

import numpy as np

from ..kernels import act, jit
from ..observe import Observer, RunContext

__all__ = ["SEND_COLUMNS", "SendLog"]

SEND_COLUMNS = ("t", "src", "s", "rate")


@jit
def _rates(kind, code, src, s):
    """The rate each send carried on predict edges: f(x) of a value neuron, eps of an
    error neuron (the engine's rule, with the same kernel)."""
    out = np.empty(s.shape[0])
    for i in range(s.shape[0]):
        n = src[i]
        out[i] = act(code[n], s[i]) if kind[n] == 0 else s[i]
    return out


class SendLog(Observer):
    """Records every send event of a neuron that has out-edges: ``(t, src, s, rate)``, the
    rows of the engine's ``record_sends=True`` table (``asyncpc.engine.run``).

    A neuron's messages of one tick are emitted before its ``neuron_ticked`` hook (on both
    runtimes), so a tick that follows messages of the same neuron and step is a send, and
    its ``s`` is the state sent.

    Examples
    --------
    >>> from asyncpc.actors import run
    >>> from asyncpc.compile import compile_network
    >>> from asyncpc.environment import Schedule
    >>> from asyncpc.model import layered
    >>> from asyncpc.trace import SendLog
    >>> c = compile_network(layered([2, 1]))
    >>> log = SendLog()
    >>> _ = run(c, Schedule.empty(end=3), observers=[log])
    >>> len(log.table()["t"]) > 0
    True
    """

    def __init__(self):
        self._t: list[int] = []
        self._n: list[int] = []
        self._s: list[float] = []
        self._last = None
        self._src = None
        self._kind = self._code = None

    def before_run(self, ctx: RunContext) -> None:
        self._src = ctx.net.src.tolist()
        self._kind = np.ascontiguousarray(ctx.net.kind, np.int64)
        self._code = np.ascontiguousarray(ctx.net.act, np.int64)

    def message_sent(self, t_send, t_arrive, edge, value, dropped):
        self._last = (t_send, self._src[edge])

    def neuron_ticked(self, t, neuron, s):
        if self._last == (t, neuron):
            self._t.append(t)
            self._n.append(neuron)
            self._s.append(float(s))
            self._last = None

    def __len__(self) -> int:
        return len(self._t)

    def table(self) -> dict[str, np.ndarray]:
        """Columns ``t, src, s, rate`` in the canonical order, by ``(t, src)``."""
        t = np.asarray(self._t, np.int64)
        n = np.asarray(self._n, np.int32)
        s = np.asarray(self._s, np.float64)
        order = np.lexsort((n, t))
        t, n, s = t[order], n[order], s[order]
        rate = _rates(self._kind, self._code, n, s) if len(t) else np.zeros(0)
        return dict(t=t, src=n, s=s, rate=rate)

"""An observer that records send events, on either runtime (what a trace stores)."""

from __future__ import annotations

import numpy as np

from ..kernels import act, jit
from ..observe import Observer, RunContext

__all__ = ["SEND_COLUMNS", "SendLog"]

SEND_COLUMNS = ("t", "src", "s", "rate")


@jit
def _rates(kind, code, src, s, sig):
    """The second output of each send: the rate f(x) of a value neuron (sent on predict
    edges), an error neuron's learning signal (``sig``; its error when it sends none)."""
    out = np.empty(s.shape[0])
    for i in range(s.shape[0]):
        n = src[i]
        out[i] = act(code[n], s[i]) if kind[n] == 0 else sig[i]
    return out


class SendLog(Observer):
    """Records every send event of a neuron that has out-edges: ``(t, src, s, rate)``, the
    rows of the engine's ``record_sends=True`` table (``asyncpc.engine.run``); ``rate`` is
    the send's second output (a value neuron's rate, an error neuron's learning signal).

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
        self._g: list[float] = []
        self._last = None
        self._sig = 0.0
        self._src = None
        self._kind = self._code = None

    def before_run(self, ctx: RunContext) -> None:
        self._src = ctx.net.src.tolist()
        self._kind = np.ascontiguousarray(ctx.net.kind, np.int64)
        self._code = np.ascontiguousarray(ctx.net.act, np.int64)
        self._learns = (ctx.net.edge_codes() == 2).tolist()  # edges that carry a learning signal
        self._signals = bool(ctx.net.signals)

    def message_sent(self, t_send, t_arrive, edge, value, dropped, signal):
        self._last = (t_send, self._src[edge])
        if self._learns[edge]:
            self._sig = float(signal)

    def neuron_ticked(self, t, neuron, s):
        if self._last == (t, neuron):
            self._t.append(t)
            self._n.append(neuron)
            self._s.append(float(s))
            # an error neuron's feedback edges carry its learning signal (its error when
            # it sends none apart)
            self._g.append(self._sig if self._kind[neuron] != 0 and self._signals else float(s))
            self._last = None

    def __len__(self) -> int:
        return len(self._t)

    def table(self) -> dict[str, np.ndarray]:
        """Columns ``t, src, s, rate`` in the canonical order, by ``(t, src)``."""
        t = np.asarray(self._t, np.int64)
        n = np.asarray(self._n, np.int32)
        s = np.asarray(self._s, np.float64)
        g = np.asarray(self._g, np.float64)
        order = np.lexsort((n, t))
        t, n, s, g = t[order], n[order], s[order], g[order]
        rate = _rates(self._kind, self._code, n, s, g) if len(t) else np.zeros(0)
        return dict(t=t, src=n, s=s, rate=rate)

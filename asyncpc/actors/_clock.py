"""Virtual time: a calendar of due steps and the tasks waiting for them.

The clock is physics, not a controller: it knows *when* something is due (a delivery,
an environment message, a tick an actor asked for, a probe), never *what* a neuron is.
Simulated time jumps from one due step to the next; it never waits on the wall clock
unless a ``realtime`` pace is set.

Protocol with the actor tasks. An actor is *active* from the moment it is woken (or
started) until it next asks to sleep (:meth:`Handle.until`) or returns. The driver wakes
every actor due at step ``t`` and then waits at a barrier until none is active, so the
step is complete before the next one starts; in between, the event loop runs the woken
tasks in any order, which the timing contract makes irrelevant.
"""

from __future__ import annotations

import asyncio
import heapq

from ..errors import AsyncPCError

__all__ = ["VirtualClock", "Handle"]


class VirtualClock:
    """Due steps (a heap of distinct steps), the futures waiting for them, the barrier."""

    def __init__(self, t0: int):
        self.now = t0 - 1          # the step being (or last) simulated; nothing before t0
        self._due: list[int] = []
        self._due_set: set[int] = set()
        self._waiters: dict[int, list] = {}
        self.active = 0
        self._barrier: asyncio.Future | None = None
        self.error: BaseException | None = None
        self.loop = asyncio.get_running_loop()

    # -- the calendar -------------------------------------------------------------
    def at(self, t: int) -> None:
        """Mark step ``t`` as due (idempotent)."""
        if t not in self._due_set:
            self._due_set.add(t)
            heapq.heappush(self._due, t)

    def pop_due(self) -> int | None:
        """The next due step (removed from the calendar), or None."""
        if not self._due:
            return None
        t = heapq.heappop(self._due)
        self._due_set.discard(t)
        return t

    # -- waking and the barrier ------------------------------------------------------
    def wait(self, t: int, handle: "Handle") -> asyncio.Future:
        fut = self.loop.create_future()
        lst = self._waiters.get(t)
        if lst is None:
            self._waiters[t] = [(fut, handle)]
            self.at(t)
        else:
            lst.append((fut, handle))
        return fut

    def idle(self) -> None:
        """An active actor went to sleep (or ended)."""
        self.active -= 1
        if self.active == 0 and self._barrier is not None and not self._barrier.done():
            self._barrier.set_result(None)

    def fail(self, exc: BaseException) -> None:
        """An actor raised: stop the run with its exception."""
        if self.error is None:
            self.error = exc
        if self._barrier is not None and not self._barrier.done():
            self._barrier.set_exception(exc)

    async def settle(self) -> None:
        """Wait until no actor is active."""
        if self.error is not None:
            raise self.error
        if self.active:
            self._barrier = self.loop.create_future()
            try:
                await self._barrier
            finally:
                self._barrier = None

    def wake(self, t: int) -> bool:
        """Wake every actor waiting for step ``t``; True if any was."""
        lst = self._waiters.pop(t, None)
        if not lst:
            return False
        self.active += len(lst)
        for fut, handle in lst:
            handle.active = True
            if not fut.cancelled():
                fut.set_result(t)
            else:  # the task was cancelled from outside; it will not come back
                handle.active = False
                self.active -= 1
        return True


class Handle:
    """One actor's view of the clock: the current step and :meth:`until`."""

    __slots__ = ("clock", "active", "name")

    def __init__(self, clock: VirtualClock, name):
        self.clock = clock
        self.active = True  # an actor is active from its start until it first sleeps
        self.name = name

    @property
    def t(self) -> int:
        """The current step (``t0 - 1`` before the first step of a run is simulated)."""
        return self.clock.now

    def until(self, t: int) -> asyncio.Future:
        """Sleep until step ``t`` (> the current step); the awaited result is ``t``.

        Deliveries of step ``t`` happen before the actor wakes; everything it sends
        while awake is sent at ``t``.
        """
        clock = self.clock
        if t <= clock.now:
            raise AsyncPCError(f"actor {self.name!r}: cannot sleep until step {t}; it is already "
                               f"step {clock.now} (virtual time only moves forward)")
        fut = clock.wait(t, self)
        if self.active:
            self.active = False
            clock.idle()
        return fut

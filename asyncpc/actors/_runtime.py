"""``arun`` / ``run``: one asyncio task per neuron and per environment actor, virtual time.

The driver below is the physics of the run, a clock: it jumps to the next step with
anything due, (1) delivers the edge messages and environment messages arriving then,
(2) wakes the actors whose sleep ends then and waits until they are all asleep again,
(3) lets the probe observe. It never reads or writes a neuron's state; the only writes
are deliveries into inboxes (edge inboxes and control inboxes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

import numpy as np

from .._seed import normalize_seed
from ..compile import KIND_ERROR, CompiledNet
from ..environment import Schedule
from ..errors import AsyncPCError, SpecError
from ..observe import InFlight, RunContext, subscribers
from ..kernels import param_rows
from ..kernels._options import refresh_cache
from ..kernels._params import ETA
from ..kernels._synapses import materialize, rebase
from ..state import NetState, RunResult
from ._clock import Handle, VirtualClock
from ._environment import Context, EnvChannel, ScheduleEnvironment
from ._neurons import Actor, Neuron, NeuronSpec, _Builtin, builtin_neuron
from ._wires import Wires

__all__ = ["arun", "run", "CarryState", "warmup"]


@dataclass
class CarryState(NetState):
    """A :class:`~asyncpc.state.NetState` plus the messages in flight at ``t``.

    This is what :func:`arun` returns as ``result.state``; passing it back as ``state=``
    continues the run exactly as one long run would have gone on.
    """

    in_flight: InFlight = field(default_factory=InFlight.empty)

    def copy(self) -> "CarryState":
        kw = {f.name: getattr(self, f.name) for f in fields(self)}
        return CarryState(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in kw.items()})


def _start_state(c: CompiledNet, state) -> tuple[NetState, InFlight]:
    """(a private copy of the state to simulate on, the messages in flight)."""
    if state is None:  # a fresh start: the environment sends every schedule event (as the engine does)
        state = NetState.initial(c)
    fl = None
    if isinstance(state, RunResult):
        if "in_flight" in state.extra:
            fl = InFlight.from_mapping(state.extra["in_flight"])
        state = state.state
    if not isinstance(state, NetState):
        raise SpecError(f"state: expected a NetState or a RunResult, got {type(state).__name__}")
    if fl is None:
        fl = getattr(state, "in_flight", None)
        if fl is not None:
            fl = InFlight.from_mapping(fl)
    pending = state.sent - state.delivered - state.dropped
    if fl is None:
        if pending:
            raise AsyncPCError(f"state: {pending} messages were in flight at step {state.t} but the "
                               "state does not carry them; pass the RunResult (or its .state) returned "
                               "by the run that produced it")
        empty = InFlight.empty()
        fl = InFlight(empty.t_send, empty.t_arrive, empty.edge, empty.value, empty.signal)  # env messages: unknown
    elif len(fl) != pending:
        raise AsyncPCError(f"state: carries {len(fl)} messages in flight, its counters say {pending}")
    base = {f.name: getattr(state, f.name) for f in fields(NetState)}
    st = NetState(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in base.items()})
    for name, n in (("s", c.n_neurons), ("w", c.n_edges), ("inbox", c.n_edges)):
        if np.shape(getattr(st, name)) != (n,):
            raise SpecError(f"state.{name}: shape {np.shape(getattr(st, name))} does not match the network ({n},)")
    return st.with_synapses(c), fl


def _bind_actors(c: CompiledNet, actors) -> tuple[list[Neuron], list[tuple[object, Actor]]]:
    """Neuron actors (built-in unless replaced) and extra actors (environments, sensors)."""
    neurons: list[Neuron | None] = [None] * c.n_neurons
    extra: list[tuple[object, Actor]] = []
    if actors is None:
        pass
    elif isinstance(actors, Mapping):
        for key, a in actors.items():
            if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
                if not 0 <= key < c.n_neurons:
                    raise SpecError(f"actors[{key}]: no such neuron (0..{c.n_neurons - 1})")
                if not isinstance(a, Neuron):
                    raise SpecError(f"actors[{key}]: a neuron slot needs a Neuron actor, "
                                    f"got {type(a).__name__}")
                neurons[int(key)] = a
            else:
                if not isinstance(a, Actor):
                    raise SpecError(f"actors[{key!r}]: expected an Actor, got {type(a).__name__}")
                extra.append((key, a))
    elif callable(actors):
        roles = c.edge_role()
        for i in range(c.n_neurons):
            a = actors(i, NeuronSpec.of(c, i, roles))
            if a is not None and not isinstance(a, Neuron):
                raise SpecError(f"actors factory: returned {type(a).__name__} for neuron {i}; "
                                "expected a Neuron or None")
            neurons[i] = a
    else:
        raise SpecError(f"actors: expected a mapping or a factory, got {type(actors).__name__}")
    seen: set[int] = set()
    for i, a in enumerate(neurons):
        if a is not None and id(a) in seen:
            raise SpecError(f"actors: the same Neuron object is given for two neurons (one is {i})")
        seen.add(id(a))
    return [a if a is not None else builtin_neuron(c, i) for i, a in enumerate(neurons)], extra


class _Probe:
    """Observes the read-out neurons' activity and every area's energy at probe steps."""

    def __init__(self, c: CompiledNet, schedule: Schedule, state: NetState, t0: int, stop: int):
        pt = np.asarray(schedule.probe_t, np.int64)
        self.steps = pt[(pt >= t0) & (pt < stop)]
        self.readout = np.asarray(schedule.readout, np.int64)
        self.err = [np.flatnonzero((c.area == a) & (c.kind == KIND_ERROR))
                    for a in range(len(c.area_names))]
        self.state = state
        self.x = np.zeros((len(self.steps), len(self.readout)))
        self.energy = np.zeros((len(self.steps), len(c.area_names)))
        self.k = 0

    def observe(self) -> None:
        s = self.state.s
        self.x[self.k] = s[self.readout]
        for a, ids in enumerate(self.err):
            acc = 0.0
            for v in s[ids].tolist():  # plain float accumulation, increasing neuron id
                acc += v * v
            self.energy[self.k, a] = 0.5 * acc
        self.k += 1


async def arun(c: CompiledNet, schedule: Schedule, *, seed=0, until: int | None = None, state=None,
               observers=(), realtime: float | None = None, actors=None) -> RunResult:
    """Simulate ``c`` with one asyncio task per neuron, driven by ``schedule``.

    Parameters
    ----------
    c : CompiledNet
    schedule : Schedule
        Environment messages (sent by an environment actor) and probe steps.
    seed : int
        Seeds the counter-based draws (loss, message jitter, clock jitter).
    until : int, optional
        First step not simulated (default ``schedule.end``).
    state : NetState or RunResult, optional
        Where to start (default ``NetState.initial(c)``). To continue a run, pass the
        returned ``result.state`` (a :class:`CarryState`) or the result itself.
    observers : sequence of Observer
        Subscribers to the run's hooks; they never change the dynamics.
    realtime : float, optional
        Wall-clock seconds per simulated ms (e.g. ``1.0``): the run is paced for live
        demos. Default: pure virtual time, as fast as possible.
    actors : mapping or callable, optional
        Custom actors. A mapping ``{neuron_id: Neuron}`` replaces built-in neurons;
        other keys add actors (e.g. ``{"sine": SineSensor(...)}``). A callable
        ``factory(neuron_id, NeuronSpec) -> Neuron | None`` chooses per neuron.

    Returns
    -------
    RunResult
        ``runtime="actors"``; ``state`` a :class:`CarryState`; ``extra["in_flight"]``
        the messages in flight at the end (columns ``t_send, t_arrive, edge, value``).

    Examples
    --------
    >>> import asyncio
    >>> from asyncpc.actors import arun
    >>> from asyncpc.compile import compile_network
    >>> from asyncpc.environment import Schedule
    >>> from asyncpc.model import layered
    >>> c = compile_network(layered([2, 3, 1]))
    >>> res = asyncio.run(arun(c, Schedule.empty(end=20)))
    >>> res.state.t, res.sent == res.delivered + res.dropped + len(res.extra["in_flight"]["edge"])
    (20, True)
    """
    seed = normalize_seed(seed)
    schedule.validate(c.n_neurons)
    _refresh_cache()
    st, carried = _start_state(c, state)
    t0 = int(st.t)
    stop = int(schedule.end if until is None else until)
    if stop < t0:
        raise SpecError(f"until: step {stop} is before the state's step {t0}")
    if realtime is not None and (isinstance(realtime, bool) or not isinstance(realtime, (int, float))
                                 or not realtime > 0):
        raise SpecError(f"realtime: must be a positive number of wall seconds per simulated ms, got {realtime!r}")
    observers = tuple(observers)
    neurons, extra = _bind_actors(c, actors)
    rctx = RunContext(net=c, schedule=schedule, seed=seed, t0=t0, until=stop, state=st, realtime=realtime)
    w = _World.start(rctx, carried, observers)
    for hook in subscribers(observers, "before_run"):
        hook(rctx)
    tasks_of = _actor_tasks(w, neurons, extra, subscribers(observers, "neuron_ticked"))
    await _run_tasks(w, tasks_of, realtime)
    res = _result(w, neurons)
    rctx.state, rctx.result = res.state, res
    for hook in subscribers(observers, "after_run"):
        hook(rctx)
    return res


@dataclass(eq=False)
class _World:
    """What the driver moves and the actors share, over the steps ``t0 .. stop - 1``: the
    state simulated on, the virtual clock, the wires (edge messages), the environment's
    channel, the probe and the per-neuron parameter rows the kernels read."""

    c: CompiledNet
    schedule: Schedule
    seed: int
    t0: int
    stop: int
    st: NetState
    clock: VirtualClock
    wires: Wires
    env: EnvChannel
    probe: _Probe
    prm: np.ndarray

    @classmethod
    def start(cls, rctx: RunContext, carried: InFlight, observers: tuple) -> "_World":
        """The world of the run ``rctx`` says, at its step ``t0``: the messages in flight
        (``carried``) restored and the probe steps booked on the clock."""
        c, schedule, seed, t0, st = rctx.net, rctx.schedule, rctx.seed, rctx.t0, rctx.state
        clock = VirtualClock(t0)
        prm = param_rows(c)
        wires = Wires(c, st.inbox, st.inbox_sig if c.signals else None, clock, seed,
                      sent_hooks=subscribers(observers, "message_sent"),
                      delivered_hooks=subscribers(observers, "message_delivered"))
        wires.sent, wires.delivered, wires.dropped = st.sent, st.delivered, st.dropped
        wires.applied, wires.rebased = st.applied, st.rebased
        wires.restore(carried, t0)
        env = EnvChannel(st, clock, c.n_neurons)
        if carried.env_known:
            env.restore(*(getattr(carried, k) for k in InFlight.ENV))
        else:
            env.restore_from_schedule(schedule, t0)
        probe = _Probe(c, schedule, st, t0, rctx.until)
        for t in probe.steps.tolist():
            clock.at(t)
        return cls(c, schedule, seed, t0, rctx.until, st, clock, wires, env, probe, prm)

    def context(self, name) -> Context:
        """A new actor's handle on the run (``name``: how its errors name it)."""
        return Context(Handle(self.clock, name), self.env, self.c, self.seed, self.t0, self.stop,
                       int(self.schedule.env_delay), self.prm)


def _actor_tasks(w: _World, neurons: list[Neuron], extra: list, ticked: list) -> list[tuple[Context, Actor]]:
    """``(context, actor)`` of every task to start, in this order: the neurons by id
    (each bound to the run), the schedule's environment, then the extra actors."""
    roles = w.c.edge_role()
    tasks_of = []
    for i, nrn in enumerate(neurons):
        ctx = w.context(f"neuron {i}")
        nrn.bind(i, NeuronSpec.of(w.c, i, roles), w.st, ctx, w.wires, w.seed, ticked)
        tasks_of.append((ctx, nrn))
    tasks_of.append((w.context("schedule"), ScheduleEnvironment(w.schedule)))
    for key, a in extra:
        tasks_of.append((w.context(key), a))
    return tasks_of


async def _guard(clock: VirtualClock, ctx: Context, actor: Actor) -> None:
    """One actor's task: its exception is handed to the clock (the driver re-raises it),
    and an actor that ends while active leaves the clock's count of active actors."""
    handle = ctx._handle
    try:
        await actor.run(ctx)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # noqa: BLE001 - handed to the driver, re-raised there
        clock.fail(exc)
    finally:
        if handle.active:
            handle.active = False
            clock.idle()


async def _run_tasks(w: _World, tasks_of: list[tuple[Context, Actor]], realtime: float | None) -> None:
    """Start one task per actor, drive the clock to ``w.stop``, then cancel the tasks
    (also on an error); an actor's exception is raised here."""
    clock = w.clock
    clock.active = len(tasks_of)
    tasks = [asyncio.ensure_future(_guard(clock, ctx, a)) for ctx, a in tasks_of]
    try:
        await _drive(w, realtime)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if clock.error is not None:
        raise clock.error


async def _drive(w: _World, realtime: float | None) -> None:
    """The clock (module docstring): once every actor has started and gone to sleep, jump
    to each next step with anything due before ``w.stop``; deliver, wake, probe."""
    clock, probe_steps = w.clock, set(w.probe.steps.tolist())
    await clock.settle()  # every actor has started and gone to sleep
    wall0 = time.perf_counter()
    while True:
        t = clock.pop_due()
        if t is None or t >= w.stop:
            break
        if realtime is not None:
            lag = wall0 + (t - w.t0) * w.c.h * realtime - time.perf_counter()
            if lag > 0:
                await asyncio.sleep(lag)
        clock.now = t
        w.wires.deliver(t)
        w.env.deliver(t)
        if clock.wake(t):
            await clock.settle()
        if t in probe_steps:
            w.probe.observe()


def _result(w: _World, neurons: list[Neuron]) -> RunResult:
    """The run's result at ``w.stop``: the synapses settled into the state, which carries
    the counters and the messages still in flight (a :class:`CarryState`)."""
    st, wires = w.st, w.wires
    w.clock.now = w.stop - 1
    _settle_synapses(w.c, st, w.prm, [not isinstance(n, _Builtin) for n in neurons])
    fl = InFlight(*wires.in_flight(), **w.env.in_flight())
    base = {f.name: getattr(st, f.name) for f in fields(NetState)}
    base.update(t=w.stop, sent=wires.sent, delivered=wires.delivered, dropped=wires.dropped,
                applied=wires.applied, rebased=wires.rebased)
    out = CarryState(**base, in_flight=fl)
    return RunResult(probe_t=w.probe.steps.copy(), probe_x=w.probe.x, probe_energy=w.probe.energy, state=out,
                     runtime="actors", threads=1, extra={"in_flight": fl.as_dict()})


def run(c: CompiledNet, schedule: Schedule, **kwargs) -> RunResult:
    """Synchronous wrapper of :func:`arun` (``asyncio.run``); same arguments.

    Examples
    --------
    >>> from asyncpc.actors import run
    >>> from asyncpc.compile import compile_network
    >>> from asyncpc.environment import Schedule
    >>> from asyncpc.model import layered
    >>> res = run(compile_network(layered([2, 1])), Schedule.empty(end=5), seed=1)
    >>> res.runtime, res.state.t
    ('actors', 5)
    """
    return asyncio.run(arun(c, schedule, **kwargs))


def _settle_synapses(c: CompiledNet, st: NetState, prm: np.ndarray, custom: list) -> None:
    """At the end of a run: write the built-in neurons' weights into ``st.w`` (from their
    event-driven synapse state); a custom neuron's rows hold its weights in ``w``, so
    its event-driven state is reset from them (rebased at their inboxes)."""
    eta = prm[:, ETA]
    sig = st.held_sig if len(st.held_sig) else st.held
    for i in range(c.n_neurons):
        lo, hi = int(c.in_ptr[i] + c.has_partner[i]), int(c.in_ptr[i + 1])
        if hi <= lo:
            continue
        if custom[i]:
            st.syn_c[lo:hi] = st.w[lo:hi]
            st.held[lo:hi] = st.inbox[lo:hi]
            if len(st.held_sig):
                st.held_sig[lo:hi] = st.inbox_sig[lo:hi]
            st.lz_p[i], st.lz_t[i], st.lz_n[i] = 1.0, 0.0, 0
            st.lz_a[i], st.lz_q[i] = rebase(lo, hi, st.syn_c, st.held, sig, 1.0, 0.0, eta[i])
        else:
            materialize(lo, hi, st.syn_c, sig, st.lz_p[i], st.lz_t[i], eta[i], st.w)


def warmup() -> float:
    """Compile (or load from the on-disk cache) every kernel the actor runtime calls, with
    the argument types it uses; returns the seconds it took. Runs are correct without it;
    it only moves the JIT cost out of the first run.
    """
    from ..compile import compile_network
    from ..environment import Schedule
    from ..model import Dynamics, layered

    t = time.perf_counter()
    for dyn in (Dynamics(), Dynamics(gate=0.1, gate_tau=1.0)):
        c = compile_network(layered([2, 2], seed=0, dynamics=dyn), h=0.1)
        run(c, Schedule.empty(end=3))
    return time.perf_counter() - t


def _refresh_cache() -> None:
    """The actor runtime's jitted code inlines kernels from other files: drop its cache if they changed."""
    from .. import kernels
    from ..kernels import _activations, _options, _params, _synapses, _tick
    from . import _neurons, _wires

    refresh_cache("actors", [kernels._rng, _options, _activations, _params, _synapses, _tick, _wires, _neurons],
                  [_wires, _neurons])

"""The ``asyncpc`` command line. Every user error exits 2 with one line, no traceback."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import AsyncPCError
from ._args import _parser

__all__ = ["main"]


def _scenario_path(given: str) -> str:
    """A scenario file, or the name of a shipped scenario (``asyncpc run xor``)."""
    import os

    if os.path.exists(given):
        return given
    from ._scenarios import find_shipped

    shipped = find_shipped(given) if os.sep not in given and "/" not in given else None
    if shipped is not None:
        return str(shipped)
    from ..errors import ScenarioError

    stem = os.path.splitext(os.path.basename(given))[0]
    hint = ""
    if find_shipped(stem) is not None:
        hint = (f"; `asyncpc run {stem}` runs the shipped one, `asyncpc scenarios copy {stem} "
                f"{os.path.dirname(given) or '.'}` writes a copy there")
    raise ScenarioError(f"scenario file not found{hint}", file=given)


def _load(args):
    """The scenario with its overrides. Precedence, lowest to highest: the defaults, the
    file, ``--set`` (in the order given), then the flags ``--seed``, ``--runtime`` and
    ``--threads`` (docs/scenarios.md, "Overrides")."""
    from ..scenario import load_scenario

    sets = list(args.set)
    if getattr(args, "seed", None) is not None:
        sets.append(f"run.seed={args.seed}")
    if getattr(args, "runtime", None) is not None:
        sets.append(f'run.runtime="{args.runtime}"')
    if getattr(args, "threads", None) is not None:
        sets.append(f"run.threads={args.threads}")
    return load_scenario(_scenario_path(args.scenario), sets)


def _cmd_run(args, argv) -> int:
    from ._run import execute
    from ._sinks import make_sinks

    scn = _load(args)
    ranks = _ranks()
    sinks = make_sinks(args.log, name=Path(args.out or scn.output.dir).name, config=scn.resolved()) \
        if ranks is None or ranks.root else ()
    execute(scn, out=args.out, runtime=args.runtime, threads=args.threads, quiet=args.quiet,
            argv=["asyncpc", *argv], max_disk=args.max_disk, max_memory=args.max_memory,
            progress=args.progress, overwrite=args.overwrite, sinks=sinks, ranks=ranks)
    return 0


def _ranks():
    """The MPI ranks when started by ``mpiexec -n K`` with K > 1 (None otherwise)."""
    from .._mpi import world

    return world()


def _cmd_resume(args, argv) -> int:
    from ._run import resume
    from ._sinks import make_sinks

    if args.threads is not None and args.threads < 0:
        raise AsyncPCError(f"--threads: must be >= 0, got {args.threads}")
    ranks = _ranks()
    resume(args.run_dir, runtime=args.runtime, threads=args.threads or None, quiet=args.quiet,
           argv=["asyncpc", *argv], max_disk=args.max_disk, max_memory=args.max_memory, progress=args.progress,
           sinks=make_sinks(args.log, name=f"{Path(args.run_dir).name} (resumed)") if ranks is None or ranks.root
           else (), ranks=ranks)
    return 0


def _cmd_validate(args) -> int:
    from ._output import print_table
    from ._resources import precheck

    scn = _load(args)
    est = precheck(scn, scn.output.dir, max_disk=args.max_disk, max_memory=args.max_memory)  # before building
    from ._resources import fmt_bytes

    c = scn.compile()
    data = scn.load_data()
    sched = scn.schedule(c, data)
    row = dict(scenario=args.scenario, ok=True, neurons=int(c.n_neurons), edges=int(c.n_edges),
               presentations=len(sched.probe_t), simulated_ms=float(sched.end * c.h),
               memory_bytes=int(est.memory_bytes), disk_bytes=int(est.disk))
    if args.format == "table":
        print(f"{args.scenario}: ok — {c.n_neurons} neurons, {c.n_edges} edges, "
              f"{len(sched.probe_t)} presentations, {sched.end * c.h:g} ms simulated; the run needs "
              f"~{fmt_bytes(est.memory_bytes)} of memory and writes ~{fmt_bytes(est.disk)}")
    else:
        print_table(list(row), [list(row.values())], fmt=args.format)
    return 0


def _cmd_graph(args) -> int:
    from pathlib import Path

    from ..model import export_graph
    from ._resources import check_resources, estimate_graph_export, limits_from_env

    scn = _load(args)
    d, m = limits_from_env(args.max_disk, args.max_memory)
    check_resources(estimate_graph_export(scn), Path(args.export).absolute().parent, max_disk=d, max_memory=m)
    scn.footprint().check_limits(scn)
    net = scn.build_network()
    export_graph(net, args.export)
    print(f"wrote {args.export}: {net.graph.number_of_nodes()} neurons, {net.graph.number_of_edges()} edges")
    return 0


def _cmd_describe(args) -> int:
    from ..model import NEURON_KINDS
    from ._output import console, print_table

    if args.format != "table":
        rows = []
        for kind in NEURON_KINDS.values():
            rows += [(kind.name, "state", n, u, "", m) for n, u, m in kind.state]
            rows += [(kind.name, "parameter", n, u, d, m) for n, u, d, m in kind.parameters]
            rows += [(kind.name, "receives", r, "", syn, v) for r, v, syn in kind.receives]
            rows += [(kind.name, "sends", r, "", "", v) for r, v in kind.sends]
        print_table(["kind", "section", "name", "unit", "default_or_synapse", "meaning"], rows, fmt=args.format)
        return 0
    from rich.table import Table

    con = console()
    for kind in NEURON_KINDS.values():
        con.print(f"[bold]{kind.name} neuron[/bold] — {kind.summary}")
        con.print(f"  {kind.equation}")
        t = Table("state", "unit", "meaning", box=None, padding=(0, 2))
        for row in kind.state:
            t.add_row(*row)
        con.print(t)
        t = Table("parameter (graph attribute)", "unit", "default", "meaning", box=None, padding=(0, 2))
        for name, unit, default, meaning in kind.parameters:
            t.add_row(name, unit, str(default), meaning)
        con.print(t)
        t = Table("receives on", "value", "synapse", box=None, padding=(0, 2))
        for row in kind.receives:
            t.add_row(*row)
        con.print(t)
        t = Table("sends on", "value", box=None, padding=(0, 2))
        for row in kind.sends:
            t.add_row(*row)
        con.print(t)
        con.print()
    return 0


def _cmd_scenarios(args) -> int:
    from ._output import print_table
    from ._scenarios import copy_scenarios, list_scenarios, scenario_dir

    if args.scenarios_command == "list":
        print_table(["name", "description"], list_scenarios(), title=f"shipped scenarios ({scenario_dir()})",
                    fmt=args.format)
        return 0
    for p in copy_scenarios(args.name, args.dir, overwrite=args.overwrite):
        print(f"wrote {p}")
    return 0


def _cmd_trace(args) -> int:
    from pathlib import Path

    from .. import trace
    from ._output import print_table

    tr = trace.load(args.run)
    if args.trace_command == "info":
        d = trace.info(tr)
        if args.format == "json":
            import json

            print(json.dumps(d, indent=1, default=str))
        else:
            rows = [(k, f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) and args.format == "table"
                     else (json_text(v) if args.format == "csv" else str(v))) for k, v in d.items()]
            print_table(["field", "value"], rows, title=f"trace of {args.run}", fmt=args.format)
    elif args.trace_command == "show":
        rows = trace.show(tr, neuron=args.neuron, role=args.role,
                          t_from=trace.parse_time(args.t_from, tr.h, "--from"),
                          t_to=trace.parse_time(args.t_to, tr.h, "--to"), limit=args.limit)
        header = ["sent (ms)", "arrives (ms)", "from", "to", "role", "value", "dropped"]
        if args.format == "table":
            cells = [(f"{r['t_send_ms']:.2f}", f"{r['t_arrive_ms']:.2f}", r["src"], r["dst"], r["role"],
                      f"{r['value']:+.5f}", "yes" if r["dropped"] else "") for r in rows]
            print_table(header, cells, empty="no messages match")
        else:
            keys = ["t_send_ms", "t_arrive_ms", "src", "dst", "role", "value", "dropped"]
            print_table(keys, [[r[k] for k in keys] for r in rows], fmt=args.format)
    elif args.trace_command == "export":
        n = trace.to_perfetto(tr, args.perfetto, t_from=trace.parse_time(args.t_from, tr.h, "--from"),
                              t_to=trace.parse_time(args.t_to, tr.h, "--to"))
        kind = "trace events" if str(args.perfetto).lower().endswith(".json") else "packets"
        print(f"wrote {args.perfetto}: {n:,} {kind} (open it at ui.perfetto.dev)")
    else:
        out = args.out or str(Path(args.run) / "plots" / f"trace-{args.neuron.replace(':', '_')}.png")
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        print(f"wrote {trace.plot_neuron(tr, args.neuron, out)}")
    return 0


def _cmd_completion(args) -> int:
    """``eval "$(asyncpc completion bash)"`` (or write it to a file the shell reads)."""
    try:
        import shtab
    except ImportError:
        raise AsyncPCError("completion: needs the shtab package; pip install 'asyncpc[completion]' "
                           "(or pip install shtab)") from None
    print(shtab.complete(_parser(), shell=args.shell))
    return 0


def json_text(v) -> str:
    """A cell of a CSV: lists and mappings as JSON, the rest as text."""
    import json

    return json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (docs/robustness.md, "Exit status")."""
    from ..errors import DivergenceError
    from ._output import configure_logging
    from ._signals import EXIT_BAD_INPUT, EXIT_DIVERGED, exit_code

    from .._mpi import launched_rank, launched_ranks

    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    import numpy as np

    # started by mpiexec: rank 0 speaks for all; the others run the same job silently
    mute = launched_ranks() > 1 and launched_rank() > 0 and args.command in ("run", "resume", "sweep")
    if mute:
        from ..engine._warmup import Notice

        args.quiet = True
        Notice._printed = True  # the compile notice too: rank 0 says it
    say = (lambda msg: None) if mute else (lambda msg: print(msg, file=sys.stderr))
    undo = configure_logging(quiet=getattr(args, "quiet", False))
    try:
        # a run that blows up overflows everywhere: it is reported once, as a divergence or a
        # user error on one line, not as a stream of numpy floating-point warnings
        with np.errstate(all="ignore"):
            return _dispatch(args, argv)
    except DivergenceError as exc:
        say(f"asyncpc: error: {exc}")
        return EXIT_DIVERGED
    except AsyncPCError as exc:
        from .._mpi import RankError

        _tell_ranks(exc)
        if not mute or (isinstance(exc, RankError) and not exc.quiet):  # a rank that timed out says so itself
            print(f"asyncpc: error: {exc}", file=sys.stderr)
        return _leave(exc, EXIT_BAD_INPUT)
    except (KeyboardInterrupt, SystemError) as exc:  # SystemError: a signal raised inside Numba (interrupt_in)
        from ._signals import interrupt_in, signal_name

        _tell_ranks(exc)
        ki = interrupt_in(exc)
        if ki is None:
            raise
        say(f"asyncpc: interrupted ({signal_name(ki)}); everything written so far is kept")
        return exit_code(ki)
    except BrokenPipeError:  # `asyncpc trace show RUN | head`: the reader has what it wanted
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug: the other ranks must not wait for this one
        _tell_ranks(exc)
        raise
    finally:
        undo()


def _leave(exc: BaseException, code: int) -> int:
    """A rank that gave up waiting on the others (:class:`~asyncpc._mpi.RankError`) exits
    here, with ``code``, without finalising MPI: the collective it left cannot be withdrawn,
    and MPI would wait for it or complain (everything the run writes is written by now).
    Otherwise ``code`` is returned (errors and stops that every rank meets together
    finalise as usual)."""
    from .._mpi import _WORLD as ranks
    from .._mpi import RankError

    if ranks is None or not isinstance(exc, RankError):
        return code
    import os

    ranks.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _tell_ranks(exc: BaseException) -> None:
    """Under mpiexec: tell the other ranks that this one stops (they stop at their next
    exchange instead of waiting for it), unless the news came from one of them."""
    from .._mpi import _WORLD as ranks

    if ranks is not None and not getattr(exc, "quiet", False):
        who = f"rank {ranks.rank}"
        ranks.fail(str(exc) if str(exc).startswith(f"{who}:") else f"{who}: {exc}" if isinstance(exc, AsyncPCError)
                   else f"{who} stopped ({type(exc).__name__}: {exc})")


def _dispatch(args, argv) -> int:
    if args.command == "run":
        return _cmd_run(args, argv)
    if args.command == "resume":
        return _cmd_resume(args, argv)
    if args.command == "validate":
        return _cmd_validate(args)
    if args.command == "graph":
        return _cmd_graph(args)
    if args.command == "scenarios":
        return _cmd_scenarios(args)
    if args.command == "sweep":
        from ._sweep import parse_grid, parse_zip, sweep

        if args.seeds < 1:
            raise AsyncPCError(f"--seeds: must be >= 1, got {args.seeds}")
        res = sweep(_scenario_path(args.scenario), parse_grid(args.grid), seeds=args.seeds, jobs=args.jobs,
                    out=args.out, extra_sets=args.set, quiet=args.quiet, max_disk=args.max_disk,
                    max_memory=args.max_memory, ranks=_ranks(), linked=parse_zip(args.zip))
        if res is not None:  # rank 0 (or one process) wrote it
            print(f"wrote {res}")
        return 0
    if args.command == "trace":
        return _cmd_trace(args)
    if args.command == "completion":
        return _cmd_completion(args)
    return _cmd_describe(args)


if __name__ == "__main__":
    sys.exit(main())

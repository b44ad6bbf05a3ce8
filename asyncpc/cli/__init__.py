"""The ``asyncpc`` command line. Every user error exits 2 with one line, no traceback."""

from __future__ import annotations

import argparse
import sys

from ..errors import AsyncPCError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="asyncpc", description="Predictive-coding networks as autonomous "
                                "neurons exchanging delayed messages.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="run a scenario file and write a run directory")
    r.add_argument("scenario")
    r.add_argument("--out", help="run directory (default: output.dir of the scenario)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any scenario key, e.g. --set data.epochs=1 (repeatable)")
    r.add_argument("--runtime", choices=["engine", "actors"])
    r.add_argument("--threads", type=int, help="engine threads (0 = every core)")
    r.add_argument("--seed", type=int)
    r.add_argument("--quiet", action="store_true", help="no progress bar, no table")

    v = sub.add_parser("validate", help="check a scenario without running it")
    v.add_argument("scenario")
    v.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")

    g = sub.add_parser("graph", help="build a scenario's network and export it")
    g.add_argument("scenario")
    g.add_argument("--export", required=True, metavar="FILE.graphml")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")

    sub.add_parser("describe", help="neuron kinds: state variables, parameters, messages")
    return p


def _load(args):
    from ..scenario import load_scenario

    sets = list(args.set)
    if getattr(args, "seed", None) is not None:
        sets.append(f"run.seed={args.seed}")
    if getattr(args, "runtime", None) is not None:
        sets.append(f'run.runtime="{args.runtime}"')
    if getattr(args, "threads", None) is not None:
        sets.append(f"run.threads={args.threads}")
    return load_scenario(args.scenario, sets)


def _cmd_run(args, argv) -> int:
    from ._run import execute

    scn = _load(args)
    execute(scn, out=args.out, runtime=args.runtime, threads=args.threads, quiet=args.quiet,
            argv=["asyncpc", *argv])
    return 0


def _cmd_validate(args) -> int:
    from ..compile import compile_network

    scn = _load(args)
    net = scn.build_network()
    c = compile_network(net, scn.run.h)
    data = scn.load_data()
    sched = scn.schedule(c, data)
    print(f"{args.scenario}: ok — {c.n_neurons} neurons, {c.n_edges} edges, "
          f"{len(sched.probe_t)} presentations, {sched.end * c.h:g} ms simulated")
    return 0


def _cmd_graph(args) -> int:
    from ..model import to_graphml

    scn = _load(args)
    net = scn.build_network()
    to_graphml(net, args.export)
    print(f"wrote {args.export}: {net.graph.number_of_nodes()} neurons, {net.graph.number_of_edges()} edges")
    return 0


def _cmd_describe(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..model import NEURON_KINDS

    con = Console()
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


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _cmd_run(args, argv)
        if args.command == "validate":
            return _cmd_validate(args)
        if args.command == "graph":
            return _cmd_graph(args)
        return _cmd_describe(args)
    except AsyncPCError as exc:
        print(f"asyncpc: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("asyncpc: interrupted; everything written so far is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

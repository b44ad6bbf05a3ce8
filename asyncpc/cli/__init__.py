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
    _limits(r)

    rs = sub.add_parser("resume", help="continue a killed or interrupted run from its last checkpoint")
    rs.add_argument("run_dir", metavar="RUN_DIR")
    rs.add_argument("--threads", type=int, help="engine threads (0 = every core; results do not depend on it)")
    rs.add_argument("--runtime", choices=["engine", "actors"],
                    help="continue on this runtime (default: the run's; the result is the same)")
    rs.add_argument("--quiet", action="store_true", help="no progress bar, no table")
    _limits(rs)

    v = sub.add_parser("validate", help="check a scenario without running it")
    v.add_argument("scenario")
    v.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    _limits(v)

    g = sub.add_parser("graph", help="build a scenario's network and export it")
    g.add_argument("scenario")
    g.add_argument("--export", required=True, metavar="FILE.graphml")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    _limits(g)

    sub.add_parser("describe", help="neuron kinds: state variables, parameters, messages")

    w = sub.add_parser("sweep", help="run a grid of overrides x seeds in parallel (resumable)")
    w.add_argument("scenario")
    w.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...", required=True)
    w.add_argument("--seeds", type=int, default=1)
    w.add_argument("--jobs", type=int, default=0, help="parallel processes (0 = every core)")
    w.add_argument("--out", required=True)
    w.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    w.add_argument("--quiet", action="store_true")
    _limits(w)

    t = sub.add_parser("trace", help="inspect a run's message-level trace")
    tsub = t.add_subparsers(dest="trace_command", required=True, metavar="ACTION")
    ti = tsub.add_parser("info", help="rows by role and area, time span, size on disk")
    ti.add_argument("run")
    ts = tsub.add_parser("show", help="a readable table of messages")
    ts.add_argument("run")
    ts.add_argument("--neuron", help="area:index (value neuron) or area:index:error")
    ts.add_argument("--role", choices=["predict", "feedback", "partner"])
    ts.add_argument("--from", dest="t_from", help="e.g. 10ms")
    ts.add_argument("--to", dest="t_to", help="e.g. 12ms")
    ts.add_argument("--limit", type=int, default=50)
    te = tsub.add_parser("export", help="export for the Perfetto UI (Chrome trace-event JSON)")
    te.add_argument("run")
    te.add_argument("--perfetto", required=True, metavar="OUT.json")
    te.add_argument("--from", dest="t_from", help="only messages sent from then, e.g. 10ms")
    te.add_argument("--to", dest="t_to", help="only messages sent before then, e.g. 12ms")
    tp = tsub.add_parser("plot", help="activity, prediction, error and message latency of a neuron")
    tp.add_argument("run")
    tp.add_argument("--neuron", required=True)
    tp.add_argument("--out", help="PNG path (default RUN/plots/trace-<neuron>.png)")
    return p


def _limits(p) -> None:
    p.add_argument("--max-disk", metavar="SIZE", help="refuse a run that would write more, e.g. 20GB "
                   "(default: the free space; env ASYNCPC_MAX_DISK)")
    p.add_argument("--max-memory", metavar="SIZE", help="refuse a run that would need more memory, e.g. 8GB "
                   "(default: the available memory; env ASYNCPC_MAX_MEMORY)")


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
            argv=["asyncpc", *argv], max_disk=args.max_disk, max_memory=args.max_memory)
    return 0


def _cmd_resume(args, argv) -> int:
    from ._run import resume

    if args.threads is not None and args.threads < 0:
        raise AsyncPCError(f"--threads: must be >= 0, got {args.threads}")
    resume(args.run_dir, runtime=args.runtime, threads=args.threads, quiet=args.quiet,
           argv=["asyncpc", *argv], max_disk=args.max_disk, max_memory=args.max_memory)
    return 0


def _cmd_validate(args) -> int:
    from ._resources import precheck

    scn = _load(args)
    est = precheck(scn, scn.output.dir, max_disk=args.max_disk, max_memory=args.max_memory)  # before building
    from ..compile import compile_network
    from ._resources import fmt_bytes

    net = scn.build_network()
    c = compile_network(net, scn.run.h)
    data = scn.load_data()
    sched = scn.schedule(c, data)
    print(f"{args.scenario}: ok — {c.n_neurons} neurons, {c.n_edges} edges, "
          f"{len(sched.probe_t)} presentations, {sched.end * c.h:g} ms simulated; the run needs "
          f"~{fmt_bytes(est.memory_bytes)} of memory and writes ~{fmt_bytes(est.disk)}")
    return 0


def _cmd_graph(args) -> int:
    from pathlib import Path

    from ..model import to_graphml
    from ._resources import check_resources, estimate_graph_export, limits_from_env

    scn = _load(args)
    d, m = limits_from_env(args.max_disk, args.max_memory)
    check_resources(estimate_graph_export(scn), Path(args.export).absolute().parent, max_disk=d, max_memory=m)
    scn.footprint().check_limits(scn)
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


def _cmd_trace(args) -> int:
    from pathlib import Path

    from .. import trace

    tr = trace.load(args.run)
    if args.trace_command == "info":
        from rich.console import Console
        from rich.table import Table

        d = trace.info(tr)
        tab = Table("field", "value", title=f"trace of {args.run}")
        for k, v in d.items():
            tab.add_row(k, f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v))
        Console().print(tab)
    elif args.trace_command == "show":
        from rich.console import Console
        from rich.table import Table

        rows = trace.show(tr, neuron=args.neuron, role=args.role,
                          t_from=trace.parse_time(args.t_from, tr.h, "--from"),
                          t_to=trace.parse_time(args.t_to, tr.h, "--to"), limit=args.limit)
        tab = Table("sent (ms)", "arrives (ms)", "from", "to", "role", "value", "dropped")
        for r in rows:
            tab.add_row(f"{r['t_send_ms']:.2f}", f"{r['t_arrive_ms']:.2f}", r["src"], r["dst"], r["role"],
                        f"{r['value']:+.5f}", "yes" if r["dropped"] else "")
        Console().print(tab)
        if not rows:
            print("no messages match")
    elif args.trace_command == "export":
        n = trace.to_perfetto(tr, args.perfetto, t_from=trace.parse_time(args.t_from, tr.h, "--from"),
                              t_to=trace.parse_time(args.t_to, tr.h, "--to"))
        print(f"wrote {args.perfetto}: {n:,} trace events (open it at ui.perfetto.dev)")
    else:
        out = args.out or str(Path(args.run) / "plots" / f"trace-{args.neuron.replace(':', '_')}.png")
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        print(f"wrote {trace.plot_neuron(tr, args.neuron, out)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    import numpy as np

    try:
        # a run that blows up overflows everywhere: it is reported once, as a divergence or a
        # user error on one line, not as a stream of numpy floating-point warnings
        with np.errstate(all="ignore"):
            return _dispatch(args, argv)
    except AsyncPCError as exc:
        print(f"asyncpc: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("asyncpc: interrupted; everything written so far is kept", file=sys.stderr)
        return 130


def _dispatch(args, argv) -> int:
    if args.command == "run":
        return _cmd_run(args, argv)
    if args.command == "resume":
        return _cmd_resume(args, argv)
    if args.command == "validate":
        return _cmd_validate(args)
    if args.command == "graph":
        return _cmd_graph(args)
    if args.command == "sweep":
        from ._sweep import parse_grid, sweep

        if args.seeds < 1:
            raise AsyncPCError(f"--seeds: must be >= 1, got {args.seeds}")
        res = sweep(args.scenario, parse_grid(args.grid), seeds=args.seeds, jobs=args.jobs,
                    out=args.out, extra_sets=args.set, quiet=args.quiet, max_disk=args.max_disk,
                    max_memory=args.max_memory)
        print(f"wrote {res}")
        return 0
    if args.command == "trace":
        return _cmd_trace(args)
    return _cmd_describe(args)


if __name__ == "__main__":
    sys.exit(main())

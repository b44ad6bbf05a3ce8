"""The command line's arguments: one function per command adds that command's arguments."""

from __future__ import annotations

import argparse

from .. import __version__


def _parser() -> argparse.ArgumentParser:
    """The whole command line: one subparser per command, in the order ``--help`` lists them."""
    p = argparse.ArgumentParser(prog="asyncpc", description="Predictive-coding networks as autonomous "
                                "neurons exchanging delayed messages.",
                                epilog="exit status: 0 done; 2 bad input or a refused run; 3 the run diverged; "
                                "128+N stopped by signal N with a checkpoint (130 Ctrl-C, 143 SIGTERM, "
                                "138 SIGUSR1); 1 an unexpected error (a bug: please report it)")
    p.add_argument("--version", action="version", version=f"asyncpc {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(sub)
    _add_resume(sub)
    _add_validate(sub)
    _add_graph(sub)
    _add_describe(sub)
    _add_scenarios(sub)
    _add_sweep(sub)
    _add_trace(sub)
    co = sub.add_parser("completion", help="print a shell completion script (needs the shtab package: "
                        "pip install 'asyncpc[completion]')")
    co.add_argument("shell", choices=["bash", "zsh", "tcsh"])
    return p


def _format_option(q, what="table") -> None:
    """``--format``: how a command prints its ``what``."""
    from ._output import FORMATS

    q.add_argument("--format", choices=FORMATS, default="table",
                   help=f"print the {what} as a table (default), CSV or JSON")


def _progress_options(q) -> None:
    """``--progress``, ``--quiet`` and ``--log``: what a run reports while it runs."""
    from ._progress import MODES

    q.add_argument("--progress", choices=MODES, default="auto",
                   help="auto (default): a bar on a terminal, else plain lines (one per epoch and at most "
                   "one every 30 s) on stderr; none: nothing")
    q.add_argument("--quiet", action="store_true", help="no progress, no table (warnings and errors only)")
    q.add_argument("--log", action="append", default=[], metavar="KIND:TARGET",
                   help="also send each epoch's figures to a tracker: tensorboard:DIR (needs "
                   "pip install 'asyncpc[tensorboard]') or wandb:PROJECT (needs pip install 'asyncpc[wandb]')")


def _add_run(sub) -> None:
    """``asyncpc run SCENARIO``."""
    r = sub.add_parser("run", help="run a scenario file and write a run directory")
    r.add_argument("scenario", help="a scenario file, or the name of a shipped one (asyncpc scenarios list)")
    r.add_argument("--out", help="run directory (default: output.dir of the scenario)")
    r.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any scenario key, e.g. --set data.epochs=1 (repeatable)")
    r.add_argument("--runtime", choices=["engine", "actors"], help="overrides run.runtime (and --set)")
    r.add_argument("--threads", type=int, help="engine threads, overrides run.threads (and --set); 0: one per "
                   "5,000 edges, at most the CPUs this process may use")
    r.add_argument("--seed", type=int, help="overrides run.seed (and --set run.seed)")
    _progress_options(r)
    _limits(r)


def _add_resume(sub) -> None:
    """``asyncpc resume RUN_DIR``."""
    rs = sub.add_parser("resume", help="continue a killed or interrupted run from its last checkpoint")
    rs.add_argument("run_dir", metavar="RUN_DIR")
    rs.add_argument("--threads", type=int, help="engine threads (0: the default; results do not depend on it)")
    rs.add_argument("--runtime", choices=["engine", "actors"],
                    help="continue on this runtime (default: the run's; the result is the same)")
    _progress_options(rs)
    _limits(rs)


def _add_validate(sub) -> None:
    """``asyncpc validate SCENARIO``."""
    v = sub.add_parser("validate", help="check a scenario without running it")
    v.add_argument("scenario")
    v.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    _format_option(v, "result")
    _limits(v)


def _add_graph(sub) -> None:
    """``asyncpc graph SCENARIO --export FILE``."""
    g = sub.add_parser("graph", help="build a scenario's network and export it")
    g.add_argument("scenario")
    g.add_argument("--export", required=True, metavar="FILE",
                   help="the format follows the extension: .graphml, .gexf, or .json (networkx node-link)")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    _limits(g)


def _add_describe(sub) -> None:
    """``asyncpc describe``."""
    d = sub.add_parser("describe", help="neuron kinds: state variables, parameters, messages")
    _format_option(d, "tables")


def _add_scenarios(sub) -> None:
    """``asyncpc scenarios list`` and ``asyncpc scenarios copy NAME DIR``."""
    sc = sub.add_parser("scenarios", help="the scenario files shipped with asyncpc")
    ssub = sc.add_subparsers(dest="scenarios_command", required=True, metavar="ACTION")
    sl = ssub.add_parser("list", help="name and first comment line of each shipped scenario")
    _format_option(sl, "list")
    scp = ssub.add_parser("copy", help="copy a shipped scenario (or 'all') into a directory to edit it")
    scp.add_argument("name", metavar="NAME")
    scp.add_argument("dir", metavar="DIR")
    scp.add_argument("--overwrite", action="store_true", help="replace files already there")


def _add_sweep(sub) -> None:
    """``asyncpc sweep SCENARIO [--grid ...] [--zip ...] --out DIR``."""
    w = sub.add_parser("sweep", help="run a grid of overrides x seeds in parallel (resumable)")
    w.add_argument("scenario")
    w.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="a key and its values; the points are every combination of the --grid keys' values "
                        "(with no --grid and no --zip: the scenario itself, once per seed)")
    w.add_argument("--zip", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="keys whose values go together (the i-th of each in one point; as many values "
                        "per key), e.g. a delay and a label delay matched to it; crossed with --grid")
    w.add_argument("--seeds", type=int, default=1)
    w.add_argument("--jobs", type=int, default=0, help="parallel processes (0 = every CPU this process may use)")
    w.add_argument("--out", required=True)
    w.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    w.add_argument("--quiet", action="store_true")
    _limits(w)


def _add_trace(sub) -> None:
    """``asyncpc trace info|show|export|plot RUN``."""
    t = sub.add_parser("trace", help="inspect a run's message-level trace")
    tsub = t.add_subparsers(dest="trace_command", required=True, metavar="ACTION")
    ti = tsub.add_parser("info", help="rows by role and area, time span, size on disk")
    ti.add_argument("run")
    _format_option(ti, "summary")
    ts = tsub.add_parser("show", help="a readable table of messages")
    ts.add_argument("run")
    ts.add_argument("--neuron", help="area:index (value neuron) or area:index:error")
    ts.add_argument("--role", choices=["predict", "feedback", "partner"])
    ts.add_argument("--from", dest="t_from", help="e.g. 10ms")
    ts.add_argument("--to", dest="t_to", help="e.g. 12ms")
    ts.add_argument("--limit", type=int, default=50)
    _format_option(ts, "messages")
    te = tsub.add_parser("export", help="export for the Perfetto UI (protobuf .pftrace, streamed; or *.json)")
    te.add_argument("run")
    te.add_argument("--perfetto", required=True, metavar="OUT.pftrace",
                    help="Perfetto's protobuf trace; a name ending in .json writes Chrome trace-event JSON")
    te.add_argument("--from", dest="t_from", help="only messages sent from then, e.g. 10ms")
    te.add_argument("--to", dest="t_to", help="only messages sent before then, e.g. 12ms")
    tp = tsub.add_parser("plot", help="activity, prediction, error and message latency of a neuron")
    tp.add_argument("run")
    tp.add_argument("--neuron", required=True)
    tp.add_argument("--out", help="figure path, .png, .svg or .pdf (default RUN/plots/trace-<neuron>.png)")


def _limits(p) -> None:
    """``--max-disk`` and ``--max-memory``: the resources a command may use."""
    p.add_argument("--max-disk", metavar="SIZE", help="refuse a run that would write more, e.g. 20GB "
                   "(default: the free space; env ASYNCPC_MAX_DISK)")
    p.add_argument("--max-memory", metavar="SIZE", help="refuse a run that would need more memory, e.g. 8GB "
                   "(default: the available memory; env ASYNCPC_MAX_MEMORY)")

"""Issue 21's mechanism, traced (docs/delays.md §4, "Why: the teaching signal arrives before
the evidence", and "Neuron-local: the label waits for its echo"): ``scenarios/digits_slow_wires.toml``
(one-way delay D = 3 ms = 3 tau_x on every predict and feedback edge) trained three times, the
label clamped with the image (``data.label_delay = 0``), as late as the evidence
(``label_delay = 2 D = 6 ms``), and clamped with the image but waiting for its
echo (``label_delay = 0``, tools/slow_wires.py's ``ECHO_SETS``: ``neurons.clamp_echo``,
``clamp_echo_max``), each with a
message-level trace (``[trace]``) of the label area and hidden1 around the last sample switches
of training.

    python tools/slow_wires_trace.py              # ~6 min of one core: 3 runs of 2 epochs, table, figure
    python tools/slow_wires_trace.py --plot-only  # table + docs/img/slow_wires_switch.png from the runs in --out
    python tools/slow_wires_trace.py --smoke      # seconds: a 64-16-10 network, 20 samples, in a temporary folder

From each trace, at every traced switch to a new label (``--switches``, the last ones of the
last epoch), against time since the switch: the new label's unit -- its label value x (the
teaching signal), the prediction mu = x - eps from hidden1 and the label error eps -- from the
state snapshots (``trace.state_every = 1``); the messages that label error neuron receives
(one switch): its partner edge from the label value (the clamp, as that neuron sees it) and
its predict in-edges from hidden1, each marked as sent before or after the new image
reached hidden1 (the first input -> hidden1 predict message of the presentation to arrive);
and the mean |eps| of the label and hidden1 error neurons. The tables, for the three runs: mean
|eps| of the label error neurons in the windows 0-2D and 2D-end after the switch (and of the
hidden1 ones at D-D+1 ms and 2D-end); and for the new label's unit its mean eps over 0-2D, how
far its prediction mu rose over 0-2D, how far its held inputs moved meanwhile and what that
move alone does to mu with the run's last weights (a rise the inputs do not explain is its
synapses learning), and the arrival times; and when the new label's value neuron takes its new
value (x = its clamp value; with ``clamp_echo`` it holds the old one until the echo), mean and
range over the switches, next to the arrival of the first predict message that carries the new
image (the echo it waits for).

``--out`` (default runs/slow_wires_trace) holds the three runs; ``--img`` the figure (default
docs/img; with ``--smoke`` <out>/img). ``--smoke`` runs the three on ``_sweeps.SMOKE_SETS``
(a 64-16-10 network, 20 + 10 samples, one epoch), 1 switch, all in a temporary folder. The
last line is one JSON object: the figure, the runs, the switches and the key numbers.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _sweeps import ROOT, SMOKE_SETS, study_dirs  # noqa: E402
from slow_wires import ECHO, ECHO_NAME, ECHO_SETS, NO_ECHO  # noqa: E402  (the study's echo parts' settings)

SLOW = ROOT / "scenarios" / "digits_slow_wires.toml"
D = 3.0  # ms, the scenario's one-way delay (delays.forward; feedback defaults to it)
#: run name -> (label_delay ms, neurons.clamp_echo, the figure's column title)
TIMINGS = {"label_with_image": (0.0, 0.0, "label clamped with the image (label_delay 0)"),
           "label_delay_6ms": (2 * D, 0.0, "label clamped 2D later (label_delay 6 ms)"),
           "clamp_echo": (0.0, ECHO, f"label clamped with the image, waiting for its echo ({ECHO_NAME})")}
PRE = 3.0  # ms shown before each switch


def run_sets(label_delay: float, echo: float, epochs: int, smoke: bool) -> list[str]:
    """The scenario's overrides for one timing (without the trace window); ``echo`` > 0 sets
    ``neurons.clamp_echo`` and ``clamp_echo_max`` (``ECHO_SETS``)."""
    sets = ["run.threads=1", f"delays.forward={D}", f"data.label_delay={label_delay}", f"data.epochs={epochs}",
            "output.plots=false", *(ECHO_SETS if echo > 0 else NO_ECHO)]
    return [*sets, *SMOKE_SETS] if smoke else sets


def switches(sets: list[str], n: int) -> tuple[dict, np.ndarray]:
    """The schedule's meta and the indices of the last ``n`` training presentations of the last
    epoch whose label differs from the one before (each a switch to a new label)."""
    from asyncpc.scenario import load_scenario

    scn = load_scenario(SLOW, sets)
    c = scn.compile()
    sch = scn.schedule(c)
    m = {**sch.meta, "env_delay": int(sch.env_delay), "h": float(c.h)}
    last = np.flatnonzero((m["split"] == 0) & (m["epoch"] == m["epoch"][m["split"] == 0].max()))
    last = last[1:]  # the epoch's first presentation follows a test presentation
    new = last[m["target"][last] != m["target"][last - 1]]
    if len(new) < n:
        raise SystemExit(f"slow_wires_trace: only {len(new)} switches to a new label in the last epoch, "
                         f"--switches {n}")
    return m, new[-n:]


def trace_sets(m: dict, idx: np.ndarray) -> list[str]:
    """A trace of the label area and hidden1 from PRE ms before the first switch to the end
    of the last presentation, every state snapshot."""
    h = m["h"]
    t_from = m["t0"][idx[0]] * h - PRE
    t_to = (m["t0"][idx[-1]] + m["present_steps"]) * h
    return ["trace.enabled=true", 'trace.neurons=["label", "hidden1"]', f"trace.from={t_from:.1f}",
            f"trace.to={t_to:.1f}", "trace.state_every=1"]


def run(out: Path, sets: list[str]) -> None:
    cmd = [sys.executable, "-m", "asyncpc", "run", str(SLOW), "--out", str(out), "--overwrite", "--quiet"]
    for s in sets:
        cmd += ["--set", s]
    print("$", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)  # from ROOT, ``-m asyncpc`` is this checkout's package


def analyse(rundir: Path, m: dict, idx: np.ndarray, label_delay: float) -> dict:
    """Per-switch curves (steps since the switch) and message times of one traced run."""
    import asyncpc.trace

    tr = asyncpc.trace.load(rundir)
    h = tr.h
    P = int(m["present_steps"])
    pre = int(round(PRE / h))
    rel = np.arange(-pre, P)
    nr = tr.neurons.to_pydict()
    ids = {(a, i, k): n for n, a, i, k in zip(nr["id"], nr["area"], nr["index"], nr["kind"])}
    n_lab = sum(1 for a, _, k in ids if a == "label" and k == "value")
    n_hid = sum(1 for a, _, k in ids if a == "hidden1" and k == "value")
    lab_v = np.array([ids["label", i, "value"] for i in range(n_lab)])
    lab_e = np.array([ids["label", i, "error"] for i in range(n_lab)])
    hid_e = np.array([ids["hidden1", i, "error"] for i in range(n_hid)])
    hid_v = np.array([ids["hidden1", i, "value"] for i in range(n_hid)])

    st = tr.states
    t, nid, s = (st.column(k).to_numpy() for k in ("t", "neuron", "s"))
    t0s = m["t0"][idx]
    grid = np.full((len(nr["id"]), len(idx), len(rel)), np.nan)  # neuron, switch, step
    for k, t0 in enumerate(t0s):  # switch by switch: a switch's last PRE ms are the next one's first
        sel = (t >= t0 - pre) & (t < t0 + P)
        grid[nid[sel], k, t[sel] - (t0 - pre)] = s[sel]

    msg = tr.messages_between(int(t0s[0]) - pre, int(t0s[-1]) + P)
    ms = {k: msg.column(k).to_numpy(zero_copy_only=False)
          for k in ("t_send", "t_arrive", "src", "dst", "role", "value")}
    role = np.asarray(ms["role"]).astype(str)
    into_hid = np.isin(ms["dst"], hid_e) & (role == "predict")
    env = m["env_delay"]
    # the run's last weights (training's, when test freezes them): what the inputs' move alone does to mu
    fs = np.load(rundir / "final_state.npz")
    cur = []
    for k, (i, t0) in enumerate(zip(idx, t0s)):
        new, old = int(m["target"][i]), int(m["target"][i - 1])
        sel = into_hid & (ms["t_send"] >= t0) & (ms["t_send"] < t0 + P)
        t_img = int(ms["t_arrive"][sel].min()) if sel.any() else None  # the new image reaches hidden1
        e_new = lab_e[new]
        pred = (ms["dst"] == e_new) & (role == "predict") & (ms["t_arrive"] >= t0 - pre) & (ms["t_arrive"] < t0 + P)
        fresh = pred & (ms["t_send"] >= (t_img if t_img is not None else t0 + P))
        t_clamp = t0 + int(round(label_delay / h)) + env  # the label value neuron is clamped
        part = (ms["dst"] == e_new) & (ms["src"] == lab_v[new]) & (ms["t_send"] >= t_clamp) & (ms["t_send"] < t0 + P)
        x, e = grid[lab_v[new], k], grid[e_new, k]
        evidence = float((ms["t_arrive"][fresh].min() - t0) * h) if fresh.any() else None
        into = (ms["dst"] == e_new) & (role == "predict")
        shown = (ms["t_arrive"] >= t0 - pre) & (ms["t_arrive"] < t0 + P)
        own = (ms["dst"] == e_new) & (ms["src"] == lab_v[new]) & shown
        cur.append({
            "t0": int(t0), "new": new, "old": old,
            **dict(zip(("inputs_moved_0_2D", "mu_from_inputs_0_2D"), held_change(
                ms["src"][into], ms["t_arrive"][into], ms["value"][into], t0, t0 + int(round(2 * D / h)),
                {int(a): float(v) for a, v in zip(fs["src"][fs["dst"] == e_new], fs["w"][fs["dst"] == e_new])}))),
            "image_at_hidden": None if t_img is None else (t_img - t0) * h,
            "clamp_seen": float((ms["t_arrive"][part].min() - t0) * h) if part.any() else None,
            "evidence_seen": evidence, "new_value_at": new_value_at(x, rel * h),
            "x": x, "eps": e, "mu": x - e, "eps_old": grid[lab_e[old], k],
            "pred_arrive": (ms["t_arrive"][pred] - t0) * h, "pred_fresh": fresh[pred],
            "pred_src": np.searchsorted(hid_v, ms["src"][pred]),
            "part_arrive": (ms["t_arrive"][own] - t0) * h,
        })
    lab_abs = np.abs(grid[lab_e]).mean(axis=0)  # switch, step: mean |eps| over the label error neurons
    hid_abs = np.abs(grid[hid_e]).mean(axis=0)
    summ = json.loads((rundir / "summary.json").read_text())
    return {"ms": rel * h, "switches": cur, "label_abs": lab_abs, "hidden_abs": hid_abs, "P_ms": P * h,
            "test_accuracy": summ["test_accuracy"], "n_hidden": n_hid, "n_label": n_lab}


def new_value_at(x: np.ndarray, t: np.ndarray) -> float | None:
    """When (ms since the switch) a label value neuron's x ``x`` (over times ``t``) takes the
    value it ends the presentation with, its clamp value, for good: the step after its last
    other value at t >= 0 (0 if it has it from the switch on); None if it ends where it was
    before the switch (never released: a hold that outlasts the presentation)."""
    ok = np.isfinite(x)
    before, after = x[ok & (t < 0)], ok & (t >= 0)
    if not after.any() or (len(before) and before[-1] == x[after][-1]):
        return None
    off = np.flatnonzero(after & (x != x[after][-1]))
    return float(t[off[-1] + 1]) if len(off) else 0.0


def held_change(src, t_arrive, value, t0: int, t1: int, weight: dict) -> tuple[float, float] | tuple[None, None]:
    """How far the held inputs of a neuron moved from step ``t0`` to ``t1``, on the edges with a
    message before ``t0`` in the trace (each in-edge holds the last value that arrived on it;
    messages by send time, one edge per sender, no jitter): ``|in(t1) - in(t0)| / |in(t0)|``, and
    ``sum_j w[j] (in_j(t1) - in_j(t0))`` with ``weight`` (sender -> w), what that move alone does
    to the prediction."""
    before, after = {}, {}
    for sr, ta, v in zip(src.tolist(), t_arrive.tolist(), value.tolist()):
        if ta <= t0:
            before[sr] = v
        if ta < t1:
            after[sr] = v
    known = list(before)
    a = np.array([before[sr] for sr in known])
    d = np.array([after[sr] for sr in known]) - a
    if not len(a) or np.linalg.norm(a) == 0:
        return None, None
    return float(np.linalg.norm(d) / np.linalg.norm(a)), float(sum(weight[sr] * x for sr, x in zip(known, d)))


def windows(r: dict) -> dict:
    """Mean |eps| of the label error neurons in [0, 2D) and [2D, end) after the switch, of the
    hidden1 error neurons in [D, D + 1 ms) (the new image arriving) and [2D, end); over switches;
    and the new label's unit: its mean eps in [0, 2D) and how far its prediction mu rose."""
    t = r["ms"]

    def mean(a, lo, hi):
        return float(np.nanmean(a[:, (t >= lo) & (t < hi)]))

    return {"label_0_2D": mean(r["label_abs"], 0, 2 * D), "label_2D_end": mean(r["label_abs"], 2 * D, r["P_ms"]),
            "new_label_eps_0_2D": float(np.nanmean([np.nanmean(s["eps"][(t >= 0) & (t < 2 * D)])
                                                    for s in r["switches"]])),
            "new_label_mu_rise_0_2D": float(np.nanmean([s["mu"][np.searchsorted(t, 2 * D - 0.05)]
                                                        - s["mu"][np.searchsorted(t, 0.45)] for s in r["switches"]])),
            "hidden_D_D1": mean(r["hidden_abs"], D, D + 1), "hidden_2D_end": mean(r["hidden_abs"], 2 * D, r["P_ms"])}


def _median(r: dict, key: str):
    v = [s[key] for s in r["switches"] if s[key] is not None]
    return float(np.median(v)) if v else None


def release(r: dict) -> dict:
    """When the new label's value neuron takes its new value, when the first predict message
    carrying the new image reaches its error neuron (the echo), and the one after the other, per
    switch: mean and [min, max] over the switches where both happen (None if none); how many
    switches released, and how many released before the echo had arrived."""
    sw = r["switches"]
    rel = [s["new_value_at"] for s in sw if s["new_value_at"] is not None]
    ev = [s["evidence_seen"] for s in sw if s["evidence_seen"] is not None]
    lag = [s["new_value_at"] - s["evidence_seen"] for s in sw
           if s["new_value_at"] is not None and s["evidence_seen"] is not None]

    def stats(v):
        r3 = lambda x: round(float(x), 3)  # noqa: E731  (times on the 0.1 ms step grid)
        return (r3(np.mean(v)), [r3(np.min(v)), r3(np.max(v))]) if v else (None, None)

    (a, ar), (b, br), (c, cr) = stats(rel), stats(ev), stats(lag)
    return {"new_value_at_mean": a, "new_value_at_range": ar, "evidence_seen_mean": b, "evidence_seen_range": br,
            "new_value_after_evidence_mean": c, "new_value_after_evidence_range": cr, "released": len(rel),
            "released_before_evidence": sum(1 for x in lag if x < 0)}


def report(res: dict) -> dict:
    n = len(next(iter(res.values()))["switches"])
    print(f"\nafter the sample switch, D = {D:g} ms, {n} switches to a new label late in training (means over them)")
    print(f"{'timing':<16} | {'label |eps| 0-2D':>16} | {'label |eps| 2D-end':>18} | {'hidden |eps| D-D+1':>18} | "
          f"{'hidden |eps| 2D-end':>19} | {'test acc':>8}")
    out = {}
    for name, r in res.items():
        w = windows(r) | {k: _median(r, k) for k in ("image_at_hidden", "clamp_seen", "evidence_seen")}
        for k in ("inputs_moved_0_2D", "mu_from_inputs_0_2D"):  # the latter: mean |.| over switches
            w[k] = float(np.mean([abs(s[k]) for s in r["switches"] if s[k] is not None]))
        w["test_accuracy"] = r["test_accuracy"]
        out[name] = w | release(r)
        print(f"{name:<16} | {w['label_0_2D']:>16.3f} | {w['label_2D_end']:>18.3f} | {w['hidden_D_D1']:>18.3f} | "
              f"{w['hidden_2D_end']:>19.3f} | {r['test_accuracy']:>8.3f}")
    print("\nthe new label's unit: its error eps and prediction mu, and its held inputs from hidden1")
    print(f"{'timing':<16} | {'eps 0-2D':>8} | {'mu(2D) - mu(0)':>14} | {'inputs moved 0-2D':>17} | {'|W.d_in|':>8} | "
          f"{'clamp seen':>10} | "
          f"{'image at hidden1':>16} | {'evidence seen':>13}")
    fmt = lambda v: "-" if v is None else f"{v:.1f} ms"  # noqa: E731
    for name, w in out.items():
        print(f"{name:<16} | {w['new_label_eps_0_2D']:>8.3f} | {w['new_label_mu_rise_0_2D']:>14.3f} | "
              f"{100 * w['inputs_moved_0_2D']:>16.2f}% | "
              f"{w['mu_from_inputs_0_2D']:>8.3f} | {fmt(w['clamp_seen']):>10} | {fmt(w['image_at_hidden']):>16} | "
              f"{fmt(w['evidence_seen']):>13}")
    print("(inputs moved: |in(2D) - in(0)| / |in(0)| over its predict in-edges from hidden1, each holding the last "
          "value that arrived; |W.d_in|: what that move does to mu with the run's last weights W; clamp seen / image "
          "at hidden1 / evidence seen: median arrival of the clamped label value at the label error neuron (with "
          "clamp_echo: of the new value, once it is taken), of the "
          "first input -> hidden1 predict message, of the first predict message at the label error neuron sent after "
          "that)")
    print(f"\nwhen the new label's value neuron takes its new value (x = its clamp value) and when the first predict "
          f"message carrying the new image reaches its error neuron (evidence seen): mean [min, max] over the {n} "
          f"switches")
    print(f"{'timing':<16} | {'x takes new value':>21} | {'evidence seen':>21} | {'new value - evidence':>21} | "
          f"{'released':>8} | {'before evidence':>15}")
    span = lambda v, r: "-" if v is None else f"{v:.1f} ms [{r[0]:.1f}, {r[1]:.1f}]"  # noqa: E731
    for name, w in out.items():
        print(f"{name:<16} | {span(w['new_value_at_mean'], w['new_value_at_range']):>21} | "
              f"{span(w['evidence_seen_mean'], w['evidence_seen_range']):>21} | "
              f"{span(w['new_value_after_evidence_mean'], w['new_value_after_evidence_range']):>21} | "
              f"{w['released']:>4} of {n:<2} | {w['released_before_evidence']:>15}")
    print(f"(x takes new value: the first state snapshot from which the unit's x is its clamp value to the end of the "
          f"presentation; {ECHO_NAME} holds it at the old value until the error its partner sends has moved "
          f"by more than {ECHO:g} (or for that long); released: switches where it took it within the presentation; before evidence: of "
          f"those, released before the first post-image predict message had arrived)")
    return out


def plot(res: dict, path: Path) -> Path:
    """The figure: a column per run -- the new label's unit (x, mu, eps; with ``clamp_echo``
    when x takes its new value), the messages its error neuron receives at the last traced
    switch, the mean |eps| of the label and hidden1 error neurons."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, len(res), figsize=(5.8 * len(res), 10), sharex=True, sharey="row", squeeze=False)
    for j, (name, r) in enumerate(res.items()):
        label_delay, echo, title = TIMINGS[name]
        t, sw, prompt = r["ms"], r["switches"], label_delay == 0 and echo == 0
        a0, a1, a2 = axes[:, j]
        for ax in axes[:, j]:
            ax.axvspan(0, 2 * D, color="tab:red" if prompt else "0.6", alpha=0.08 if prompt else 0.12, lw=0)
            for v in (D, 2 * D):
                ax.axvline(v, color="0.3", ls=":", lw=1)
            ax.axvline(0, color="0.3", lw=0.8)
            ax.grid(alpha=0.25)
        # (1) the new label's unit, mean over switches
        for key, c, lab in (("x", "tab:green", "label value x (clamped: the teaching signal)"),
                            ("mu", "tab:blue", "prediction μ (from hidden1)"),
                            ("eps", "tab:red", "label error ε = x − μ")):
            a = np.array([s[key] for s in sw])
            for row in a:
                a0.plot(t, row, color=c, lw=0.4, alpha=0.2)
            a0.plot(t, np.nanmean(a, axis=0), color=c, lw=2, label=lab, zorder=3 if key == "x" else 2)  # x on top
        a0.set_title(title, fontsize=11)
        a0.text(D, 0.97, "new label against\nthe previous image's\nprediction" if prompt
                else "label held at its\nold value until\nits echo" if echo
                else "label free: it\nfollows the\nprediction", ha="center", va="top", fontsize=8,
                color="tab:red" if prompt else "0.3", transform=a0.get_xaxis_transform(),
                bbox={"fc": "white", "ec": "none", "alpha": 0.8})
        if prompt:
            w = windows(r)
            moved = np.mean([x["inputs_moved_0_2D"] for x in sw if x["inputs_moved_0_2D"] is not None])
            worth = np.mean([abs(x["mu_from_inputs_0_2D"]) for x in sw if x["mu_from_inputs_0_2D"] is not None])
            y = np.nanmean([x["mu"] for x in sw], axis=0)[np.searchsorted(t, 1.5 * D)]
            a0.annotate(f"μ rises by {w['new_label_mu_rise_0_2D']:.2f} before 2D;\n"
                        f"its inputs moved by {100 * moved:.1f}%\n"
                        f"(worth {worth:.3f} of μ): its\nsynapses (W, b) learn the\nnew label on the previous\n"
                        f"image's hidden activity",
                        xy=(1.5 * D, y), xytext=(12.5, 0.5), fontsize=8, color="tab:blue", va="center",
                        arrowprops={"arrowstyle": "->", "color": "tab:blue", "lw": 0.8},
                        bbox={"fc": "white", "ec": "none", "alpha": 0.85})
        rel = release(r)
        if echo and rel["new_value_at_mean"] is not None:  # x held at the old value, then the jump
            lo, hi = rel["new_value_at_range"]
            a0.axvspan(lo, hi, color="tab:green", alpha=0.12, lw=0)
            a0.axvline(rel["new_value_at_mean"], color="tab:green", ls="--", lw=1.2)
            txt = f"x takes the new value at\n{rel['new_value_at_mean']:.1f} ms (mean; {lo:.1f}-{hi:.1f})"
            if rel["new_value_after_evidence_mean"] is not None:
                txt += (f",\n{rel['new_value_after_evidence_mean']:.1f} ms after the first\nmessage with the new "
                        f"image\n({rel['evidence_seen_mean']:.1f} ms; its echo)")
            a0.text(3.5 * D, 0.6, txt, fontsize=8, color="tab:green", va="top", transform=a0.get_xaxis_transform(),
                    bbox={"fc": "white", "ec": "none", "alpha": 0.85})
        # (2) the messages one label error neuron receives, at the last switch
        s = sw[-1]
        old = ~s["pred_fresh"]
        a1.scatter(s["pred_arrive"][old], s["pred_src"][old], s=6, color="0.5", marker="|", lw=0.8,
                   label="predict message sent before the new image reached hidden1")
        a1.scatter(s["pred_arrive"][~old], s["pred_src"][~old], s=6, color="tab:blue", marker="|", lw=0.8,
                   label="predict message sent after: carries the new image")
        ylab = r["n_hidden"] * 1.08
        a1.scatter(s["part_arrive"], np.full(len(s["part_arrive"]), ylab), s=28, color="tab:green", marker="v",
                   label="label value → error (partner edge)", zorder=3)
        seen = "new label value arrives" if echo else "clamped label arrives"
        for key, c, txt, y in (("clamp_seen", "tab:green", seen, 0.97),
                               ("evidence_seen", "tab:blue", "first message with the new image", 0.55)):
            if s[key] is not None:
                a1.axvline(s[key], color=c, lw=1.2, alpha=0.8)
                a1.text(s[key] + 0.25, y, f"{txt}: {s[key]:.1f} ms", color=c, fontsize=8, va="top",
                        transform=a1.get_xaxis_transform(), bbox={"fc": "white", "ec": "none", "alpha": 0.8})
        a1.set_title(f"messages arriving at the error neuron of label {s['new']} (previous label {s['old']}), "
                     f"one switch", fontsize=9)
        a1.set_ylim(-2, r["n_hidden"] * 1.2)
        # (3) mean |eps| of the label and hidden error neurons, mean over switches
        a2.plot(t, np.nanmean(r["label_abs"], axis=0), color="tab:red", lw=2,
                label=f"label error neurons (all {r['n_label']})")
        a2.plot(t, np.nanmean(r["hidden_abs"], axis=0), color="tab:purple", lw=2,
                label=f"hidden1 error neurons (all {r['n_hidden']})")
        a2.set_xlabel("ms since the sample switch (the new image is clamped at 0)")
        a2.text(0.98, 0.95, f"test accuracy after training: {100 * r['test_accuracy']:.0f}%",
                transform=a2.transAxes, ha="right", va="top", fontsize=9)
        a2.set_xticks([0, D, 2 * D, 10, 15, 20][:6 if r["P_ms"] >= 20 else 3])
        a2.set_xticklabels(["0\nswitch", f"{D:g}\nD", f"{2 * D:g}\n2D", "10", "15", "20"][:len(a2.get_xticks())])
    n = len(next(iter(res.values()))["switches"])
    axes[0, 0].set_ylabel(f"the new label's unit\n(mean of {n} switches; thin: each)", fontsize=9)
    axes[1, 0].set_ylabel("sender: hidden1 unit\n(▼ its own label value)", fontsize=9)
    axes[2, 0].set_ylabel("mean |ε| (mean of the switches)", fontsize=9)
    axes[0, 1].legend(fontsize=8, loc="center right")  # the label_delay column: room at the right
    from matplotlib.lines import Line2D

    keys = [Line2D([], [], ls="none", marker="|", ms=10, mew=1.5, color=c) for c in ("0.5", "tab:blue")]
    keys.append(Line2D([], [], ls="none", marker="v", ms=7, color="tab:green"))
    fig.legend(keys, [h.get_label() for h in axes[1, 0].collections], loc="lower center", ncol=3, fontsize=8.5,
               frameon=False)
    axes[2, 0].legend(fontsize=8, loc="center right")
    axes[0, 0].set_xlim(r["ms"][0], r["P_ms"])
    fig.suptitle(f"digits 64-{r['n_hidden']}-10, one-way delay D = {D:g} ms (3 τx) on every predict and feedback "
                 f"edge, "
                 f"late in training: the new image reaches hidden1 at D,\nits prediction reaches the label error "
                 f"neurons at 2D; a label clamped at the switch is compared with the previous image's prediction "
                 f"until then,\na label waiting for its echo keeps its old value until then", fontsize=10)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, dpi=110)
    plt.close(fig)
    from PIL import Image  # matplotlib's own dependency

    # 128 colours: the raster's ~10^4 antialiased ticks make a full-colour PNG 3x larger
    Image.open(buf).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"wrote {path}")
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=2, help="training epochs of each run (default 2)")
    ap.add_argument("--switches", type=int, default=20, help="traced switches to a new label (default 20)")
    ap.add_argument("--plot-only", action="store_true", help="the table and figure from the runs in --out")
    ap.add_argument("--out", help="folder of the three runs (default runs/slow_wires_trace; with --smoke a "
                                  "temporary folder, removed)")
    ap.add_argument("--img", help="folder of the figure (default docs/img; with --smoke <out>/img)")
    ap.add_argument("--smoke", action="store_true", help="seconds: the three runs on " + " ".join(SMOKE_SETS)
                    + ", 1 switch; nothing written into the repository")
    a = ap.parse_args(argv)
    if a.smoke:
        a.epochs, a.switches = 1, 1
    res, runs = {}, {}
    with study_dirs(a, ROOT / "runs" / "slow_wires_trace") as (out, img):
        for name, (label_delay, echo, _) in TIMINGS.items():
            sets = run_sets(label_delay, echo, a.epochs, a.smoke)
            m, idx = switches(sets, a.switches)
            runs[name] = out / name
            if not a.plot_only:
                run(runs[name], [*sets, *trace_sets(m, idx)])
            res[name] = analyse(runs[name], m, idx, label_delay)
        nums = report(res)
        fig = plot(res, img / "slow_wires_switch.png")
        print(json.dumps({"figure": str(fig), "runs": {k: str(v) for k, v in runs.items()}, "D_ms": D,
                          "switches": a.switches, "epochs": a.epochs, "timings": nums}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

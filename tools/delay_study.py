"""The delayed two-area loop: simulated onset of oscillation against the analytic boundary.

Runs ``scenarios/delay_loop.toml`` with the engine over a range of loop delays
``D = delay + feedback_delay`` of the ``x -> obs`` projection and of loop gains ``b/a``,
measures the growth rate of ``x - x*`` after the step (the clamps at t = 0), and compares
it with

* Hayes (1950) for ``z' = -a z - b z(t - D_eff)``: stable iff ``D_eff < arccos(-a/b) /
  sqrt(b^2 - a^2)`` (b > |a|); the rightmost root is ``-a + W0(-b D_eff e^{a D_eff}) / D_eff``
  (principal branch of Lambert's W);
* the exact discrete-time recurrence the simulator integrates (docs/delays.md):
  ``z_t = z_{t-1} - alpha z_{t-2p} - beta z_{t-D}``, ``alpha = h/tau``, ``beta = h V W / tau``,
  ``p`` the partner delay in steps, whose largest root gives the rate ``log|lambda| / h``.

Writes ``docs/img/delay_loop.png`` and ``<out>/delay_loop.csv`` and prints the tables
quoted in docs/delays.md::

    python tools/delay_study.py [--out runs/delay_study] [--img docs/img/delay_loop.png]
    python tools/delay_study.py --smoke [--out DIR]   # seconds: 3 loop delays, the gain b/a = 4 only

``--smoke`` writes the table and the figure into ``--out`` (default: a temporary directory,
removed), never into docs/img. The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(HERE, "..", "scenarios", "delay_loop.toml")
#: (A) loop delays (steps) and (B) loop gains b/a; --smoke takes a few of each
DELAYS = list(range(2, 40, 4)) + list(range(40, 61, 2)) + list(range(64, 100, 6))
RATIOS = (1.5, 2.0, 3.0, 4.0, 6.0, 10.0)
SMOKE_DELAYS, SMOKE_RATIOS = [30, 50, 70], (4.0,)


def simulate(D_steps: int, scale: float | None = None, duration: float | None = None):
    """Run the loop with ``D_steps`` of loop delay; return (t_ms, x, params)."""
    from asyncpc import engine
    from asyncpc.scenario import load_scenario

    fwd = (D_steps + 1) // 2
    fb = D_steps - fwd
    if fb < 1:
        raise ValueError("the loop needs at least 2 steps (one each way)")
    sets = [f"network.projections[1].delay={fwd * 0.1:.10g}",
            f"network.projections[1].feedback_delay={fb * 0.1:.10g}"]
    if scale is not None:
        sets.append(f"network.projections[1].init_scale={scale:.10g}")
    if duration is not None:
        sets.append(f"data.duration={duration:g}")
    s = load_scenario(SCENARIO, overrides=sets)
    net = s.build_network()
    g = net.graph
    x_id = net.areas["x"].value_ids[0]
    e_obs = net.areas["obs"].error_ids[0]
    e_x = net.areas["x"].error_ids[0]
    prior = net.areas["prior"].value_ids[0]
    W = g.edges[x_id, e_obs]["weight"]
    V = g.edges[e_obs, x_id]["weight"]
    W1 = g.edges[prior, e_x]["weight"]
    c = s.compile(net)
    sch = s.schedule(c)
    res = engine.run(c, sch, seed=s.run.seed, threads=1)
    tau, h = s.network.area("x").tau_x, s.run.h
    p_obs, p_prior = s.data.clamps["obs"], s.data.clamps["prior"]
    x_star = (W1 * p_prior + V * p_obs) / (1 + V * W)
    params = dict(a=1 / tau, b=V * W / tau, tau=tau, h=h, W=W, V=V, x_star=x_star,
                  partner=round(s.delays.partner / h), D=D_steps * h)
    return np.asarray(res.probe_t) * h, np.asarray(res.probe_x)[:, 0], params


def growth_rate(t, x, x_star):
    """Slope (per ms) of log |x - x*| over its local peaks (the first third of the peaks,
    where faster modes still contribute, and peaks lost in rounding are left out)."""
    z = np.abs(x - x_star)
    pk = np.flatnonzero((z[1:-1] >= z[:-2]) & (z[1:-1] >= z[2:])) + 1
    pk = pk[z[pk] > 1e-10 * max(1.0, abs(x_star))]
    if len(pk) >= 6:
        pk = pk[len(pk) // 3:]
    if len(pk) < 3:
        return float("nan")
    return float(np.polyfit(t[pk], np.log(z[pk]), 1)[0])


def hayes_boundary(a, b):
    """Critical delay of z' = -a z - b z(t - D) (b > |a|)."""
    return math.acos(-a / b) / math.sqrt(b * b - a * a)


def lambert_rate(a, b, D):
    """Real part of the rightmost root of s + a + b e^{-sD} = 0."""
    from scipy.special import lambertw

    if D <= 0:
        return -(a + b)
    return float((-a + lambertw(-b * D * math.exp(a * D), 0) / D).real)


def discrete_rate(alpha, beta, p2, D, h):
    """log|lambda_max| / h of z_t = z_{t-1} - alpha z_{t-p2} - beta z_{t-D}."""
    n = max(D, p2, 1)
    coef = np.zeros(n + 1)  # lambda^n - lambda^{n-1} + alpha lambda^{n-p2} + beta lambda^{n-D}
    coef[0] += 1.0
    coef[1] += -1.0
    coef[p2] += alpha
    coef[D] += beta
    lam = np.max(np.abs(np.roots(coef)))
    return math.log(lam) / h


def simulated_onset(scale, lo, hi):
    """Smallest loop delay (steps) whose simulated growth rate is >= 0 (bisection)."""
    def unstable(D):
        t, x, p = simulate(D, scale)
        r = growth_rate(t, x, p["x_star"])
        return bool(r >= 0)  # nan (decayed below rounding within the run) counts as stable

    while not unstable(hi):
        hi *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if unstable(mid):
            hi = mid
        else:
            lo = mid
    return hi


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None, help="folder of delay_loop.csv (default runs/delay_study; "
                                                "with --smoke a temporary directory, removed)")
    ap.add_argument("--img", default=None, help="the figure (default docs/img/delay_loop.png; with --smoke "
                                                "<out>/delay_loop.png)")
    ap.add_argument("--smoke", action="store_true", help=f"seconds: loop delays {SMOKE_DELAYS} steps, b/a "
                                                         f"{SMOKE_RATIOS[0]:g} only")
    args = ap.parse_args(argv)
    tmp = None
    if args.smoke and args.out is None:
        tmp = args.out = tempfile.mkdtemp(prefix="delay_study_")
    try:
        return study(args.out or "runs/delay_study",
                     args.img or (os.path.join(args.out, "delay_loop.png") if args.smoke
                                  else os.path.join(HERE, "..", "docs", "img", "delay_loop.png")),
                     SMOKE_DELAYS if args.smoke else DELAYS, SMOKE_RATIOS if args.smoke else RATIOS)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def study(out: str, img: str, delays: list[int], ratios: tuple[float, ...]) -> int:
    """(A) growth rate at ``delays``, (B) onset at ``ratios`` (4.0 among them: (C) uses it),
    (C) traces around that onset; writes ``out``/delay_loop.csv and ``img``."""
    os.makedirs(out, exist_ok=True)

    # (A) growth rate against loop delay at the scenario's own gain (b/a = 4)
    _, _, p0 = simulate(20)
    a, b, h, tau = p0["a"], p0["b"], p0["h"], p0["tau"]
    alpha, beta, p2 = h / tau, h * b, 2 * p0["partner"]
    Dc = hayes_boundary(a, b)
    print(f"scenario: W = V = {p0['W']:.5f}, a = {a:.4g}/ms, b = {b:.4g}/ms, b/a = {b / a:.4f}, "
          f"Hayes D_eff,c = {Dc:.4f} ms -> loop delay D = D_eff + h = {Dc + h:.4f} ms")
    rows = []
    for D in delays:
        t, x, p = simulate(D)
        r_sim = growth_rate(t, x, p["x_star"])
        r_c = lambert_rate(a, b, (D - 1) * h)
        r_d = discrete_rate(alpha, beta, p2, D, h)
        rows.append((D * h, r_sim, r_d, r_c))
    with open(os.path.join(out, "delay_loop.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["loop_delay_ms", "rate_simulated", "rate_discrete", "rate_continuous"])
        w.writerows(rows)
    print("\n| loop delay D (ms) | simulated rate (1/ms) | discrete theory | Hayes/Lambert (D - h) |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]:.1f} | {r[1]:+.5f} | {r[2]:+.5f} | {r[3]:+.5f} |")

    # (B) onset against gain: bisection on the loop delay for several b/a
    z = p0["W"] / float(_scale_of_file())  # W = init_scale * z
    onsets = []
    for ratio in ratios:
        scale = math.sqrt(ratio) / abs(z)
        bb = ratio * a
        dc = hayes_boundary(a, bb)
        guess = int(round((dc + h) / h))
        sim = simulated_onset(scale, max(2, guess // 2), guess * 2)
        disc = next(D for D in range(2, 10 * guess) if discrete_rate(alpha, h * bb, p2, D, h) >= 0)
        onsets.append((ratio, dc + h, disc * h, sim * h))
    print("\n| b/a | Hayes: D_c + h (ms) | discrete theory onset (ms) | simulated onset (ms) |")
    print("|---|---|---|---|")
    for r in onsets:
        print(f"| {r[0]:g} | {r[1]:.3f} | {r[2]:.1f} | {r[3]:.1f} |")

    # (C) traces just below and above the boundary
    D_on = int(round(next(o for o in onsets if o[0] == 4.0)[3] / h))
    traces = {D: simulate(D, duration=250.0) for D in (D_on - 6, D_on, D_on + 6)}

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(13, 3.8))
    arr = np.array(rows)
    ok = np.isfinite(arr[:, 1])
    Dg = np.linspace(0.05, arr[-1, 0], 300)
    ax[0].plot(Dg, [lambert_rate(a, b, max(d - h, 1e-9)) for d in Dg], "-", color="0.6",
               label="Hayes/Lambert W, $D_{eff} = D - h$")
    ax[0].plot(arr[:, 0], arr[:, 2], "x", color="C1", label="discrete recurrence (exact)")
    ax[0].plot(arr[ok, 0], arr[ok, 1], "o", mfc="none", color="C0", label="simulated (engine)")
    ax[0].axhline(0, color="k", lw=0.5)
    ax[0].axvline(Dc + h, color="C3", ls="--", lw=0.8, label=f"Hayes boundary {Dc + h:.2f} ms")
    ax[0].set(xlabel="loop delay D = forward + feedback (ms)", ylabel="growth rate of |x - x*| (1/ms)",
              title=f"b/a = {b / a:.2f}, tau_x = {tau:g} ms")
    ax[0].legend(fontsize=7)
    on = np.array(onsets)
    rg = np.linspace(1.05, 11, 200)
    ax[1].plot(rg, [hayes_boundary(a, r * a) + h for r in rg], "-", color="0.6", label="Hayes (+ h)")
    ax[1].plot(on[:, 0], on[:, 2], "x", color="C1", ms=8, label="discrete theory")
    ax[1].plot(on[:, 0], on[:, 3], "o", mfc="none", color="C0", label="simulated onset")
    ax[1].set(xlabel="loop gain b/a = V W", ylabel="critical loop delay (ms)", yscale="log",
              title="onset of oscillation")
    ax[1].legend(fontsize=7)
    for D, (t, x, p) in traces.items():
        ax[2].plot(t, x, lw=0.8, label=f"D = {D * h:.1f} ms")
    ax[2].axhline(p0["x_star"], color="k", lw=0.5)
    ax[2].set_ylim(-1.5, 2.5)
    ax[2].set(xlabel="t (ms)", ylabel="x  (x* = %.3f)" % p0["x_star"], title="step response around the onset")
    ax[2].legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(img)), exist_ok=True)
    fig.savefig(img, dpi=80)
    print(f"\nwrote {img} and {os.path.join(out, 'delay_loop.csv')}")
    print(json.dumps({"b_over_a": round(b / a, 4), "hayes_loop_delay_ms": round(Dc + h, 4),
                      "rates": [dict(loop_delay_ms=round(r[0], 4), simulated=_finite(r[1]), discrete=r[2],
                                     continuous=r[3])
                                for r in rows],
                      "onsets": [dict(b_over_a=r[0], hayes_ms=round(r[1], 4), discrete_ms=round(r[2], 4),
                                      simulated_ms=round(r[3], 4)) for r in onsets]}))
    return 0


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None  # JSON has no NaN: a rate lost in rounding is null


def _scale_of_file() -> float:
    import tomllib

    with open(SCENARIO, "rb") as fh:
        return tomllib.load(fh)["network"]["projections"][1]["init_scale"]


if __name__ == "__main__":
    sys.exit(main())

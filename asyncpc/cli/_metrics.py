"""Read-out observers of a run: per-presentation metrics, summary, plots.

They only read probes and state between chunks; they never change the dynamics.
"""

from __future__ import annotations

import numpy as np

from ..compile import KIND_ERROR, KIND_VALUE

__all__ = ["Metrics", "alignment_angles"]


def alignment_angles(c, w: np.ndarray) -> dict[str, float]:
    """Angle (degrees) between W and V^T per projection 'src->dst' (feedback alignment).
    Under weight transport the dynamics use W itself as feedback: 0 degrees."""
    roles = c.edge_role()
    pred = np.flatnonzero((roles == 0) & (c.mirror >= 0))
    if len(pred) == 0:
        return {}
    fb = c.mirror[pred]
    src_area = c.area[c.src[pred]]
    dst_area = c.area[c.dst[pred]]
    out = {}
    for a, b in sorted(set(zip(src_area.tolist(), dst_area.tolist()))):
        m = (src_area == a) & (dst_area == b)
        x = w[pred[m]]
        y = x if c.transport else w[fb[m]]
        out[f"{c.area_names[a]}->{c.area_names[b]}"] = _angle_deg(x, y)
    return out


def _angle_deg(x: np.ndarray, y: np.ndarray) -> float:
    """Angle between two vectors, 0 for parallel ones whatever the rounding: arccos of a
    dot product loses half the digits near 0 degrees (arccos(1 - 1e-16) is already 1e-6
    degrees), so the half-angle form 2 atan2(|u - v|, |u + v|) on the unit vectors. A zero
    vector counts as aligned."""
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    if nx == 0 or ny == 0:
        return 0.0
    u, v = x / nx, y / ny
    return float(np.degrees(2 * np.arctan2(np.linalg.norm(u - v), np.linalg.norm(u + v))))


class Metrics:
    """Turns probe observations into metrics.csv rows, a summary and plots."""

    def __init__(self, c, schedule, data, rundir):
        self.c, self.schedule, self.data, self.rd = c, schedule, data, rundir
        meta = schedule.meta
        self.n_probes = len(schedule.probe_t)
        self.split = np.asarray(meta.get("split", np.zeros(self.n_probes, int)))
        self.split_names = list(meta.get("split_names", ["train", "test", "train_eval", "generate"]))
        self.target = np.asarray(meta.get("target", np.full(self.n_probes, -1)))
        self.epoch = np.asarray(meta.get("epoch", np.zeros(self.n_probes, int)))
        self.sample = np.asarray(meta.get("sample", np.arange(self.n_probes)))
        # a stream that changes over time: each presentation's regime (mapping or block)
        self.regime = np.asarray(meta["regime"]) if meta.get("regime_kind") else None
        label_area = meta.get("label_area")
        if label_area is None:
            labels = [a for a in range(len(c.area_names)) if np.any((c.area == a) & (c.role == 2))]
            label_area = c.area_names[labels[0]] if labels else None
        self.label_area = label_area
        sl = meta.get("readout_slices", {}).get("label")
        if meta.get("protocol") == "constant":
            self.n_label = 0
        elif sl is not None:
            self.n_label = sl[1] - sl[0]
        else:
            self.n_label = len(c.neurons_of(label_area, KIND_VALUE)) if label_area else 0
        self.threshold = float(meta.get("threshold", 0.5))
        self.err_areas = [a for a in range(len(c.area_names)) if np.any((c.area == a) & (c.kind == KIND_ERROR))]
        self.t = []
        self.energy = []
        self.correct = np.full(self.n_probes, -1, np.int8)
        self.pred = np.full(self.n_probes, -1)
        self.probe_x = np.full((self.n_probes, len(schedule.readout)), np.nan)
        self.align_t, self.align = [], []
        # cost, after every chunk: (sim ms, presentations done, messages sent, messages an
        # always-sending network would have sent, inputs applied, synapses rebased)
        self.cost: list[tuple] = []
        self._outdeg = np.diff(c.out_ptr).astype(np.float64)
        self._done = 0

    def _predict(self, x):
        if self.n_label == 0:
            return -1
        y = x[:self.n_label]
        if self.n_label == 1:
            return int(y[0] > self.threshold)
        return int(np.argmax(y))

    def add(self, res) -> None:
        pt = np.asarray(res.probe_t)
        idx = np.searchsorted(self.schedule.probe_t, pt)
        for k, p in enumerate(idx):
            x = res.probe_x[k]
            e = res.probe_energy[k]
            self.probe_x[p] = x
            pred = self._predict(x)
            self.pred[p] = pred
            tgt = int(self.target[p]) if self.target[p] >= 0 else -1
            split = self.split_names[int(self.split[p])]
            ok = int(pred == tgt) if (tgt >= 0 and split != "train") else -1
            self.correct[p] = ok
            row = dict(t_ms=round(float(pt[k]) * self.c.h, 6), split=split, epoch=int(self.epoch[p]))
            if self.regime is not None:
                row["regime"] = int(self.regime[p])
            row.update(sample=int(self.sample[p]), target=tgt, predicted=pred, correct="" if ok < 0 else ok)
            for a in self.err_areas:
                row[f"energy_{self.c.area_names[a]}"] = float(e[a])
            row["energy_total"] = float(np.sum(e))
            self.rd.metrics_row(row)
            self.t.append(float(pt[k]) * self.c.h)
            self.energy.append(np.asarray(e, float))
            self._done = max(self._done, p + 1)
        st = res.state
        self.cost.append((st.t * self.c.h, self._done, int(st.sent), float(np.dot(st.ticks, self._outdeg)),
                          int(getattr(st, "applied", 0)), int(getattr(st, "rebased", 0))))
        if len(res.state.w) and np.any(self.c.eta > 0):
            ang = alignment_angles(self.c, res.state.w)
            if ang:
                self.align_t.append(res.state.t * self.c.h)
                self.align.append(ang)

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self) -> tuple[dict, dict]:
        """The accumulator as (numpy arrays, JSON-able values), for a checkpoint."""
        n_areas = len(self.c.area_names)
        arrays = dict(t=np.asarray(self.t, np.float64),
                      energy=np.asarray(self.energy, np.float64).reshape(len(self.energy), n_areas),
                      correct=self.correct, pred=np.asarray(self.pred, np.int64), probe_x=self.probe_x,
                      align_t=np.asarray(self.align_t, np.float64),
                      cost=np.asarray(self.cost, np.float64).reshape(len(self.cost), 6))
        return arrays, dict(done=int(self._done), align=self.align)

    def restore(self, arrays: dict, info: dict) -> None:
        """Continue from :meth:`checkpoint` (metrics.csv is cut back by the run directory)."""
        if arrays["probe_x"].shape != self.probe_x.shape:
            from ..errors import AsyncPCError

            raise AsyncPCError(f"checkpoint: {arrays['probe_x'].shape[0]} presentations, the scenario has "
                               f"{self.probe_x.shape[0]}")
        self.t = [float(v) for v in arrays["t"]]
        self.energy = [row.copy() for row in arrays["energy"]]
        self.correct = arrays["correct"].astype(np.int8)
        self.pred = arrays["pred"].astype(self.pred.dtype)
        self.probe_x = arrays["probe_x"].astype(np.float64)
        self.align_t = [float(v) for v in arrays["align_t"]]
        self.align = [dict(a) for a in info["align"]]
        self.cost = [(r[0], int(r[1]), int(r[2]), r[3], int(r[4]), int(r[5])) for r in arrays["cost"].tolist()]
        self._done = int(info["done"])

    # ------------------------------------------------------------------ summary
    def _acc(self, split: str, epoch=None):
        code = self.split_names.index(split) if split in self.split_names else -1
        m = (self.split == code) & (self.correct >= 0)
        if epoch is not None:
            m &= self.epoch == epoch
        return float(self.correct[m].mean()) if m.any() else None

    def running_accuracy(self):
        m = (self.correct >= 0)
        m[self._done:] = False
        if not m.any():
            return None
        last = np.flatnonzero(m)[-min(200, m.sum()):]
        return float(self.correct[last].mean())

    def summary(self, target: float = 0.9) -> dict:
        """Accuracies per split and epoch, energy, alignment. ``time_to_accuracy_ms``: the
        simulated training time (ms of the training stream presented, test passes
        excluded) up to the end of the first epoch whose test accuracy reached ``target``
        (``output.target_accuracy``); None when no test pass reached it."""
        test_code = self.split_names.index("test") if "test" in self.split_names else -1
        epochs = sorted({int(e) for e in self.epoch[(self.split == test_code) & (self.correct >= 0)]})
        by_epoch = [self._acc("test", e) for e in epochs]
        tta = None
        if "train" in self.split_names and "present_steps" in self.schedule.meta:
            train = self.split == self.split_names.index("train")
            hit = [e for e, a in zip(epochs, by_epoch) if a is not None and a >= target]
            if hit:
                tta = float(np.sum(train & (self.epoch <= hit[0])) * self.schedule.meta["present_steps"] * self.c.h)
        train_epochs = sorted({int(e) for e in self.epoch[(self.split == self.split_names.index("train_eval"))
                                                         & (self.correct >= 0)]}) \
            if "train_eval" in self.split_names else []
        out = dict(test_accuracy=by_epoch[-1] if by_epoch else None,
                   train_accuracy=self._acc("train_eval", train_epochs[-1]) if train_epochs else None,
                   test_accuracy_by_epoch=by_epoch,
                   final_energy=float(np.sum(self.energy[-1])) if self.energy else None,
                   presentations=int(self._done), target_accuracy=float(target), time_to_accuracy_ms=tta)
        if self.align:
            out["w_v_angle_deg"] = self.align[-1]
            out["w_v_angle_deg_start"] = self.align[0]
        out.update(self.cost_summary())
        return out

    def cost_summary(self) -> dict:
        """Per presentation: messages sent, what sending at every tick would have sent,
        synaptic inputs applied and synapses rebased (the engine's work on synapses); and
        the traffic of the first and the last tenth of the run, to see whether it falls
        as the network learns."""
        if not self.cost or not self.cost[-1][1]:
            return {}
        _, n, sent, always, applied, rebased = self.cost[-1]
        out = dict(messages_per_sample=round(sent / n, 1), always_messages_per_sample=round(always / n, 1),
                   traffic_reduction=round(always / sent, 2) if sent else None,
                   synaptic_updates_per_sample=round((applied + rebased) / n, 1),
                   synapses_rebased_per_sample=round(rebased / n, 1))
        per = self.cost_per_sample()
        if len(per) >= 10:
            k = max(1, len(per) // 10)
            out["messages_per_sample_first_tenth"] = round(float(np.mean(per[:k, 1])), 1)
            out["messages_per_sample_last_tenth"] = round(float(np.mean(per[-k:, 1])), 1)
        return out

    def cost_per_sample(self) -> np.ndarray:
        """Rows ``(presentations done, messages, always-send messages, synaptic updates)`` per
        presentation over each chunk of the run."""
        c = np.asarray(self.cost, np.float64).reshape(len(self.cost), 6)
        if len(c) < 2:
            return np.zeros((0, 4))
        d = np.diff(c, axis=0)
        ok = d[:, 1] > 0
        n = d[ok, 1]
        return np.column_stack([c[1:][ok, 1], d[ok, 2] / n, d[ok, 3] / n, (d[ok, 4] + d[ok, 5]) / n])

    def _mlp(self, w=None, bias=None):
        """The network's chain of areas as a feedforward MLP (initial weights, or ``w`` and
        ``bias``), or None when it is not a discriminative chain fed by the dataset."""
        import dataclasses

        from ..errors import AsyncPCError
        from ..reference import BackpropMLP

        if self.data is None or self.schedule.meta.get("protocol") != "stream" or self.n_label == 0:
            return None
        c = self.c if w is None else dataclasses.replace(self.c, w=np.asarray(w), bias=np.asarray(bias))
        try:
            mlp = BackpropMLP.from_compiled(c)
        except AsyncPCError:
            return None
        return mlp if mlp.weights[0].shape[1] == self.data.n_features else None

    def _test_accuracy(self, mlp) -> float:
        out = mlp.predict(self.data.X_test)
        pred = (out[:, 0] > self.threshold).astype(int) if self.n_label == 1 else out.argmax(1)
        return float(np.mean(pred == self.data.y_test))

    def baselines(self, scn, state=None, lr: float = 0.01) -> dict:
        """Online backprop on the same architecture, initialisation, split and number of
        epochs, and ``feedforward_test_accuracy``: the learned W and biases of ``state``
        used as a plain feedforward network (one sweep, no inference; how dense PC libraries
        usually test), next to ``test_accuracy``, the network's own free inference. Both
        only when the network is a discriminative chain and the data a dataset. On a
        stream that changes over time (a drift, classes in blocks) backprop follows the
        run's own stream, presentation by presentation (``BackpropMLP.follow_stream``);
        on a stationary one it reshuffles the training split each epoch."""
        meta = self.schedule.meta
        mlp = self._mlp()
        if mlp is None:
            return {}
        if meta.get("regime_kind"):  # a changing stream: backprop follows it presentation by presentation
            curve = [r["test_accuracy"] for r in mlp.follow_stream(self.schedule, self.data, lr)]
        else:
            Y = self.data.targets(self.data.y_train, self.n_label, meta["label_on"], meta["label_off"])
            curve = []
            for e in range(int(meta.get("epochs", 1))):
                mlp.fit(self.data.X_train, Y, epochs=1, lr=lr, seed=scn.run.seed * 1000 + e)
                curve.append(self._test_accuracy(mlp))
        self.backprop_curve = curve
        out = dict(backprop_test_accuracy=curve[-1], backprop_test_accuracy_by_epoch=curve, backprop_lr=lr)
        learned = None if state is None else self._mlp(state.w, state.bias)
        if learned is not None:
            out["feedforward_test_accuracy"] = self._test_accuracy(learned)
        return out

    def write_alignment(self) -> None:
        """``RUN/alignment.csv``: the W/V^T angle (degrees) of every projection after each
        chunk (none when nothing learns)."""
        if not self.align or not self.rd.writer:
            return
        import csv
        import io

        from ._rundir import atomic_write

        keys = list(self.align[0])
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["t_ms", *keys])
        for t, a in zip(self.align_t, self.align):
            w.writerow([round(float(t), 6), *[a.get(k, "") for k in keys]])
        atomic_write(self.rd.path / "alignment.csv", buf.getvalue())

    # ------------------------------------------------------------------ plots
    def plot(self, scn, state) -> None:
        from ._plots import plot_run

        plot_run(self, scn, state, self.rd.path / "plots")



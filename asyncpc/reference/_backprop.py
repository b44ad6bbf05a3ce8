"""Online backprop on the same architecture as a layered predictive-coding network.

The network's feedforward equilibrium defines the MLP: with the sensory area clamped to
``x_0`` and every error at zero, each area sits at its prediction

    x_l = W_l f_{l-1}(x_{l-1}) + b_l,       l = 1 .. L

where ``f_{l-1}`` is the activation of the *sending* area (it is applied to the rates
sent on predict edges, the input's included) and the output ``x_L`` is read out as is.
The loss is ``1/2 ||x_L - y||^2``, whose gradient is what a nudged PC network's local
updates approximate (Whittington & Bogacz 2017).
"""

from __future__ import annotations

import numpy as np

from .._seed import rng_for
from ..compile import CompiledNet
from ..errors import DataError, SpecError
from ._act import Activation, code_of
from ._layout import dense_layout

__all__ = ["BackpropMLP", "backprop_gradients"]

#: Samples :meth:`BackpropMLP.predict` converts to float64 at a time (float32 input).
PREDICT_ROWS = 2048


def _activations(activations, sizes) -> list:
    out = []
    for l, a in enumerate(activations):
        if isinstance(a, Activation):
            out.append(a)
        elif isinstance(a, (str, int, np.integer)):
            out.append(Activation(np.full(sizes[l], code_of(a))))
        else:
            out.append(Activation([code_of(k) for k in np.asarray(a).ravel()]))
    return out


def _forward(weights, biases, acts, x) -> list:
    xs = [np.asarray(x, dtype=np.float64)]
    for W, b, f in zip(weights, biases, acts):
        xs.append(W @ f.f(xs[-1]) + b)
    return xs


def _gradients(weights, biases, acts, masks, x, y):
    xs = _forward(weights, biases, acts, x)
    delta = xs[-1] - y  # dL/dx_L for L = 1/2 ||x_L - y||^2
    loss = 0.5 * float(delta @ delta)
    dW, db = [None] * len(weights), [None] * len(weights)
    for l in range(len(weights) - 1, -1, -1):
        g = np.outer(delta, acts[l].f(xs[l]))
        dW[l] = g if masks[l] is None else g * masks[l]
        db[l] = delta.copy()
        if l > 0:
            delta = acts[l].df(xs[l]) * (weights[l].T @ delta)
    return loss, dW, db


def backprop_gradients(weights, biases, activations, x, y, masks=None):
    """Loss and gradients of ``1/2 ||x_L - y||^2`` for one sample.

    Parameters
    ----------
    weights : list of numpy.ndarray
        ``W_l`` of shape (n_l, n_{l-1}), l = 1 .. L.
    biases : list of numpy.ndarray
        ``b_l`` of shape (n_l,).
    activations : list
        Activation of each *sending* layer 0 .. L-1: a name from
        :data:`asyncpc.model.ACTIVATIONS`, a code, or one code per neuron.
    x, y : numpy.ndarray
        Input (n_0,) and target (n_L,).
    masks : list of (numpy.ndarray or None), optional
        0/1 connectivity per layer; gradients are zero where there is no synapse.

    Returns
    -------
    loss : float
    dW : list of numpy.ndarray
    db : list of numpy.ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from asyncpc.reference import backprop_gradients
    >>> loss, dW, db = backprop_gradients([np.eye(2)], [np.zeros(2)], ["linear"],
    ...                                   np.array([1.0, 0.0]), np.array([0.0, 0.0]))
    >>> loss, dW[0].tolist()
    (0.5, [[1.0, 0.0], [0.0, 0.0]])
    """
    weights = [np.asarray(W, dtype=np.float64) for W in weights]
    sizes = [weights[0].shape[1]] + [W.shape[0] for W in weights]
    acts = _activations(activations, sizes)
    masks = list(masks) if masks is not None else [None] * len(weights)
    return _gradients(weights, [np.asarray(b, float) for b in biases], acts, masks,
                      np.asarray(x, float), np.asarray(y, float))


class BackpropMLP:
    """Online (one sample per update) backprop MLP, squared error on one-hot targets.

    Parameters
    ----------
    weights, biases, activations, masks
        As in :func:`backprop_gradients`; the arrays are copied.

    Examples
    --------
    >>> import numpy as np
    >>> from asyncpc.model import layered
    >>> from asyncpc.compile import compile_network
    >>> from asyncpc.reference import BackpropMLP
    >>> mlp = BackpropMLP.from_compiled(compile_network(layered([2, 3, 2], seed=0)))
    >>> mlp.sizes
    [2, 3, 2]
    >>> mlp.predict(np.zeros((1, 2))).shape
    (1, 2)
    """

    def __init__(self, weights, biases, activations, masks=None):
        self.weights = [np.array(W, dtype=np.float64) for W in weights]
        self.biases = [np.array(b, dtype=np.float64) for b in biases]
        if not self.weights:
            raise SpecError("weights: need at least one layer")
        sizes = self.sizes
        if len(self.biases) != len(self.weights) or len(activations) != len(self.weights):
            raise SpecError(f"BackpropMLP: {len(self.weights)} weight layers need as many biases and "
                            f"activations, got {len(self.biases)} and {len(activations)}")
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            if W.shape != (sizes[l + 1], sizes[l]) or b.shape != (sizes[l + 1],):
                raise SpecError(f"weights[{l}]: shape {W.shape} with bias {b.shape} does not chain "
                                f"from {sizes[l]} to {sizes[l + 1]} units")
        self.acts = _activations(activations, sizes)
        self.masks = ([None] * len(self.weights) if masks is None
                      else [None if m is None else np.asarray(m, dtype=np.float64) for m in masks])
        for l, (W, m) in enumerate(zip(self.weights, self.masks)):
            if m is not None:
                if m.shape != W.shape:
                    raise SpecError(f"masks[{l}]: shape {m.shape}, expected {W.shape}")
                W *= m  # a missing synapse is zero

    @classmethod
    def from_compiled(cls, c: CompiledNet) -> "BackpropMLP":
        """The MLP of a chain of areas ``a_0 -> a_1 -> ... -> a_L``, with the network's initial
        W, biases, connectivity and activations (of the sending areas); ``a_0`` is the input
        and ``a_L``'s activity the output. Timing (delays, clocks) is irrelevant here.

        Raises
        ------
        asyncpc.errors.SpecError
            If the area graph is not a single chain.
        """
        L = dense_layout(c, timing=False)
        chain = [(k, k + 1) for k in range(len(L.areas) - 1)]
        if [(p.src, p.dst) for p in L.projections] != chain:
            raise SpecError("network: BackpropMLP needs a chain of areas (each area predicts only "
                            f"the next), got projections {[p.name for p in L.projections]}")
        ws = [p.gather_w(c.w) for p in L.projections]
        bs = [c.bias[L.areas[p.dst].errors] for p in L.projections]
        acts = [L.areas[p.src].act for p in L.projections]
        return cls(ws, bs, acts, masks=[p.w_mask for p in L.projections])

    @property
    def sizes(self) -> list:
        """Units per layer, input first."""
        return [self.weights[0].shape[1]] + [W.shape[0] for W in self.weights]

    def forward(self, x) -> list:
        """Activities of every layer for one input (input first, output last)."""
        return _forward(self.weights, self.biases, self.acts, x)

    def gradients(self, x, y):
        """``(loss, dW, db)`` for one sample; see :func:`backprop_gradients`."""
        return _gradients(self.weights, self.biases, self.acts, self.masks,
                          np.asarray(x, float), np.asarray(y, float))

    def predict(self, X) -> np.ndarray:
        """Output activities, shape (n_samples, n_out). Float64 input is computed in one
        product; other input (float32 data) a block of ``PREDICT_ROWS`` samples at a time,
        each block converted to float64 (never the whole of ``X``)."""
        X = self._check_x(X)
        if X.dtype == np.float64:
            return self._predict(X)
        out = np.empty((len(X), self.sizes[-1]))
        for a in range(0, len(X), PREDICT_ROWS):
            out[a:a + PREDICT_ROWS] = self._predict(np.asarray(X[a:a + PREDICT_ROWS], np.float64))
        return out

    def _predict(self, X) -> np.ndarray:
        h = X.T  # units x samples: a per-unit activation indexes the rows
        for W, b, f in zip(self.weights, self.biases, self.acts):
            h = W @ f.f(h) + b[:, None]
        return h.T

    def accuracy(self, X, y) -> float:
        """Fraction of samples whose largest output is at the class index ``y``."""
        y = np.asarray(y).ravel()
        out = self.predict(X)
        if len(y) != len(out):
            raise DataError(f"y: {len(y)} labels for {len(out)} samples")
        return float(np.mean(np.argmax(out, axis=1) == y))

    def fit(self, X, Y, epochs: int = 1, lr: float = 0.01, seed=0) -> np.ndarray:
        """Online SGD, one update per sample, samples reshuffled every epoch.

        Parameters
        ----------
        X : array, shape (n_samples, n_in)
            Any real dtype; each sample is converted to float64 when it is used (float32
            data are never copied whole: an MNIST training split stays 188 MB, not 376).
        Y : array, shape (n_samples, n_out)
            Targets (one-hot for classification).
        epochs : int
        lr : float
            Step size of ``W -= lr * dL/dW`` (and the same for biases).
        seed : int
            Seeds the shuffling only.

        Returns
        -------
        numpy.ndarray
            Mean per-sample loss of each epoch (each loss taken just before its update).
        """
        X = self._check_x(X)
        Y = np.asarray(Y, dtype=np.float64)
        if Y.shape != (len(X), self.sizes[-1]):
            raise DataError(f"Y: expected shape ({len(X)}, {self.sizes[-1]}), got {Y.shape}")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise SpecError(f"epochs: must be an integer >= 0, got {epochs!r}")
        if not (np.isfinite(lr) and lr > 0):
            raise SpecError(f"lr: must be a positive number, got {lr!r}")
        rng = rng_for(seed)
        history = np.zeros(epochs)
        for ep in range(epochs):
            history[ep] = self.fit_rows(X, Y, rng.permutation(len(X)), lr) / max(len(X), 1)
        return history

    def fit_rows(self, X, Y, rows, lr: float = 0.01, targets=None, columns=None) -> float:
        """Online SGD through ``rows`` of ``X`` in the order given (a stream's training
        presentations), the target of the ``k``-th update ``targets[k]`` (default
        ``Y[rows[k]]``); ``columns``: the network's inputs are ``X[i, columns]`` (a
        permuted-input task). Returns the summed per-sample loss (each taken before its
        update)."""
        total = 0.0
        for k, i in enumerate(rows):
            y = Y[i] if targets is None else targets[k]
            x = X[i] if columns is None else X[i, columns]
            loss, dW, db = self.gradients(x, y)  # x converted to float64 here
            total += loss
            for W, b, gw, gb in zip(self.weights, self.biases, dW, db):
                gw *= lr  # in place (the gradients are this sample's own): W -= lr * gw, no temporary
                W -= gw
                gb *= lr
                b -= gb
        return total

    def follow_stream(self, schedule, dataset, lr: float = 0.01) -> list[dict]:
        """Online backprop through exactly a stream schedule's training presentations
        (:func:`asyncpc.environment.stream_schedule`), in the schedule's order: the same
        samples, each with the class it teaches there (``meta["target"]``: a drifting
        stream's current mapping), one update each, with the features reaching the inputs
        they reach there (``meta["input_perms"]``: a drift of the inputs); at each test
        and monitor presentation, the class it predicts with the weights of that moment.
        Returns one dict per training epoch: ``epoch``, ``regime`` (the task its test
        scores), ``test_sample``, ``test_target``, ``test_pred``, ``test_accuracy`` (NaN
        without a test), and ``monitor``: its monitor rounds, each ``{"presentations":
        training presentations before it, "regime", "accuracy"}``."""
        m = schedule.meta
        split, epoch, sample, target = (np.asarray(m[k]) for k in ("split", "epoch", "sample", "target"))
        regime = np.asarray(m.get("regime", np.zeros(len(split), int)))
        names = list(m["split_names"])
        code = {k: names.index(k) if k in names else -1 for k in ("train", "test", "monitor")}
        # network input i is feature inverse[r][i] when feature j reaches input perms[r][j]
        inverse = [np.argsort(p) for p in m["input_perms"]] if "input_perms" in m else None
        n_out = self.sizes[-1]
        out: dict = {}
        done = 0
        # runs of presentations of one split, epoch and regime, in the schedule's order
        cuts = [0, *(np.flatnonzero((np.diff(split) != 0) | (np.diff(epoch) != 0) | (np.diff(regime) != 0)) + 1),
                len(split)]
        for a, b in zip(cuts, cuts[1:]):
            cols = None if inverse is None else inverse[regime[a]]
            e, r = int(epoch[a]), int(regime[a])
            if split[a] == code["train"]:
                T = dataset.targets(target[a:b], n_out, m["label_on"], m["label_off"])
                self.fit_rows(dataset.X_train, None, sample[a:b], lr, targets=T, columns=cols)
                done += b - a
                out.setdefault(e, dict(epoch=e, regime=r, test_sample=sample[:0], test_target=target[:0],
                                       test_pred=np.zeros(0, int), test_accuracy=float("nan"), monitor=[]))
            elif split[a] in (code["test"], code["monitor"]) and e in out:
                X = dataset.X_test[sample[a:b]]
                y = self.predict(X if cols is None else X[:, cols])
                pred = (y[:, 0] > m["threshold"]).astype(int) if n_out == 1 else y.argmax(1)
                acc = float(np.mean(pred == target[a:b]))
                if split[a] == code["monitor"]:
                    out[e]["monitor"].append(dict(presentations=done, regime=r, accuracy=acc))
                else:
                    out[e].update(regime=r, test_sample=sample[a:b], test_target=target[a:b], test_pred=pred,
                                  test_accuracy=acc)
        return list(out.values())

    def _check_x(self, X) -> np.ndarray:
        """``X`` as an array of numbers, not copied (float64 as given; float32 data are
        converted sample by sample or block by block where they are used)."""
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise DataError(f"X: expected shape (n_samples, {self.sizes[0]}), got {X.shape}")
        return X


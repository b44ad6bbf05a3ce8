"""Data sources, presentation protocols and read-outs (asyncpc.environment)."""

from __future__ import annotations

import numpy as np
import pytest

from asyncpc.compile import compile_network
from asyncpc.environment import (EV_CLAMP, EV_MODULATE, EV_UNCLAMP, SPLITS, Frames, Schedule, accuracy_from,
                                 clamp_schedule, generated_images, load_dataset, predicted_classes, stream_schedule)
from asyncpc.errors import DataError, SpecError
from asyncpc.model import layered


# -- datasets ------------------------------------------------------------------------------

def test_xor_is_all_four_patterns_in_both_splits():
    d = load_dataset("xor")
    assert d.X_train.shape == (4, 2) and d.X_train.dtype == np.float64 and d.y_train.dtype == np.int64
    np.testing.assert_array_equal(d.X_train, d.X_test)
    np.testing.assert_array_equal(d.y_train, [0, 1, 1, 0])
    assert set(np.unique(d.X_train)) == {0.0, 1.0}
    assert (d.n_classes, d.n_features, d.image_shape) == (2, 2, None)


def test_targets_one_hot_or_single_output():
    d = load_dataset("xor")
    np.testing.assert_array_equal(d.targets([0, 1], 2), [[1, 0], [0, 1]])
    np.testing.assert_array_equal(d.targets([0, 1, 1], 1), [[0], [1], [1]])
    np.testing.assert_array_equal(d.targets([0, 1], 2, on=0.9, off=0.1), [[0.9, 0.1], [0.1, 0.9]])
    with pytest.raises(DataError, match="3 neuron"):
        d.targets([0, 1], 3)
    iris = load_dataset("sklearn:iris")
    with pytest.raises(DataError, match="needs 3 neurons"):
        iris.targets([0], 1)


def test_digits_split_is_stratified_and_seeded():
    d = load_dataset("sklearn:digits", seed=0)
    assert (len(d.X_train), len(d.X_test)) == (1437, 360)
    assert d.image_shape == (8, 8) and d.n_features == 64 and d.n_classes == 10
    assert d.class_names == tuple(str(k) for k in range(10))
    counts = np.bincount(d.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # ~10% per class
    again = load_dataset("sklearn:digits", seed=0)
    np.testing.assert_array_equal(d.y_train, again.y_train)
    other = load_dataset("sklearn:digits", seed=1)
    assert not np.array_equal(d.y_train, other.y_train)


def test_minmax_uses_train_statistics_only_and_pools_image_pixels():
    raw = load_dataset("sklearn:digits", normalize="none")
    d = load_dataset("sklearn:digits", normalize="minmax")
    lo, hi = raw.X_train.min(), raw.X_train.max()
    np.testing.assert_allclose(d.X_train, (raw.X_train - lo) / (hi - lo))
    np.testing.assert_allclose(d.X_test, (raw.X_test - lo) / (hi - lo))
    assert d.X_train.min() == 0.0 and d.X_train.max() == 1.0


def test_zscore_per_feature_from_train_split():
    raw = load_dataset("sklearn:wine", normalize="none", seed=3)
    d = load_dataset("sklearn:wine", normalize="zscore", seed=3)
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(d.X_train.std(axis=0), 1, atol=1e-12)
    mu, sd = raw.X_train.mean(axis=0), raw.X_train.std(axis=0)
    np.testing.assert_allclose(d.X_test, (raw.X_test - mu) / sd)
    assert not np.allclose(d.X_test.mean(axis=0), 0, atol=1e-3)


def test_minmax_tabular_is_per_feature_and_constant_features_survive(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("1,5,0\n3,5,1\n2,5,0\n4,5,1\n")
    d = load_dataset(f, test_fraction=0)
    np.testing.assert_allclose(d.X_train[:, 0], [0, 2 / 3, 1 / 3, 1])
    np.testing.assert_allclose(d.X_train[:, 1], 0.0)  # constant: range taken as 1
    assert len(d.X_test) == 0


@pytest.mark.parametrize("name,shape,k", [("sklearn:iris", (150, 4), 3), ("sklearn:wine", (178, 13), 3),
                                          ("sklearn:breast_cancer", (569, 30), 2)])
def test_sklearn_tabular_sources(name, shape, k):
    d = load_dataset(name, test_fraction=0.25, max_train=40, max_test=10)
    assert d.n_features == shape[1] and d.n_classes == k and d.image_shape is None
    assert (len(d.X_train), len(d.X_test)) == (40, 10)
    assert d.X_train.min() >= 0 and d.X_train.max() <= 1


def test_csv_with_header_semicolons_and_relabelled_classes(tmp_path):
    (tmp_path / "d.csv").write_text("a;b;label\n0.5;1;3\n0.1;2;7\n# a comment\n0.2;3;3\n0.9;4;7\n")
    d = load_dataset("d.csv", base_dir=tmp_path, test_fraction=0.5, normalize="none", seed=0)
    assert d.class_names == ("3", "7") and d.n_classes == 2 and d.n_features == 2
    assert sorted(np.concatenate([d.y_train, d.y_test]).tolist()) == [0, 0, 1, 1]
    assert d.name.endswith("d.csv")


def test_npz_with_X_y_and_images(tmp_path):
    X = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    np.savez(tmp_path / "a.npz", X=X, y=np.array([0, 1, 0, 1, 1]))
    d = load_dataset(tmp_path / "a.npz", test_fraction=0.4, normalize="none")
    assert d.image_shape == (2, 3) and d.n_features == 6 and len(d.X_train) + len(d.X_test) == 5


def test_npz_with_its_own_split(tmp_path):
    np.savez(tmp_path / "s.npz", X_train=np.eye(3), y_train=[0, 1, 2], X_test=np.ones((2, 3)), y_test=[2, 2])
    d = load_dataset(tmp_path / "s.npz", normalize="none")
    np.testing.assert_array_equal(d.X_test, np.ones((2, 3)))
    np.testing.assert_array_equal(d.y_test, [2, 2])
    assert d.n_classes == 3


def _npz(tmp_path, **arrays):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    return p


@pytest.mark.parametrize("content,match", [
    ("1,2,0\n3,4,0.5\n", "line 2: label 0.5 is not an integer"),
    ("1,2,0\n3,4\n", "line 2: found 2 columns; expected 3"),
    ("1,2,0\n3,x,1\n", "line 2: column 2 is 'x'; expected a number"),
    ("1,2,0\n3,4,a\n", "expected an integer class label"),
    ("", "empty file"),
    ("f1,f2,y\n", "only a header row"),
    ("1,2,0\n3,4,0\n", "expected at least two classes"),
    ("1,nan,0\n3,4,1\n", "NaN or infinite"),
])
def test_bad_csv_files_name_the_file_and_what_was_expected(tmp_path, content, match):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(DataError, match=match) as e:
        load_dataset(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("arrays,match", [
    (dict(A=np.ones((2, 2))), r"found arrays \['A'\]; expected an .npz archive"),
    (dict(X=np.ones(4), y=[0, 1, 0, 1]), "X must be 2-D"),
    (dict(X=np.ones((4, 2)), y=np.ones((4, 1))), "y must be 1-D"),
    (dict(X=np.ones((4, 2)), y=[0, 1, 0]), "3 labels for 4 samples"),
    (dict(X=np.ones((4, 2)), y=[0, 1, 0.5, 1]), "y must hold integer class labels, got 0.5"),
    (dict(X=np.array([["a", "b"]] * 4), y=[0, 1, 0, 1]), "X must hold numbers"),
    (dict(X=np.full((4, 2), np.inf), y=[0, 1, 0, 1]), "NaN or infinite"),
    (dict(X_train=np.ones((2, 2)), y_train=[0, 1], X_test=np.ones((2, 3)), y_test=[0, 1]), "3"),
])
def test_bad_npz_files(tmp_path, arrays, match):
    p = _npz(tmp_path, **arrays)
    with pytest.raises(DataError, match=match) as e:
        load_dataset(p)
    assert str(p) in str(e.value)


def test_unreadable_and_missing_files_and_bad_arguments(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset(tmp_path / "junk.npz")
    with pytest.raises(DataError, match="file not found"):
        load_dataset(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="unknown data source"):
        load_dataset("mnist")
    with pytest.raises(DataError, match="unknown data source.*parquet.*IDX"):  # the same list of what exists
        load_dataset("sklearn:mnist")
    with pytest.raises(DataError, match="files: only used with source = 'idx'"):  # not silently ignored
        load_dataset("xor", files={"train_images": "x"})
    with pytest.raises(DataError, match="normalize"):
        load_dataset("xor", normalize="l2")
    with pytest.raises(DataError, match="test_fraction"):
        load_dataset("sklearn:iris", test_fraction=1.0)
    with pytest.raises(DataError, match="max_train"):
        load_dataset("xor", max_train=0)


# -- the stream protocol -------------------------------------------------------------------

@pytest.fixture(scope="module")
def xor_net():
    return compile_network(layered([2, 3, 2]), h=0.1)


def _at(s, t, kind=None):
    sel = s.ev_t == t
    if kind is not None:
        sel &= s.ev_kind == kind
    return s.ev_neuron[sel], s.ev_value[sel]


def test_stream_probe_count_times_and_meta(xor_net):
    d = load_dataset("xor")
    s = stream_schedule(xor_net, d, sensory_area="input", label_area="label", present_steps=50, epochs=3,
                        seed=4)
    assert len(s.probe_t) == 3 * (4 + 4) and s.end == 3 * 8 * 50
    np.testing.assert_array_equal(s.probe_t, s.meta["t0"] + 49)
    np.testing.assert_array_equal(np.diff(s.meta["t0"]), 50)
    assert s.meta["split_names"] == SPLITS
    split = s.meta["split"]
    assert split.tolist() == ([0] * 4 + [1] * 4) * 3
    assert s.meta["epoch"].tolist() == [0] * 8 + [1] * 8 + [2] * 8
    train = split == 0
    np.testing.assert_array_equal(s.meta["target"][train], d.y_train[s.meta["sample"][train]])
    np.testing.assert_array_equal(s.readout, xor_net.neurons_of("label"))
    assert np.all(np.diff(s.ev_t) >= 0)


def test_test_presentations_can_last_longer_than_training_ones(xor_net):
    """``test_present_steps``: each test presentation (the network's free inference time)
    lasts that long, training ones ``present_steps``; probes stay at each one's last step."""
    d = load_dataset("xor")
    s = stream_schedule(xor_net, d, sensory_area="input", label_area="label", present_steps=20,
                        test_present_steps=70, epochs=2, seed=4)
    split, t0 = s.meta["split"], s.meta["t0"]
    length = np.diff(np.append(t0, s.end))
    assert length[split == 0].tolist() == [20] * 8 and length[split == 1].tolist() == [70] * 8
    np.testing.assert_array_equal(s.probe_t, t0 + length - 1)
    assert s.end == 2 * (4 * 20 + 4 * 70) and s.meta["test_present_steps"] == 70


def test_stream_clamps_unclamps_and_modulates_at_the_right_times(xor_net):
    d = load_dataset("xor")
    s = stream_schedule(xor_net, d, sensory_area="input", label_area="label", present_steps=20, epochs=2,
                        shuffle=False, label_on=0.9, label_off=-0.9)
    sens, lab = xor_net.neurons_of("input"), xor_net.neurons_of("label")
    # nothing but clamp / unclamp / modulate, only to the sensory and label neurons (no reset)
    assert set(np.unique(s.ev_kind)) <= {EV_CLAMP, EV_UNCLAMP, EV_MODULATE}
    assert set(s.ev_neuron.tolist()) <= set(sens.tolist()) | set(lab.tolist()) | {-1}
    hidden = xor_net.neurons_of("hidden1")
    assert not np.isin(s.ev_neuron, hidden).any()
    for p, t0 in enumerate(s.meta["t0"]):
        n, v = _at(s, t0, EV_CLAMP)
        k = s.meta["sample"][p]
        X = d.X_train if s.meta["split"][p] == 0 else d.X_test
        np.testing.assert_array_equal(v[np.isin(n, sens)], X[k])
        if s.meta["split"][p] == 0:  # training: label clamped to its target
            want = np.where(np.arange(2) == s.meta["target"][p], 0.9, -0.9)
            np.testing.assert_array_equal(n[np.isin(n, lab)], lab)
            np.testing.assert_array_equal(v[np.isin(n, lab)], want)
            assert len(_at(s, t0, EV_UNCLAMP)[0]) == 0
        else:  # test: label free
            assert not np.isin(n, lab).any()
            np.testing.assert_array_equal(_at(s, t0, EV_UNCLAMP)[0], lab)
    mod_t = s.ev_t[s.ev_kind == EV_MODULATE]
    mod_v = s.ev_value[s.ev_kind == EV_MODULATE]
    assert np.all(s.ev_neuron[s.ev_kind == EV_MODULATE] == -1)
    # freeze when each test block starts, thaw when training resumes
    assert mod_t.tolist() == [80, 160, 240] and mod_v.tolist() == [0.0, 1.0, 0.0]


def test_no_freeze_and_final_test_only(xor_net):
    d = load_dataset("xor")
    s = stream_schedule(xor_net, d, sensory_area="input", label_area="label", present_steps=10, epochs=3,
                        freeze_at_test=False, test_every_epoch=False)
    assert not np.any(s.ev_kind == EV_MODULATE)
    assert s.meta["split"].tolist() == [0] * 12 + [1] * 4
    assert np.all(s.meta["epoch"][-4:] == 2)


def test_shuffle_permutes_each_epoch_deterministically():
    c = compile_network(layered([4, 3]), h=0.1)
    d = load_dataset("sklearn:iris", max_train=30, max_test=5)
    kw = dict(sensory_area="input", label_area="label", present_steps=5, epochs=2, test_every_epoch=False)
    s = stream_schedule(c, d, seed=1, **kw)
    train = s.meta["split"] == 0
    e0, e1 = s.meta["sample"][train][:30], s.meta["sample"][train][30:]
    assert sorted(e0.tolist()) == list(range(30)) == sorted(e1.tolist())
    assert e0.tolist() != e1.tolist() and e0.tolist() != list(range(30))
    again = stream_schedule(c, d, seed=1, **kw)
    np.testing.assert_array_equal(s.ev_value, again.ev_value)
    flat = stream_schedule(c, d, seed=1, shuffle=False, **kw)
    assert flat.meta["sample"][:30].tolist() == list(range(30))


def test_train_eval_presents_fixed_training_samples_label_free(xor_net):
    c = compile_network(layered([4, 3]), h=0.1)
    d = load_dataset("sklearn:iris", max_train=30, max_test=5)
    s = stream_schedule(c, d, sensory_area="input", label_area="label", present_steps=5, epochs=2,
                        train_subset_eval=7)
    ev = s.meta["split"] == SPLITS.index("train_eval")
    assert ev.sum() == 14
    a, b = s.meta["sample"][ev][:7], s.meta["sample"][ev][7:]
    np.testing.assert_array_equal(a, b)
    lab = c.neurons_of("label")
    for t0 in s.meta["t0"][ev]:
        np.testing.assert_array_equal(_at(s, t0, EV_UNCLAMP)[0], lab)
        assert not np.isin(_at(s, t0, EV_CLAMP)[0], lab).any()


def test_label_delay_frees_the_label_until_its_clamp(xor_net):
    s = stream_schedule(xor_net, load_dataset("xor"), sensory_area="input", label_area="label",
                        present_steps=30, epochs=1, label_delay_steps=10)
    lab = xor_net.neurons_of("label")
    t0 = s.meta["t0"][0]
    np.testing.assert_array_equal(_at(s, t0, EV_UNCLAMP)[0], lab)
    np.testing.assert_array_equal(_at(s, t0 + 10, EV_CLAMP)[0], lab)
    with pytest.raises(SpecError, match="present_steps"):
        stream_schedule(xor_net, load_dataset("xor"), sensory_area="input", label_area="label",
                        present_steps=11, epochs=1, label_delay_steps=10)


def test_generate_block_in_the_generative_direction():
    c = compile_network(layered([64, 16, 10], "generative", shapes={"input": (8, 8)}), h=0.1)
    d = load_dataset("sklearn:digits", max_train=20, max_test=5)
    s = stream_schedule(c, d, sensory_area="input", label_area="label", present_steps=10, epochs=1,
                        generate={"present_steps": 40})
    lab, img = c.neurons_of("label"), c.neurons_of("input")
    gen = s.meta["split"] == SPLITS.index("generate")
    assert gen.sum() == 10 and s.meta["target"][gen].tolist() == list(range(10))
    np.testing.assert_array_equal(s.readout, np.concatenate([lab, img]))
    assert s.meta["readout_slices"] == {"label": (0, 10), "image": (10, 74)}
    np.testing.assert_array_equal(s.meta["generate_readout"], img)
    t0s = s.meta["t0"][gen]
    np.testing.assert_array_equal(np.diff(t0s), 40)
    assert s.end == t0s[-1] + 40
    assert s.ev_value[s.ev_kind == EV_MODULATE][-1] == 0.0  # frozen since the test block
    thawed = stream_schedule(c, d, sensory_area="input", label_area="label", present_steps=10, epochs=1,
                             freeze_at_test=False, generate={"present_steps": 40})
    mod = thawed.ev_kind == EV_MODULATE
    assert thawed.ev_t[mod].tolist() == [t0s[0]] and thawed.ev_value[mod].tolist() == [0.0]
    for k, t0 in enumerate(t0s):
        n, v = _at(s, t0, EV_CLAMP)
        np.testing.assert_array_equal(n, lab)
        np.testing.assert_array_equal(v, np.eye(10)[k])
        np.testing.assert_array_equal(_at(s, t0, EV_UNCLAMP)[0], img)
    # images read out of a (fake) run: one per class, image-shaped
    fake = np.tile(np.arange(74.0), (len(s.probe_t), 1))
    imgs = generated_images(fake, s)
    assert sorted(imgs) == list(range(10)) and imgs[3].shape == (8, 8)


def test_stream_rejects_bad_arguments(xor_net):
    d = load_dataset("xor")
    kw = dict(sensory_area="input", label_area="label", present_steps=10, epochs=1)
    with pytest.raises(SpecError, match="no area 'nope'"):
        stream_schedule(xor_net, d, **{**kw, "label_area": "nope"})
    with pytest.raises(SpecError, match="environment delay"):
        stream_schedule(xor_net, d, **{**kw, "present_steps": 1})
    with pytest.raises(SpecError, match="3 neurons but xor has 2 features"):
        stream_schedule(xor_net, d, **{**kw, "sensory_area": "hidden1"})
    with pytest.raises(SpecError, match="epochs"):
        stream_schedule(xor_net, d, **{**kw, "epochs": 0})
    with pytest.raises(SpecError, match="generate.classes"):
        stream_schedule(xor_net, d, **kw, generate={"present_steps": 5, "classes": [2]})


# -- constant clamps -----------------------------------------------------------------------

def test_clamp_schedule_for_the_springs_circuit():
    c = compile_network(layered([1, 1, 1], "generative", activation="linear"), h=0.1)
    s = clamp_schedule(c, {"label": 2.0, "input": [0.5]}, steps=100, probe_every=10)
    assert s.ev_t.tolist() == [0, 0] and set(s.ev_kind.tolist()) == {EV_CLAMP}
    assert dict(zip(s.ev_neuron.tolist(), s.ev_value.tolist())) == {
        int(c.neurons_of("label")[0]): 2.0, int(c.neurons_of("input")[0]): 0.5}
    assert s.probe_t.tolist() == list(range(9, 100, 10)) and s.end == 100
    assert len(s.readout) == 3 and s.meta["protocol"] == "constant"
    only = clamp_schedule(c, {}, steps=5, readout=["hidden1"])
    np.testing.assert_array_equal(only.readout, c.neurons_of("hidden1"))
    with pytest.raises(SpecError, match="one per neuron"):
        clamp_schedule(c, {"label": [1.0, 2.0]}, steps=10)
    with pytest.raises(SpecError, match="no area"):
        clamp_schedule(c, {"top": 1.0}, steps=10)


# -- read-outs -----------------------------------------------------------------------------

def test_accuracy_from_perfect_and_partial_runs(xor_net):
    s = stream_schedule(xor_net, load_dataset("xor"), sensory_area="input", label_area="label",
                        present_steps=10, epochs=2, train_subset_eval=2)
    perfect = np.eye(2)[s.meta["target"]]
    a = accuracy_from(perfect, s)
    assert a.final == {"train": 1.0, "test": 1.0, "train_eval": 1.0}
    np.testing.assert_array_equal(a.per_epoch["test"], [1.0, 1.0])
    wrong = np.eye(2)[1 - s.meta["target"]]
    assert accuracy_from(wrong, s).final["test"] == 0.0
    # a run stopped in the middle of epoch 1's test block: that block does not count
    cut = np.flatnonzero(s.meta["split"] == 1)[-2]
    part = accuracy_from(perfect[:cut], s)
    assert np.isnan(part.per_epoch["test"][1]) and part.final["test"] == 1.0
    assert a.as_dict()["final"]["test"] == 1.0


def test_single_output_threshold_and_argmax():
    assert predicted_classes(np.array([[0.2], [0.7]]), 0.5).tolist() == [0, 1]
    assert predicted_classes(np.array([[0.2], [0.7]]), 0.8).tolist() == [0, 0]
    assert predicted_classes(np.array([[0.1, 0.3, 0.2], [1, 1, 0]])).tolist() == [1, 0]
    c = compile_network(layered([2, 2, 1]), h=0.1)
    s = stream_schedule(c, load_dataset("xor"), sensory_area="input", label_area="label",
                        present_steps=10, epochs=1, label_on=1.0, label_off=-1.0)
    assert s.meta["threshold"] == 0.0
    x = np.where(s.meta["target"] == 1, 0.3, -0.3).reshape(-1, 1)
    assert accuracy_from(x, s).final["test"] == 1.0
    with pytest.raises(SpecError, match="probe_x"):
        accuracy_from(np.zeros((3, 2)), s)


# -- compact schedules: frames ---------------------------------------------------------------

def _explicit_stream(c, d, *, P, epochs, shuffle=True, seed=0, label_on=1.0, label_off=0.0, freeze_at_test=True,
                     test_every_epoch=True, L=0, train_eval=0, generate=None, anneal=1.0, Pt=None):
    """The stream protocol laid out one message per row, as stream_schedule did before
    frames: (t, kind, neuron, value) columns in schedule order."""
    from asyncpc._seed import rng_for

    sens, lab = c.neurons_of("input").astype(np.int32), c.neurons_of("label").astype(np.int32)
    Pt = P if Pt is None else Pt
    rows, gain = [], [1.0]

    def add(t, kind, neuron, value):
        t = np.asarray(t, np.int64).ravel()
        rows.append((t, np.full(len(t), kind, np.int8), np.broadcast_to(np.asarray(neuron, np.int32), t.shape),
                     np.broadcast_to(np.asarray(value, np.float64), t.shape)))

    def set_gain(t, g):
        if gain[0] != g:
            add([t], EV_MODULATE, -1, g)
            gain[0] = g

    def block(t, P, X, targets, g, free=None, sensory=sens, delay=0):
        n = len(X) if targets is None else len(targets)
        if n == 0:
            return t
        t0 = t + np.arange(n, dtype=np.int64) * P
        set_gain(t, g)
        if targets is None or delay > 0:
            add(np.repeat(t0, len(lab)), EV_UNCLAMP, np.tile(lab, n), 0.0)
        if free is not None:
            add(np.repeat(t0, len(free)), EV_UNCLAMP, np.tile(free, n), 0.0)
        if len(sensory):
            add(np.repeat(t0, len(sensory)), EV_CLAMP, np.tile(sensory, n), np.asarray(X, np.float64).ravel())
        if targets is not None:
            add(np.repeat(t0 + delay, len(lab)), EV_CLAMP, np.tile(lab, n), np.asarray(targets, np.float64).ravel())
        return int(t + n * P)

    T = d.targets(d.y_train, len(lab), label_on, label_off)
    shuffler = rng_for(seed, 1)
    n_eval = min(train_eval, len(d.y_train))
    eval_idx = np.sort(rng_for(seed, 2).permutation(len(d.y_train))[:n_eval])
    test_gain = 0.0 if freeze_at_test else 1.0
    t = 0
    for epoch in range(epochs):
        order = shuffler.permutation(len(d.y_train)) if shuffle else np.arange(len(d.y_train))
        t = block(t, P, d.X_train[order], T[order], float(anneal) ** epoch, delay=L)
        if test_every_epoch or epoch == epochs - 1:
            t = block(t, Pt, d.X_test, None, test_gain)
            t = block(t, Pt, d.X_train[eval_idx], None, test_gain)
    if generate is not None:
        classes = np.asarray(generate.get("classes", range(d.n_classes)))
        set_gain(t, 0.0)
        block(t, generate["present_steps"], np.zeros((len(classes), 0)), d.targets(classes, len(lab), label_on,
              label_off), 0.0, free=sens, sensory=np.zeros(0, np.int32))
    cols = [np.concatenate([r[k] for r in rows]) for k in range(4)]
    order = np.argsort(cols[0], kind="stable")
    return tuple(col[order] for col in cols)


STREAM_CASES = [
    dict(P=20, epochs=3, train_eval=50, seed=3),
    dict(P=30, epochs=2, L=7, Pt=25, anneal=0.7, freeze_at_test=False, test_every_epoch=False, label_on=0.9,
         label_off=-0.2, shuffle=False),
    dict(P=20, epochs=2, L=3, train_eval=5, generate={"present_steps": 40, "classes": [3, 1]}),
]


@pytest.mark.parametrize("case", STREAM_CASES, ids=["train-test-eval", "label-delay-anneal", "generate"])
def test_stream_frames_are_the_explicit_messages_of_before(case):
    """The stream protocol as frames stands for exactly the messages it laid out one by one
    before: same steps, kinds, receivers, values (float64) and order within a step."""
    d = load_dataset("sklearn:digits")
    direction = "generative" if "generate" in case else "discriminative"
    c = compile_network(layered([64, 16, 10], direction), h=0.1)
    kw = dict(case)
    s = stream_schedule(c, d, sensory_area="input", label_area="label", present_steps=kw.pop("P"),
                        epochs=kw.pop("epochs"), label_delay_steps=kw.pop("L", 0),
                        train_subset_eval=kw.pop("train_eval", None), test_present_steps=kw.pop("Pt", None),
                        env_delay=2, **kw)
    want = _explicit_stream(c, d, **case)
    assert len(s.frames) > 0 and len(s.ex_t) < 10  # the presentations are frames, not rows
    assert s.n_events == len(want[0]) == s.count()
    for got, exp in zip((s.ev_t, s.ev_kind, s.ev_neuron, s.ev_value), want):
        assert got.dtype == exp.dtype
        np.testing.assert_array_equal(got, exp)
    flat = s.expanded()
    assert flat.frames == () and flat.n_events == s.n_events
    for got, exp in zip((flat.ex_t, flat.ex_kind, flat.ex_neuron, flat.ex_value), want):
        np.testing.assert_array_equal(got, exp)
    # any window of send steps is the slice of the whole stream
    rng = np.random.default_rng(0)
    for lo, hi in [(0, s.end), (-5, 1), (s.end - 3, s.end + 10)] + [tuple(sorted(rng.integers(-2, s.end + 2, 2)))
                                                                    for _ in range(20)]:
        sel = (want[0] >= lo) & (want[0] < hi)
        got = s.events(lo, hi)
        assert s.count(lo, hi) == sel.sum() == len(got[0])
        for g, exp in zip(got, want):
            np.testing.assert_array_equal(g, exp[sel])


def test_windows_cut_a_stretch_into_pieces_of_bounded_size():
    d = load_dataset("sklearn:digits", max_train=40, max_test=10)
    c = compile_network(layered([64, 8, 10]), h=0.1)
    s = stream_schedule(c, d, sensory_area="input", label_area="label", present_steps=10, epochs=2,
                        label_delay_steps=3)
    t_all = s.ev_t
    for lo, hi, cap in [(0, s.end, 500), (13, 777, 200), (0, s.end, 74), (0, s.end, 10), (5, 6, 1), (0, s.end, 10**9)]:
        w = s.windows(lo, hi, cap)
        assert w[0][0] == lo and w[-1][1] == hi and all(a < b for a, b in w)
        assert all(w[k][1] == w[k + 1][0] for k in range(len(w) - 1))
        for a, b in w:
            n = s.count(a, b)
            steps = np.unique(t_all[(t_all >= a) & (t_all < b)])
            assert n <= cap or len(steps) == 1  # a step alone over the limit is its own window
        parts = [s.events(a, b) for a, b in w]
        for k, col in enumerate(s.events(lo, hi)):
            np.testing.assert_array_equal(np.concatenate([p[k] for p in parts]), col)
    assert s.windows(5, 5, 10) == []


def test_frames_order_within_a_step_and_from_events():
    """Explicit events of a step come first, then each Frames in order, its neurons in order."""
    X = np.arange(12.0).reshape(4, 3).astype(np.float32)
    f1 = Frames([0, 5, 5], [4, 2, 7], EV_CLAMP, X, rows=[3, 0, 1])
    f2 = Frames([5], [1], EV_UNCLAMP)
    s = Schedule.from_events([(5, EV_MODULATE, -1, 0.5), (9, EV_CLAMP, 2, -1.0)], frames=[f1, f2], env_delay=2)
    assert s.end == 12 and s.n_events == 2 + 9 + 1
    t, k, n, v = s.events()
    assert t.tolist() == [0, 0, 0, 5, 5, 5, 5, 5, 5, 5, 5, 9]
    assert k.tolist() == [0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 0]
    assert n.tolist() == [4, 2, 7, -1, 4, 2, 7, 4, 2, 7, 1, 2]
    assert v.tolist() == [9, 10, 11, 0.5, 0, 1, 2, 3, 4, 5, 0, -1]
    assert v.dtype == np.float64 and s.events(1, 5)[0].size == 0
    assert repr(s).startswith("Schedule(0 probes, 12 steps, 12 environment messages")


def test_frames_are_checked():
    X = np.zeros((3, 2))
    with pytest.raises(SpecError, match=r"frames.values: expected shape \(rows, 2\)"):
        Frames([0], [1, 2], EV_CLAMP, np.zeros((3, 3)))
    with pytest.raises(SpecError, match="frames.rows: expected 2 integer row indices"):
        Frames([0, 1], [1, 2], EV_CLAMP, X, rows=[0])
    with pytest.raises(SpecError, match="frames.rows: given without frames.values"):
        Frames([0], [1], EV_UNCLAMP, rows=[0])
    bad = {r"frames\[0\].neurons\[1\]: neuron 9 out of range": Frames([0], [1, 9], EV_CLAMP, X),
           r"frames\[0\].t: must be sorted": Frames([3, 1], [1, 2], EV_CLAMP, X),
           r"frames\[0\].rows: row indices must be in 0..2": Frames([0], [1, 2], EV_CLAMP, X, rows=[3]),
           r"frames\[0\].values: 3 rows for 4 frames": Frames([0, 1, 2, 3], [1, 2], EV_CLAMP, X),
           r"frames\[0\].kind: must be 0": Frames([0], [1, 2], 7, X)}
    for msg, f in bad.items():
        with pytest.raises(SpecError, match=msg):
            Schedule.from_events([], frames=[f]).validate(5)
    Schedule.from_events([], frames=[Frames([0, 1], [-1], EV_MODULATE, np.ones((2, 1)))]).validate(5)


def test_a_long_stream_is_held_in_a_few_bytes_per_presentation():
    """20 epochs of digits: ~41 bytes per presentation (its metadata, which the frames' steps
    and rows are views of), not ~1.7 kB of explicit messages; built without laying it out."""
    import tracemalloc

    d = load_dataset("sklearn:digits")
    c = compile_network(layered([64, 16, 10]), h=0.1)
    tracemalloc.start()
    s = stream_schedule(c, d, sensory_area="input", label_area="label", present_steps=20, epochs=20,
                        label_delay_steps=2)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    n = len(s.probe_t)
    assert s.n_events > 80 * n  # 1.7 kB per presentation laid out explicitly
    assert s.nbytes() <= 50 * n and peak <= 80 * n, (s.nbytes() / n, peak / n)
    assert s.nbytes(referenced=True) - s.nbytes() >= d.X_train.nbytes  # the data are read, not copied
    assert "_all" not in s.__dict__  # nothing was laid out

"""The scenario file format (asyncpc.scenario): parsing, validation, overrides, round trip."""

from __future__ import annotations

import glob
import math
import os
import re
import tomllib

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncpc.environment import EV_MODULATE
from asyncpc.errors import AsyncPCError, ScenarioError
from asyncpc.model import layered, to_graphml
from asyncpc.scenario import Scenario, apply_overrides, load_scenario, parse_scenario
from asyncpc.scenario._toml import KeyLines

HERE = os.path.dirname(__file__)
BAD = sorted(glob.glob(os.path.join(HERE, "scenarios_bad", "*.toml")))
DOCS = os.path.join(HERE, "..", "docs", "scenarios.md")

DIGITS = """\
[run]
name = "digits-demo"
seed = 3

[network]
sizes = [64, 16, 10]
activation = "relu"
output_activation = "linear"
rf = { input = 4 }
rf_stride = { input = 2 }

[neurons]
tau_x = 1.0
tau_e = 0.2

[neurons.clock]
period = { dist = "uniform", low = 0.1, high = 0.2 }
phase = "random"

[delays]
forward = { dist = "lognormal", mean = 0.3, sd = 0.1, offset = 0.1 }
feedback = 0.2

[messages]
send = "on_delta"
threshold = 0.001
loss = 0.01
jitter = 0.1

[learning]
eta = 0.01
decay = 1e-6

[data]
source = "sklearn:digits"
present = 2.0
epochs = 2
max_train = 30
max_test = 10
train_eval = 5

[data.generate]
present = 3.0

[trace]
enabled = true
neurons = ["input:0-3", "label", "hidden1:2"]
roles = ["predict", "environment"]
from = 1.0
to = 5.0
"""

AREA_GRAPH = """\
[network]
kind = "area_graph"
activation = "tanh"
allow_cycles = false

[network.areas.retina]
size = 4
role = "sensory"
shape = [2, 2]

[network.areas.v1]
size = 3
tau_x = 2.0

[network.areas.out]
size = 3
role = "label"
activation = "linear"

[[network.projections]]
src = "retina"
dst = "v1"
rf = 1
delay = { dist = "gamma", mean = 0.4, sd = 0.1 }

[[network.projections]]
src = "v1"
dst = "out"
p = 0.9
eta = 0.002
feedback_delay = 0.5

[data]
source = "sklearn:iris"
normalize = "zscore"
present = 1.0
"""

SPRINGS = """\
[network]
sizes = [1, 1, 1]
direction = "generative"
activation = "linear"

[data]
source = "constant"
duration = 20.0
probe_every = 0.5

[data.clamps]
label = 1.0
input = [0.25]

[readout]
area = ["hidden1"]
"""


def write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def graphml_scenario(tmp_path):
    net = layered([2, 3, 2], activation="tanh", seed=5)
    to_graphml(net, tmp_path / "net.graphml")
    return write(tmp_path, '[network]\nkind = "graphml"\npath = "net.graphml"\n\n[data]\nsource = "xor"\n'
                           'present = 1.0\n\n[delays]\nenvironment = 0.2\n\n[learning]\nfreeze_at_test = false\n',
                 "g.toml")


def csv_scenario(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "pts.csv").write_text("x,y,label\n" + "".join(
        f"{i % 3},{i % 5},{i % 2}\n" for i in range(20)))
    return write(tmp_path, '[network]\nsizes = [2, 2]\n[data]\nsource = "d/pts.csv"\ntest_fraction = 0.25\n',
                 "c.toml")


# -- round trip ----------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda p: write(p, DIGITS), lambda p: write(p, AREA_GRAPH), lambda p: write(p, SPRINGS),
    graphml_scenario, csv_scenario, lambda p: write(p, '[network]\nsizes = [2, 2]\n[data]\nsource = "xor"\n'),
], ids=["digits", "area_graph", "springs", "graphml", "csv", "minimal"])
def test_resolved_round_trip_gives_an_equal_scenario(tmp_path, make):
    s = load_scenario(make(tmp_path))
    out = tmp_path / "elsewhere"
    out.mkdir()
    s.to_toml(out / "resolved.toml")
    again = load_scenario(out / "resolved.toml")
    assert again == s
    assert again.hash() == s.hash() and len(s.hash()) == 64
    assert again.resolved() == s.resolved()
    # the resolved file is complete: its own resolution adds nothing
    assert tomllib.loads(again.to_toml()) == again.resolved()


def test_defaults_are_filled_in(tmp_path):
    s = load_scenario(write(tmp_path, '[network]\nsizes = [64, 10]\n[data]\nsource = "sklearn:digits"\n',
                            "tiny.toml"))
    r = s.resolved()
    assert r["run"] == {"name": "tiny", "seed": 0, "runtime": "engine", "threads": 0, "h": 0.1}
    assert r["network"]["shapes"] == {"input": [8, 8]}  # digits are 8x8 images
    assert r["network"]["names"] == ["input", "label"]
    assert r["delays"] == {"forward": 0.1, "feedback": 0.1, "partner": 0.1, "environment": 0.1}
    assert r["neurons"]["clock"] == {"period": 0.1, "phase": "zero", "jitter": 0.0}
    assert r["learning"]["eta_b"] == r["learning"]["eta"] == 0.0
    assert r["data"]["present"] == 20.0 and r["data"]["sensory_area"] == "input"
    assert r["readout"] == {"area": "label"}
    assert r["output"] == {"dir": "runs/tiny", "plots": True, "checkpoint_every": 0,
                           "target_accuracy": 0.9, "plot_format": "png"}
    assert s.network.areas[0].shape == (8, 8)


def test_hash_changes_with_any_setting(tmp_path):
    p = write(tmp_path, DIGITS)
    a = load_scenario(p)
    assert load_scenario(p).hash() == a.hash()
    assert load_scenario(p, ["learning.eta=0.02"]).hash() != a.hash()
    assert load_scenario(p, ["learning.eta=0.02"]) != a


def test_specs_are_typed_and_frozen(tmp_path):
    s = load_scenario(write(tmp_path, DIGITS))
    assert isinstance(s, Scenario)
    assert s.run.seed == 3 and isinstance(s.data.present, float) and s.data.epochs == 2
    assert s.delays.forward["dist"] == "lognormal" and s.delays.feedback == 0.2
    assert s.trace.roles == ("predict", "environment") and s.trace.to_ms == 5.0
    with pytest.raises(AttributeError):
        s.run.seed = 4
    with pytest.raises(TypeError):
        s.delays.forward["mean"] = 1.0


# -- overrides -----------------------------------------------------------------------------

def test_apply_overrides_parses_toml_values_and_creates_tables():
    raw = {"data": {"epochs": 3}, "network": {"projections": [{"p": 1.0}, {"p": 1.0}]}}
    out = apply_overrides(raw, ["data.epochs=1", "delays.forward.mean=0.3", "network.sizes=[64,32,10]",
                                "data.source=sklearn:digits", "run.name = my run", 'run.x="quoted"',
                                "learning.freeze_at_test=false", "network.projections[1].p=0.5",
                                "network.projections.0.p=0.25", "delays.forward.x={a=1}"])
    assert out["data"] == {"epochs": 1, "source": "sklearn:digits"}
    assert out["delays"]["forward"] == {"mean": 0.3, "x": {"a": 1}}
    assert out["network"]["sizes"] == [64, 32, 10]
    assert out["run"] == {"name": "my run", "x": "quoted"}
    assert out["learning"]["freeze_at_test"] is False
    assert [p["p"] for p in out["network"]["projections"]] == [0.25, 0.5]
    assert raw["data"]["epochs"] == 3  # the input is not modified


@pytest.mark.parametrize("bad,match", [
    ("data.epochs", "expected key.path=value"),
    ("=3", "the key path before '=' is empty"),
    ("data.epochs=", "the value after '=' is empty"),
    ("data..epochs=1", "bad key path"),
    ("data.ep ochs=1", "bad key path"),
    ("data.sizes=[1,", "is not a valid TOML value"),
    ('data.x="open', "is not a valid TOML value"),
    ("data.epochs.x=1", "data.epochs is 3, not a table"),
    ("network.projections[5].p=1", "has 2 element"),
])
def test_malformed_overrides(bad, match):
    raw = {"data": {"epochs": 3}, "network": {"projections": [{}, {}]}}
    with pytest.raises(ScenarioError, match=re.escape(match)) as e:
        apply_overrides(raw, [bad])
    assert "--set" in str(e.value)


def test_overrides_through_load_scenario(tmp_path):
    p = write(tmp_path, DIGITS)
    s = load_scenario(p, ["data.epochs=1", "delays.forward.mean=0.5", "network.sizes=[64,32,10]"])
    assert s.data.epochs == 1 and s.delays.forward["mean"] == 0.5 and s.network.sizes == (64, 32, 10)
    with pytest.raises(ScenarioError, match=r"data\.epochs: must be an integer >= 1, got 0 \(value set by --set\)"):
        load_scenario(p, ["data.epochs=0"])
    with pytest.raises(ScenarioError, match="did you mean 'epochs'"):
        load_scenario(p, "data.epoch=1")


# -- what a scenario builds ----------------------------------------------------------------

def test_layered_network_matches_the_model_builder(tmp_path):
    text = ('[run]\nseed = 7\n[network]\nsizes = [4, 5, 3]\nactivation = "relu"\np = 0.7\n'
            '[delays]\nforward = { dist = "uniform", low = 0.1, high = 0.4 }\npartner = 0.2\n'
            '[learning]\neta = 0.01\n[data]\nsource = "sklearn:iris"\n')
    net = load_scenario(write(tmp_path, text)).build_network()
    from asyncpc.model import Learning
    ref = layered([4, 5, 3], activation="relu", p=0.7, delay={"dist": "uniform", "low": 0.1, "high": 0.4},
                  partner_delay=0.2, learning=Learning(eta=0.01), seed=7)
    assert sorted(net.graph.nodes(data=True)) == sorted(ref.graph.nodes(data=True))
    assert sorted(net.graph.edges(data=True)) == sorted(ref.graph.edges(data=True))
    assert net.graph.graph == ref.graph.graph


def test_feedback_delays_and_area_settings_reach_the_graph(tmp_path):
    s = load_scenario(write(tmp_path, AREA_GRAPH))
    net = s.build_network()
    g = net.graph
    fb = [d["delay"] for u, v, d in g.edges(data=True)
          if d["role"] == "feedback" and g.nodes[v]["area"] == "v1"]
    assert fb and all(x == 0.5 for x in fb)
    taus = {d["tau"] for n, d in g.nodes(data=True) if d["area"] == "v1" and d["kind"] == "value"}
    assert taus == {2.0}
    c = s.compile(net)
    assert c.area_shapes["retina"] == (2, 2)


def test_load_data_and_schedule_from_a_scenario(tmp_path):
    s = load_scenario(write(tmp_path, DIGITS))
    c = s.compile()
    d = s.load_data()
    assert (len(d.X_train), len(d.X_test), d.image_shape) == (30, 10, (8, 8))
    sch = s.schedule(c, d)
    n = 2 * (30 + 10 + 5) + 10
    assert len(sch.probe_t) == n and sch.end == 2 * 45 * 20 + 10 * 30
    assert sch.meta["readout_slices"]["image"] == (10, 74)
    assert sch.env_delay == 1
    # data.test_present: test and train_eval presentations last 5 ms (50 steps), training 2 ms
    s = load_scenario(write(tmp_path, DIGITS.replace("present = 2.0", "present = 2.0\ntest_present = 5.0", 1)))
    sch = s.schedule(c, d)
    assert sch.end == 2 * (30 * 20 + 15 * 50) + 10 * 30 and sch.meta["test_present_steps"] == 50


def test_graphml_and_constant_schedules(tmp_path):
    g = load_scenario(graphml_scenario(tmp_path))
    c = g.compile()
    sch = g.schedule(c)
    assert sch.meta["sensory_area"] == "input" and sch.meta["label_area"] == "label"
    assert sch.env_delay == 2 and not np.any(sch.ev_kind == EV_MODULATE)  # freeze_at_test = false
    s = load_scenario(write(tmp_path, SPRINGS))
    assert s.load_data() is None
    c = s.compile()
    sch = s.schedule(c)
    assert len(sch.probe_t) == 40 and sch.end == 200 and len(sch.readout) == 1


def test_csv_source_is_relative_to_the_scenario_file(tmp_path, monkeypatch):
    p = csv_scenario(tmp_path)
    monkeypatch.chdir("/")
    s = load_scenario(p)
    assert s.data.source == str(tmp_path / "d" / "pts.csv")
    d = s.load_data()
    assert d.n_features == 2 and len(d.X_test) == 5


def test_build_time_errors_name_the_file_and_key(tmp_path):
    text = '[network]\nsizes = [4, 3]\n[delays]\nforward = { dist = "normal", mean = 0.2, sd = 3.0 }\n' \
           '[data]\nsource = "sklearn:iris"\n'
    p = write(tmp_path, text)
    with pytest.raises(ScenarioError) as e:
        load_scenario(p).build_network()
    assert e.value.file == str(p) and e.value.key == "delays.forward" and e.value.line == 4
    p2 = write(tmp_path, '[network]\nsizes = [4, 2]\n[data]\nsource = "d.csv"\n', "x.toml")
    (tmp_path / "d.csv").write_text("1,2,3,0\n4,5,6,1\n1,1,1,0\n2,2,2,1\n")
    with pytest.raises(ScenarioError, match=r"x\.toml:2: network\.sizes\[0\]: .* has 3 features"):
        load_scenario(p2).load_data()


# -- errors --------------------------------------------------------------------------------

def test_error_carries_file_key_and_line(tmp_path):
    p = write(tmp_path, '[network]\nsizes = [2, 2]\n\n[data]\nsource = "xor"\n\n'
                        '[delays]\nforward = { dist = "lognormal", mean = -1, sd = 0.1 }\n')
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    assert (e.value.file, e.value.key, e.value.line) == (str(p), "delays.forward.mean", 8)
    assert str(e.value) == f"{p}:8: delays.forward.mean: must be > 0 ms, got -1"


def test_missing_file_and_syntax_errors(tmp_path):
    with pytest.raises(ScenarioError, match="scenario file not found"):
        load_scenario(tmp_path / "nope.toml")
    p = write(tmp_path, '[run]\nseed = 1\n\n[data]\nsource = "xor\n')
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    assert e.value.line == 5 and "TOML syntax" in str(e.value) and str(p) in str(e.value)
    p.write_bytes(b'[run]\nname = "\xff"\n')
    with pytest.raises(ScenarioError, match="UTF-8"):
        load_scenario(p)


def test_key_lines_of_every_toml_construct():
    text = """# comment
[run]
name = "x"  # trailing comment
"quoted key" = 1
a.b.c = 2
desc = \"\"\"
line
\"\"\"
sizes = [
    1,  # one
    2,
]

[[network.projections]]
src = "a"
delay = { dist = "uniform", low = 0.1, high = 0.2 }

[network.projections.extra]
k = 1

[[network.projections]]
src = "b"
"""
    tomllib.loads(text)  # valid TOML
    k = KeyLines(text)
    assert k.exact(("run", "name")) == 3 and k.exact(("run", "quoted key")) == 4
    assert k.exact(("run", "a", "b", "c")) == 5 and k.exact(("run", "sizes")) == 9
    assert k.exact(("run", "sizes", 1)) == 11
    assert k.exact(("network", "projections", 0, "delay", "high")) == 16
    assert k.exact(("network", "projections", 0, "extra", "k")) == 19
    assert k.exact(("network", "projections", 1, "src")) == 22
    assert k.find(("network", "projections", 1, "missing")) == 21
    assert k.find(("nothing",)) is None


@pytest.mark.parametrize("path", BAD, ids=[os.path.basename(p)[:-5] for p in BAD])
def test_bad_scenario_corpus(path):
    with open(path) as fh:
        first = fh.readline()
    assert first.startswith("# expect:"), f"{path}: first line must be '# expect: <substring>'"
    expect = first.split(":", 1)[1].strip()
    with pytest.raises(ScenarioError) as e:
        s = load_scenario(path)
        c = s.compile()  # some rules can only be checked once the network or the data exist
        s.schedule(c, s.load_data())
    msg = str(e.value)
    assert expect in msg
    assert msg.startswith(path) and "\n" not in msg
    assert e.value.key or "TOML syntax" in msg


def test_the_corpus_is_large_enough():
    assert len(BAD) >= 50


# -- fuzz ----------------------------------------------------------------------------------

_KEYS = ["run", "network", "neurons", "clock", "delays", "messages", "learning", "data", "readout", "trace",
         "output", "name", "seed", "runtime", "threads", "h", "kind", "sizes", "names", "direction",
         "activation", "output_activation", "p", "rf", "rf_stride", "shapes", "areas", "projections", "src",
         "dst", "size", "role", "shape", "tau_x", "tau_e", "x0", "period", "phase", "jitter", "forward",
         "feedback", "partner", "environment", "dist", "mean", "sd", "low", "high", "value", "offset", "send",
         "threshold", "loss", "eta", "eta_b", "decay", "feedback_init", "freeze_at_test", "source",
         "test_fraction", "normalize", "present", "epochs", "generate", "clamps", "duration", "probe_every",
         "area", "neurons", "enabled", "roles", "from", "to", "every", "dir", "plots", "input", "label",
         "hidden1", "train_eval", "label_on", "label_off", "path", "n_train", "n_test", "classes", "label_column",
         "train_images", "train_labels", "test_images", "test_labels"]
_WORDS = ["xor", "sklearn:digits", "sklearn:iris", "constant", "layered", "area_graph", "graphml",
          "lognormal", "uniform", "gamma", "normal", "input", "label", "hidden1", "relu", "tanh", "generative",
          "sensory", "random", "on_delta", "transport", "label:0-1", "x.csv", "engine", "actors", "idx",
          "x.parquet", "data/mnist", "t-idx1-ubyte.gz", "/"]
_scalar = st.one_of(st.integers(-3, 100), st.floats(allow_nan=True, allow_infinity=True, width=32),
                    st.booleans(), st.sampled_from(_WORDS), st.text(max_size=6))
_value = st.recursive(_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4)), max_leaves=12)
_BASE = {"network": {"sizes": [2, 3, 2]}, "data": {"source": "xor"}}


def _leaf_paths(d, prefix=()):
    for k, v in d.items():
        yield prefix + (k,)
        if isinstance(v, dict):
            yield from _leaf_paths(v, prefix + (k,))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.lists(st.sampled_from(_KEYS), min_size=1, max_size=3), _value), max_size=5),
       fresh=st.dictionaries(st.sampled_from(_KEYS), _value, max_size=3), use_base=st.booleans())
def test_fuzz_load_scenario_raises_only_scenario_errors(tmp_path, edits, fresh, use_base):
    import copy
    raw = copy.deepcopy(_BASE) if use_base else fresh
    for path, v in edits:
        node = raw
        for k in path[:-1]:
            nxt = node.get(k)
            if not isinstance(nxt, dict):
                nxt = node[k] = {}
            node = nxt
        node[path[-1]] = v
    try:
        text = tomli_w.dumps(raw)
    except (TypeError, ValueError):
        return  # not representable as TOML
    p = tmp_path / "fuzz.toml"
    p.write_text(text)
    lines = KeyLines(text)
    for path in _leaf_paths(raw):  # the line index finds every key tomli_w wrote
        line = lines.exact(path)
        assert line is not None, path
    try:
        s = load_scenario(p)
    except ScenarioError as exc:
        assert str(exc).startswith(str(p))
        return
    # whatever loads, round-trips
    p2 = tmp_path / "again.toml"
    s.to_toml(p2)
    assert load_scenario(p2) == s


def _resolved_bases():
    out = []
    for text in (DIGITS, AREA_GRAPH, SPRINGS):
        raw = tomllib.loads(text)
        raw["data"].pop("max_train", None)
        out.append(parse_scenario(raw).resolved())
    return out


_BASES = _resolved_bases()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=st.integers(0, len(_BASES) - 1), picks=st.lists(st.tuples(st.integers(0, 10**6), _value,
                                                                       st.booleans()), min_size=1, max_size=3))
def test_fuzz_mutated_valid_scenarios(tmp_path, base, picks):
    """Replace or delete real keys of valid scenarios: loading and building raise only
    ScenarioError, and whatever loads round-trips."""
    import copy
    raw = copy.deepcopy(_BASES[base])
    for k, v, delete in picks:
        paths = list(_leaf_paths(raw))
        if not paths:
            break
        path = paths[k % len(paths)]
        node = raw
        for part in path[:-1]:
            node = node[part]
        if delete:
            del node[path[-1]]
        else:
            node[path[-1]] = v
    try:
        text = tomli_w.dumps(raw)
    except (TypeError, ValueError):
        return
    p = tmp_path / "m.toml"
    p.write_text(text)
    try:
        s = load_scenario(p)
        s2 = tmp_path / "again.toml"
        s.to_toml(s2)
        assert load_scenario(s2) == s
        if s.network.kind != "graphml" and sum(a.size for a in s.network.areas) < 400:
            s.compile()
    except ScenarioError as exc:
        assert str(exc).startswith(str(p))


def test_parse_scenario_without_a_file():
    s = parse_scenario({"network": {"sizes": [2, 2]}, "data": {"source": "xor"}}, name="inline")
    assert s.run.name == "inline" and s.path is None
    with pytest.raises(ScenarioError, match=r"^data\.epochs: must be"):
        parse_scenario({"network": {"sizes": [2, 2]}, "data": {"source": "xor", "epochs": -1}})


def test_scenario_errors_are_asyncpc_errors():
    assert issubclass(ScenarioError, AsyncPCError)


# -- docs ----------------------------------------------------------------------------------

def test_every_resolved_key_is_documented(tmp_path):
    with open(DOCS) as fh:
        docs = fh.read()
    for text in (DIGITS, AREA_GRAPH, SPRINGS):
        s = load_scenario(write(tmp_path, text))
        names = {a.name for a in s.network.areas}  # user-chosen table keys
        for path in _leaf_paths(s.resolved()):
            key = [k for k in path if k not in names][-1]
            documented = f"`{key}`" in docs or re.search(rf"`\[\[?([\w.]+\.)?{key}(\.NAME)?\]\]?`", docs)
            assert documented, f"docs/scenarios.md does not document {'.'.join(path)}"


def test_docs_example_loads(tmp_path):
    with open(DOCS) as fh:
        docs = fh.read()
    blocks = re.findall(r"```toml\n(.*?)```", docs, re.S)
    assert blocks, "docs/scenarios.md needs a complete TOML example"
    p = write(tmp_path, max(blocks, key=len), "example.toml")
    s = load_scenario(p)
    c = s.compile()
    sch = s.schedule(c)
    assert len(sch.probe_t) > 0 and math.isfinite(sch.end)


def test_layered_per_projection_eta_reaches_the_synapse_owners(tmp_path):
    """``network.eta = { input = r }``: W at the error neurons input predicts (hidden1) and V
    at input's own value neurons learn at r; every other synapse at ``learning.eta``."""
    text = DIGITS.replace('rf = { input = 4 }', 'rf = { input = 4 }\neta = { input = 0.03 }')
    s = load_scenario(write(tmp_path, text))
    assert s.network.projections[0].eta == 0.03 and s.network.projections[1].eta is None
    g = s.build_network().graph
    rate = {(d["area"], d["kind"]) for n, d in g.nodes(data=True) if d["eta"] == 0.03}
    assert rate == {("input", "value"), ("hidden1", "error")}
    assert {d["eta"] for n, d in g.nodes(data=True) if (d["area"], d["kind"]) not in rate} == {0.01}


# -- a user's data: IDX folders and files, tables, subsets ---------------------------------

IDX_SCN = '[network]\nsizes = [784, 8, 10]\nactivation = "relu"\n\n[data]\nsource = "mnist"\npresent = 1.0\n'


def test_idx_folder_source_sets_the_image_shape_and_checks_sizes_before_reading(tmp_path, idx_folder):
    folder = idx_folder(n_train=40, n_test=20)
    s = load_scenario(write(tmp_path, IDX_SCN))
    assert s.data.source == str(folder) and s.network.areas[0].shape == (28, 28)
    assert s.resolved()["network"]["shapes"] == {"input": [28, 28]}
    d = s.load_data()
    assert d.image_shape == (28, 28) and len(d.y_train) == 40
    sch = s.schedule(s.compile(), d)
    assert sch.meta["image_shape"] == (28, 28) and len(sch.probe_t) == 60
    # the sensory area's size is checked from the IDX header, with the line of network.sizes
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path, IDX_SCN.replace("784", "64")))
    assert e.value.line == 2 and e.value.key == "network.sizes[0]" and "has 784 features" in str(e.value)
    # round trip (absolute paths) and equality
    s.to_toml(tmp_path / "again.toml")
    assert load_scenario(tmp_path / "again.toml") == s


def test_explicit_idx_paths_with_source_idx(tmp_path, idx_folder):
    folder = idx_folder(n_train=40, n_test=20)
    text = ('[network]\nsizes = [784, 8, 10]\n[data]\nsource = "idx"\npresent = 1.0\n'
            'train_images = "mnist/train-images-idx3-ubyte.gz"\ntrain_labels = "mnist/train-labels-idx1-ubyte.gz"\n')
    s = load_scenario(write(tmp_path, text))
    assert s.data.files["train_images"] == str(folder / "train-images-idx3-ubyte.gz")
    assert s.resolved()["data"]["train_labels"] == str(folder / "train-labels-idx1-ubyte.gz")
    d = s.load_data()
    assert (len(d.y_train), len(d.y_test)) == (32, 8)  # test_fraction 0.2 of the training files
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path, text + 'test_images = "mnist/t10k-images-idx3-ubyte.gz"\n'))
    assert e.value.key == "data.test_labels" and "required with data.test_images" in str(e.value)
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path, text.replace("train-labels", "t10k-labels")))
    assert e.value.key == "data.train_labels" and e.value.line == 7 and "holds 20 labels" in str(e.value)
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path, text.replace("train-images-idx3", "train-images-idx9")))
    assert e.value.key == "data.train_images" and e.value.line == 6 and "file not found" in str(e.value)
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path, text.replace('train_labels = "mnist/train-labels-idx1-ubyte.gz"\n', "")))
    assert e.value.key == "data.train_labels" and "required with data.source = 'idx'" in str(e.value)


def test_a_path_given_with_set_is_relative_to_the_working_directory(tmp_path, idx_folder, monkeypatch):
    folder = idx_folder(name="elsewhere")
    (tmp_path / "scn").mkdir()
    p = write(tmp_path / "scn", IDX_SCN)
    monkeypatch.chdir(tmp_path)
    s = load_scenario(p, ["data.source=elsewhere"])
    assert s.data.source == str(folder)
    with pytest.raises(ScenarioError, match=r"four MNIST-format IDX files train-images-idx3-ubyte, .*; there is no "
                                            r"folder .*/scn/mnist\)$"):
        load_scenario(p)  # in the file: relative to the file's folder


@pytest.mark.parametrize("add,key,line,match", [
    ("n_train = 0\n", "data.n_train", 8, "must be an integer >= 1, got 0"),
    ("n_test = 1.5\n", "data.n_test", 8, "must be an integer"),
    ("classes = [1]\n", "data.classes", 8, "at least 2 element"),
    ("classes = [1, 1]\n", "data.classes[1]", 8, "lists class 1 twice"),
    ("classes = [1, 'a']\n", "data.classes[1]", 8, "must be an integer like the other classes"),
    ("classes = [0, -1]\n", "data.classes[1]", 8, "must be an integer >= 0"),
    ("label_column = 'y'\n", "data.label_column", 8, "only used by a .parquet, .arrow or .feather source"),
    ("train_images = 'x'\n", "data.train_images", 8, "only used with data.source = 'idx'"),
    ("n_trian = 5\n", "data.n_trian", 8, "did you mean 'n_train'"),
])
def test_data_subset_keys_are_checked_with_file_line_and_key(tmp_path, idx_folder, add, key, line, match):
    idx_folder()
    with pytest.raises(ScenarioError, match=match) as e:
        load_scenario(write(tmp_path, IDX_SCN + add))
    assert (e.value.key, e.value.line) == (key, line)


def test_subsets_and_class_filter_from_a_scenario(tmp_path, idx_folder):
    idx_folder(n_train=100, n_test=50)
    text = IDX_SCN.replace("10]", "3]") + "n_train = 15\nn_test = 6\nclasses = [4, 2, 9]\n"
    s = load_scenario(write(tmp_path, text))
    assert (s.data.n_train, s.data.n_test, s.data.classes) == (15, 6, (4, 2, 9))
    d = s.load_data()
    assert d.class_names == ("2", "4", "9") and np.bincount(d.y_train).tolist() == [5, 5, 5]
    assert len(d.y_test) == 6
    # a generation block keeps its own classes (indices into the filtered ones); the filter stays
    s = load_scenario(write(tmp_path, text + "[data.generate]\npresent = 5.0\n"))
    assert s.data.classes == (4, 2, 9) and s.data.generate.classes is None
    assert s.load_data().class_names == ("2", "4", "9")
    s = load_scenario(write(tmp_path, text + "[data.generate]\nclasses = [0, 2]\n"))
    assert s.data.classes == (4, 2, 9) and s.data.generate.classes == (0, 2)
    # the label area must code the filtered classes: checked before any data are read
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path, IDX_SCN + "classes = [4, 2, 9]\n"))
    assert e.value.key == "network.sizes[2]" and "has 3 classes" in str(e.value)
    # a class the data lack is found when the data are read, at the line of data.classes
    s = load_scenario(write(tmp_path, IDX_SCN.replace("10]", "2]") + "classes = [4, 12]\n"))
    with pytest.raises(ScenarioError) as e:
        s.load_data()
    assert e.value.key == "data.classes[1]" and e.value.line == 8 and "no class 12" in str(e.value)
    p = write(tmp_path, IDX_SCN + "n_train = 500\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(p).load_data()
    assert str(e.value) == (f"{p}:8: data.n_train: 500 is more than the 100 training samples of "
                            f"{tmp_path / 'mnist'}; expected at most 100")


def test_table_source_and_its_label_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 40
    pq.write_table(pa.table({"f1": np.arange(n) % 7, "f2": np.linspace(0, 1, n), "y": np.arange(n) % 2}),
                   tmp_path / "t.parquet")
    text = '[network]\nsizes = [2, 4, 2]\n[data]\nsource = "t.parquet"\npresent = 1.0\nlabel_column = "y"\n'
    s = load_scenario(write(tmp_path, text))
    assert s.data.label_column == "y" and s.resolved()["data"]["label_column"] == "y"
    d = s.load_data()
    assert d.n_features == 2 and (len(d.y_train), len(d.y_test)) == (32, 8)
    s = load_scenario(write(tmp_path, text.replace('label_column = "y"\n', "")))
    assert s.resolved()["data"]["label_column"] == "label"
    with pytest.raises(ScenarioError) as e:
        s.load_data()
    assert e.value.key == "data.label_column" and e.value.line == 3  # the [data] table: the key is absent
    assert "no column 'label' (the labels)" in str(e.value)


def test_new_data_keys_leave_existing_scenarios_unchanged(tmp_path):
    """No new key is resolved unless set, so existing scenarios keep their resolved file and hash."""
    for text in (DIGITS, AREA_GRAPH, SPRINGS):
        data = load_scenario(write(tmp_path, text)).resolved()["data"]
        assert not {"n_train", "n_test", "classes", "label_column", "train_images"} & set(data)

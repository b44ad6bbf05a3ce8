"""Both runtimes write the same trace for the same scenario and seed."""

from pathlib import Path

import numpy as np

from asyncpc import trace
from asyncpc.cli import main

SC = Path(__file__).resolve().parents[1] / "scenarios"


def test_engine_and_actor_traces_are_identical(tmp_path):
    sets = ["data.epochs=1", "data.present=5.0", "trace.enabled=true", 'trace.neurons=["hidden1:0-3", "label"]',
            "trace.state_every=7", "trace.every=3", "messages.loss=0.1", "messages.jitter=0.2"]
    dirs = {}
    for rt in ("engine", "actors"):
        argv = ["run", str(SC / "xor.toml"), "--out", str(tmp_path / rt), "--quiet", "--runtime", rt]
        for s in sets:
            argv += ["--set", s]
        assert main(argv) == 0
        dirs[rt] = trace.load(tmp_path / rt)
    a, b = dirs["engine"], dirs["actors"]
    assert a.messages.num_rows > 1000
    assert a.messages.equals(b.messages)
    assert a.states.equals(b.states)
    assert np.any(a.messages.column("dropped").to_numpy(zero_copy_only=False))

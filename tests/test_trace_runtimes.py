"""Both runtimes write the same trace for the same scenario and seed."""

from pathlib import Path

import numpy as np
import pytest

from asyncpc import trace
from asyncpc.cli import main

SC = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.mark.parametrize("sets,storage", [
    (['trace.neurons=["hidden1:0-3", "label"]', "trace.every=3"], "messages"),  # narrow, sampled: rows stored
    (["trace.max_rows=4000"], "sends"),  # every message of the net (up to a cut): send events stored
])
def test_engine_and_actor_traces_are_identical(tmp_path, sets, storage, capsys):
    sets = ["data.epochs=1", "data.present=5.0", "trace.enabled=true", "trace.state_every=7", "messages.loss=0.1",
            "messages.jitter=0.2", *sets]
    dirs = {}
    for rt in ("engine", "actors"):
        argv = ["run", str(SC / "xor.toml"), "--out", str(tmp_path / rt), "--quiet", "--runtime", rt]
        for s in sets:
            argv += ["--set", s]
        capsys.readouterr()
        assert main(argv) == 0
        dirs[rt] = trace.load(tmp_path / rt)
        # a trace cut by max_rows says so when the run ends
        assert (dirs[rt].meta["truncated"] == (storage == "sends")
                == ("the trace stopped at trace.max_rows = 4,000 message rows" in capsys.readouterr().err))
    a, b = dirs["engine"], dirs["actors"]
    assert a.storage == b.storage == storage
    assert a.messages.num_rows > 1000
    assert a.messages.equals(b.messages)
    if storage == "sends":
        assert a.sends.equals(b.sends) and a.meta["cut"] == b.meta["cut"] and a.meta["cut"] is not None
        assert a.messages.num_rows == 4000 and a.sends.num_rows < 4000 / 2
    assert a.states.equals(b.states)
    assert np.any(a.messages.column("dropped").to_numpy(zero_copy_only=False))

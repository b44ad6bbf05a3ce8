"""The study tools' arms are scenarios a user can rerun: every arm of
tools/learning_study.py, at every grid value, resolves to a valid scenario (a renamed key or
a typo in an override would otherwise surface only an hour into the study)."""

import importlib.util
import itertools
from pathlib import Path

import pytest

from asyncpc.cli._sweep import parse_grid
from asyncpc.scenario import load_scenario

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


study = _load("learning_study")


@pytest.mark.parametrize("name", list(study.ARMS))
def test_every_arm_of_the_learning_study_is_a_valid_scenario(name):
    scenario, sets, grid = study.arm(name)
    keys, values = zip(*parse_grid(grid).items())
    for combo in itertools.product(*values):
        s = load_scenario(scenario, list(sets) + [f"{k}={v}" for k, v in zip(keys, combo)])
        assert s.data.epochs >= 4


def test_shipped_arms_pin_the_main_jobs_values():
    """SHIPPED repeats scenarios/digits.toml's values so that a later change of the scenario's
    defaults does not silently change what the shipped arms measure; today they agree."""
    shipped = load_scenario(study.DIGITS)
    pinned = load_scenario(study.DIGITS, study.SHIPPED)
    assert pinned == shipped

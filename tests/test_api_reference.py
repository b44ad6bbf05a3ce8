"""The API reference builds from the docstrings, and the Python API documents every name."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_tool():
    spec = importlib.util.spec_from_file_location("api_reference", ROOT / "tools" / "api_reference.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_reference_builds_and_the_api_section_is_complete(tmp_path):
    tool = load_tool()
    out = tmp_path / "api.md"
    tool.main(["--out", str(out)])
    text = out.read_text()
    for mod in tool.MODULES:
        assert f"## `{mod}`" in text
    api = tool.module_reference("asyncpc.api")
    assert "no docstring" not in api, api[api.index("no docstring") - 300:][:400]
    for name in ("run(scenario, out=None", "load_run(path)", "class `asyncpc.api.Run", "property `Run.epochs`",
                 "method `Run.plot(self, which: 'str' = 'accuracy'"):
        assert name in api, name

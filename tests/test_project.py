"""The project's own machinery: README set-up commands and CI agree, packaging markers."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    body = text.split("---", 2)[2]  # after the Space front matter
    return re.findall(r"```bash\n(.+?)\n```", body, flags=re.S)


def test_readme_opens_with_the_app_command_then_the_test_command():
    app, tests = _readme_commands()[:2]
    assert app.endswith('pip install -e ".[app]" && python app.py')
    assert 'pip install -e ".[test]"' in tests and "python -m pytest" in tests
    assert "ruff format --check ." in tests and "ruff check ." in tests


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert _readme_commands()[1] in ci


def test_mlx_extra_follows_the_platform():
    text = (ROOT / "pyproject.toml").read_text()
    assert "\"mlx[cpu]>=0.29; sys_platform == 'linux'\"" in text
    assert re.search(r"\"mlx>=[\d.]+; sys_platform == 'darwin'\"", text)


def test_tests_run_offline():
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"


def test_import_sadt_needs_no_app_dependencies():
    """gradio and plotly are the [app] extra: the library imports without them."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['gradio'] = None; sys.modules['plotly'] = None\n"
        "import sadt, sadt.pipeline, sadt.hub, sadt.cli"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_model_card_template_is_package_data_and_the_top_level_file_is_it():
    from sadt.hub import TEMPLATE

    assert TEMPLATE.parent == ROOT / "sadt"
    assert (ROOT / "model_card.md").resolve() == TEMPLATE.resolve()
    text = (ROOT / "pyproject.toml").read_text()
    assert '"model_card.md"' in text.split("[tool.setuptools.package-data]")[1]


def _sadt_imports(root: Path) -> dict[str, set[str]]:
    """Module -> the sadt modules it imports anywhere in its body (lazy imports included),
    read from the source. ``from sadt.x import y`` names module ``sadt.x.y`` when that is a
    module, else ``sadt.x``."""
    modules = {}
    for path in (root / "sadt").rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                subs = {f"{node.module}.{a.name}" for a in node.names}
                found |= (subs & modules.keys()) or {node.module}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a list of modules, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt, path + [nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_the_package_has_no_import_cycles():
    graph = _sadt_imports(ROOT)
    assert "sadt.pipeline" in graph and "sadt.hub" in graph["sadt.pipeline"]  # it reads files
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None

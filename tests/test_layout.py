"""The layout holds: imports run one way (corpus -> embeddings -> retrieval -> presentation / convlog
-> bot), never upward, with no cycle; nothing the project installs imports tests/ (bench/,
which is development tooling like tests/, may use its helpers: the seeded log, PostgreSQL).

The checker reads every import statement (including ones inside functions) of the
project's packages and bench/ with `ast`; it is itself tested on small made-up
trees, so a checker that finds nothing cannot pass unnoticed.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lower numbers are lower layers; a module may import its own package or lower layers only.
# The application layer (5) is bot/ with the two packages that serve operators beside it.
LAYERS = {"common": 0, "corpus": 1, "embeddings": 2, "retrieval": 3, "presentation": 4, "convlog": 4, "bot": 5,
          "insights": 5, "console": 5}  # fmt: skip
# Inside the application layer: configuration, then the shared service, then what the log tells
# operators (insights: gaps, re-ask, articles), then the channels (Telegram for users, the web
# console for operators); the CLI may start either.
BOT_LAYERS = {"bot.config": 0, "bot.service": 1, "insights": 2, "bot.answers_eval": 3, "bot.telegram": 3, "console": 3,
              "bot.cli": 4, "bot.__main__": 5}  # fmt: skip


def module_names(root: Path, packages: list[str]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the packages under `root`."""
    out = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules a file imports (submodules named in `from X import sub` count as X.sub)."""
    tree = ast.parse(path.read_text("utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] == "tests":
                found.add(target)
                continue
            while target not in known and "." in target:
                target = target.rpartition(".")[0]
            if target in known:
                found.add(target)
    return found


def layer(module: str) -> tuple[int, int]:
    """(package layer, layer inside bot/) of a module."""
    top = module.split(".")[0]
    inner = next((rank for prefix, rank in BOT_LAYERS.items() if module == prefix or module.startswith(prefix + ".")), -1)
    return LAYERS[top], inner


def unit(module: str) -> str:
    """What counts as one unit for the same-layer rule: a top-level package, or a part of bot/."""
    return next((p for p in BOT_LAYERS if module == p or module.startswith(p + ".")), module.split(".")[0])


def layering_problems(graph: dict[str, set[str]]) -> list[str]:
    """Every import that runs upward, sideways between two units of one layer, or into tests/."""
    problems = []
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            if source.split(".")[0] not in LAYERS:  # bench/: any layer below it, and tests' helpers
                continue
            if target.split(".")[0] == "tests":
                problems.append(f"{source} imports {target} (tests/ is not part of the library)")
            elif unit(source) != unit(target) and layer(target) >= layer(source):
                problems.append(f"{source} imports {target} (upward or sideways)")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles (strongly connected components of more than one module, or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def import_graph(root: Path, packages: list[str]) -> dict[str, set[str]]:
    modules = module_names(root, packages)
    known = set(modules)
    return {name: imports_of(path, name, known) - {name} for name, path in modules.items()}


def test_imports_run_one_way_and_never_in_a_cycle():
    graph = import_graph(ROOT, [*LAYERS, "bench"])
    assert len(graph) > 50  # the walk found the project
    assert "convlog" in graph["bot.service"] and "retrieval.pipeline" in graph["bot.service"]  # and its imports
    assert layering_problems(graph) == []
    assert cycles(graph) == []


def test_every_project_package_has_a_layer():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages == set(LAYERS)


def test_the_conversation_log_imports_nothing_from_the_channels():
    graph = import_graph(ROOT, list(LAYERS))
    assert not any(t.startswith("bot") for m, ts in graph.items() if m.startswith("convlog") for t in ts)


def _tree(tmp_path: Path, files: dict[str, str]) -> dict[str, set[str]]:
    for name, body in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return import_graph(tmp_path, sorted({n.split("/")[0] for n in files}))


def test_the_checker_finds_an_upward_import_even_inside_a_function(tmp_path):
    graph = _tree(tmp_path, {
        "corpus/__init__.py": "",
        "corpus/load.py": "def f():\n    from retrieval.search import x\n",
        "retrieval/__init__.py": "",
        "retrieval/search.py": "from corpus import load\n",
    })  # fmt: skip
    assert layering_problems(graph) == ["corpus.load imports retrieval.search (upward or sideways)"]


def test_the_checker_finds_sideways_imports_and_imports_of_tests(tmp_path):
    graph = _tree(tmp_path, {
        "convlog/__init__.py": "from presentation import texts\n",
        "presentation/__init__.py": "",
        "presentation/texts.py": "",
        "bot/__init__.py": "",
        "bot/telegram/__init__.py": "",
        "bot/telegram/app.py": "from bot.cli.main import main\nfrom tests.botapi import FakeBotAPI\n",
        "bot/cli/__init__.py": "",
        "bot/cli/main.py": "from ..telegram import app\n",
    })  # fmt: skip
    assert layering_problems(graph) == [
        "bot.telegram.app imports bot.cli.main (upward or sideways)",
        "bot.telegram.app imports tests.botapi (tests/ is not part of the library)",
        "convlog imports presentation.texts (upward or sideways)",
    ]
    assert graph["bot.cli.main"] == {"bot.telegram.app"}  # relative imports resolved


def test_the_checker_finds_a_cycle_inside_one_package(tmp_path):
    graph = _tree(tmp_path, {
        "bot/__init__.py": "",
        "bot/cli/__init__.py": "",
        "bot/cli/a.py": "import bot.cli.b\n",
        "bot/cli/b.py": "from bot.cli import c\n",
        "bot/cli/c.py": "def later():\n    from bot.cli.a import thing\n",
    })  # fmt: skip
    assert layering_problems(graph) == []
    assert cycles(graph) == [["bot.cli.a", "bot.cli.b", "bot.cli.c"]]

"""The layering rules of docs/ARCHITECTURE.md, checked on the source (imports read with ast,
function-level imports included): no import loop, the engine imports nothing of colorclass
outside itself, quantize imports nothing of colorclass but its colour conversions, files stay
under 300 lines and open with a docstring."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("colorclass", "quantize")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the project modules it imports (``from pkg import name`` counts pkg.name when
    that is a module, else pkg)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, path.name == "__init__.py", node)
                subs = {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules}
                targets |= subs or {base}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def _package_inits_excluded(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    # a package's __init__ re-exporting its own modules is its face, not a loop
    return {m: {t for t in ts if not (m.startswith(t + ".") or t.startswith(m + "."))} for m, ts in graph.items()}


def test_no_import_loops():
    graph = _package_inits_excluded(_imports(_sources()))
    assert _cycles(graph) == []


# The layer order of docs/ARCHITECTURE.md, lowest first. A module may import its own package
# and packages of strictly lower layers, never one of its own layer or above.
LAYERS = (
    ("colorclass", "colorclass.support", "colorclass.cie"),
    ("colorclass.color",),
    ("colorclass.engine", "colorclass.photos", "colorclass.models", "colorclass.decoding", "quantize"),
    ("colorclass.binning", "colorclass.builtin", "colorclass.hints"),
    ("colorclass.runs",),
    ("colorclass.inference",),
    ("colorclass.evaluation", "colorclass.export"),
    ("colorclass.reports",),
    ("colorclass.training", "colorclass.server"),
    ("colorclass.cli",),
    ("colorclass.__main__",),
)


def _unit(module: str) -> str:
    """The package (or top-level module) a module belongs to in LAYERS."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "colorclass" and len(parts) > 1 else parts[0]


def _layer_of(unit: str) -> int:
    for i, units in enumerate(LAYERS):
        if unit in units:
            return i
    raise AssertionError(f"{unit} is in no layer of LAYERS; add it where it belongs")


def _upward_imports(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in graph.items():
        for t in targets:
            a, b = _unit(module), _unit(t)
            if a != b and _layer_of(b) >= _layer_of(a) and b != "colorclass":
                found.append(f"{module} -> {t}")
    return sorted(found)


def test_imports_follow_the_declared_layers():
    assert _upward_imports(_imports(_sources())) == []


def test_the_layer_checker_finds_an_upward_import():
    assert _upward_imports({"colorclass.photos.read": {"colorclass.inference.network"}}) == [
        "colorclass.photos.read -> colorclass.inference.network"]
    assert _upward_imports({"colorclass.inference.network": {"colorclass.photos.read"}}) == []


def test_engine_imports_nothing_else_of_colorclass_but_the_neutral_helpers():
    graph = _imports(_sources())
    for module, targets in graph.items():
        if module.startswith("colorclass.engine"):
            outside = {t for t in targets if t.startswith("colorclass") and not t.startswith(
                ("colorclass.engine", "colorclass.support"))}
            assert not outside, f"{module} imports {outside}"


def test_quantize_imports_only_the_colour_conversions_of_colorclass():
    graph = _imports(_sources())
    for module, targets in graph.items():
        if module.startswith("quantize"):
            outside = {t for t in targets if t.startswith("colorclass") and t != "colorclass.color"}
            outside -= {"colorclass"}  # the package itself is imported on the way to colorclass.color
            assert not outside, f"{module} imports {outside}"


def test_every_module_is_short_and_says_where_it_sits():
    for name, path in _sources().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        assert len(lines) < 300, f"{path.relative_to(ROOT)} has {len(lines)} lines"
        if lines and name.count(".") >= 1 and path.name != "__main__.py":
            assert ast.get_docstring(ast.parse("\n".join(lines))), f"{path.relative_to(ROOT)} has no docstring"


def test_the_checker_finds_a_loop():
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]

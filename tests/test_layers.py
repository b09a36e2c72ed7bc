"""The packages import each other in one direction (docs/architecture.md, "Layers").

`infra` (shared infrastructure) imports none of the apps; the apps never import the
project's wiring (`whitepanel`); `demo` only uses what any site would. Rooms belong to
visitors and operators, so `chat` comes after them: whatever ties a visitor or an operator
to rooms or to chat's events (the sockets, arrival and leaving, the end of a shift) lives
in `chat`. Any import against the order fails this test."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first: a package may import those before it, never those after it.
ORDER = ["infra", "visitors", "operators", "integrations", "chat", "demo", "whitepanel"]

# Modules whose imports say nothing of the layers.
SKIPPED_PARTS = {"tests", "migrations"}


def package_imports() -> set[tuple[str, str, str]]:
    """(importer package, imported package, file) for every import between two of ORDER."""
    found = set()
    for package in ORDER:
        for path in (ROOT / package).rglob("*.py"):
            if SKIPPED_PARTS & set(path.relative_to(ROOT).parts):
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in ORDER and top != package:
                        found.add((package, top, str(path.relative_to(ROOT))))
    return found


def test_packages_import_only_packages_below_them():
    upward = {
        (importer, imported, path)
        for importer, imported, path in package_imports()
        if ORDER.index(imported) > ORDER.index(importer)
    }
    assert not upward, f"imports against the order {ORDER} (docs/architecture.md): {sorted(upward)}"


def test_infra_imports_none_of_the_apps_nor_the_wiring():
    assert not {edge for edge in package_imports() if edge[0] == "infra"}

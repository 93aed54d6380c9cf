"""The house rules a new dialect inherits: a dialect imports no other dialect, a router no other
router, and no dialect reaches past the core services into SQL or repositories."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import thingport.dialects

DIALECTS_DIR = Path(thingport.dialects.__file__).parent
PACKAGES = sorted(p.name for p in DIALECTS_DIR.iterdir() if (p / "__init__.py").exists())
FORBIDDEN = ("sqlalchemy", "thingport.storage")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_a_dialect_imports_only_itself_the_core_and_the_shared_plumbing(package: str) -> None:
    for path in (DIALECTS_DIR / package).rglob("*.py"):
        for name in _imports(path):
            for other in PACKAGES:
                assert other == package or not name.startswith(f"thingport.dialects.{other}"), (
                    path,
                    name,
                )
            assert not name.startswith(FORBIDDEN), (path, name)
            assert ".repository" not in name, (path, name)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_router_imports_another_router(package: str) -> None:
    routers = DIALECTS_DIR / package / "routers"
    for path in routers.glob("*.py") if routers.is_dir() else ():
        prefix = f"thingport.dialects.{package}.routers"
        assert not [n for n in _imports(path) if n.startswith(prefix)], path

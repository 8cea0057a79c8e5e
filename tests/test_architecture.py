"""Rules of the layout that keep the code easy to change (see docs/architecture.md)."""

import ast
import tomllib
from pathlib import Path

import pytest

from webapp.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_GEO = ("flask", "werkzeug", "webapp", "flask_login", "flask_wtf", "jinja2")


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("path", sorted((ROOT / "geo").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_geo_never_imports_the_web_layer(path):
    bad = [name for name in _imports(path) if name.split(".")[0] in FORBIDDEN_IN_GEO]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}: geo/ must not depend on the web layer"


def test_no_module_imports_a_blueprint():
    """Shared helpers live in webapp/context.py (or another non-blueprint module); blueprints are leaves,
    registered by create_app only."""
    bad = [f"{path.relative_to(ROOT)} imports {name}"
           for path in sorted((ROOT / "webapp").rglob("*.py")) if path != ROOT / "webapp" / "__init__.py"
           for name in _imports(path) if name.startswith("webapp.blueprints")]
    assert not bad, bad


def test_no_view_reads_or_writes_through_a_repository():
    """webapp/ parses, calls one function of geo/ and renders: no ``uow.<repository>.<method>`` there (the
    use cases and read functions of geo/ hold those calls, and check who may make them)."""
    bad = []
    for path in sorted((ROOT / "webapp").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                    and isinstance(node.value.value, ast.Name) and node.value.value.id == "uow"):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} uow.{node.value.attr}.{node.attr}")
    assert not bad, bad


def test_every_package_is_listed_for_installation():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("geo", "webapp")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found - listed == set(), "add these packages to [tool.setuptools] packages in pyproject.toml"


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if s.name not in readme]
    assert not missing, f"README.md does not document {missing}"

"""Every router is imported directly by the app (issue 13): a router whose module fails to
import fails the web app's start-up, instead of quietly taking /api/events or a page away."""

import ast
import importlib
import pkgutil
from pathlib import Path

from fastapi import APIRouter

import canvas_ui.api
import canvas_ui.app
import canvas_ui.routes


def test_every_router_module_is_in_the_apps_routers() -> None:
    included = {id(r) for r in canvas_ui.app.ROUTERS}
    missing = []
    for package in (canvas_ui.api, canvas_ui.routes):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            router = getattr(module, "router", None)
            if isinstance(router, APIRouter) and id(router) not in included:
                missing.append(module.__name__)
    assert missing == []


def test_the_app_loads_no_module_by_name() -> None:
    """No importlib / __import__ in the app factory: imports are statements, so an
    ImportError surfaces at start-up."""
    tree = ast.parse(Path(canvas_ui.app.__file__).read_text(encoding="utf-8"))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    imported = {
        alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names
    }
    assert "importlib" not in imported
    assert "__import__" not in names
    assert "import_module" not in attrs | names

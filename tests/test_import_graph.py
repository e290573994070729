"""The layering of docs/architecture.md holds: no import cycle between modules, and every app
imports only apps below it (Django's per-app admin, api, urls, views and management commands are
the UI and may reach across). Lazy imports inside functions count too."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Lowest first. Apps on one line of the architecture may not import each other either way round
# unless listed here in that order.
LAYERS = ["core", "security", "chargers", "smartcharging", "tariffs", "transactions", "firmware", "commands",
          "inbound", "ocpp16", "evchong_api", "kotodian", "webhooks", "operations", "status", "evchong"]
UI_MODULES = {"admin", "api", "urls", "views", "apps", "admin_filters", "admin_mixins", "forms"}


def project_modules() -> dict[str, Path]:
    found = {}
    for package in LAYERS:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            candidates = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in modules:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
    return targets


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def is_ui(module: str) -> bool:
    # A package named as a UI module (operations.api) holds UI modules.
    return any(part in UI_MODULES for part in module.split(".")[1:]) or ".admin" in module or ".management." in module


def test_no_module_imports_itself_back_through_others(graph):
    state: dict[str, int] = {}
    cycles = []

    def visit(module, trail):
        state[module] = 1
        for target in graph.get(module, ()):
            if state.get(target) == 1:
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[module] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_every_app_imports_only_the_apps_below_it(graph):
    rank = {package: n for n, package in enumerate(LAYERS)}
    upward = [f"{module} -> {target}" for module, targets in graph.items() if not is_ui(module)
              for target in targets if rank[target.split(".")[0]] > rank[module.split(".")[0]]]
    assert upward == []


def test_the_project_package_holds_only_wiring(graph):
    wiring = {"evchong", "evchong.settings", "evchong.urls", "evchong.asgi", "evchong.wsgi", "evchong.celery",
              "evchong.api_urls", "evchong.health"}
    assert sorted(module for module in graph if module.split(".")[0] == "evchong" and module not in wiring) == []

"""No import cycle through the mail package and the worker, whatever module is imported first.

The graph counts every import statement, also one inside a function: a cycle hidden that way
(jobs.py and reply_fetcher.py imported each other, one of them lazily) still ties the modules
together, and bites the day someone moves the import to the top. Each module of the mail
package and the worker is also imported first in a fresh interpreter, so an order that only
one entry point takes (the worker, the CLI, a test) shows too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = "klynge_rsvp"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / PACKAGE


def is_mail_or_worker(module: str) -> bool:
    """The modules of the mail package and the worker (and the reply fetcher it runs)."""
    return (module in {f"{PACKAGE}.mail", f"{PACKAGE}.worker", f"{PACKAGE}.reply_fetcher"}
            or module.startswith(f"{PACKAGE}.mail."))


# Cycles elsewhere in the package when the mail package was made, each left to the part that
# owns its modules: a cycle found is accepted only inside one of these (shrinking is fine).
# Flask blueprint packages import their views, which import the package's `bp`.
KNOWN_ELSEWHERE = [
    {"organisers", "two_factor"},
    {"notifications", "notifications.registration", "rsvp"},
    {"api", "api.views", "api.organiser"},
    {"manage", "manage.certificate", "manage.views"},
    {"public", "public.mailing_list", "public.views"},
    {"admin", "admin.announcements", "admin.api_tokens", "admin.checkin", "admin.dashboard", "admin.exports",
     "admin.feedback", "admin.figures", "admin.gatherings", "admin.lifecycle", "admin.mail_log",
     "admin.organisations", "admin.organisers", "admin.programme", "admin.registrations",
     "admin.replies", "admin.subscribers", "admin.questions", "admin.seat_rules",
     "admin.webhooks"},
    # The framed form (issue 17) is a route module of the public blueprint, like views.
    {"public", "public.embed", "public.mailing_list", "public.org_lookup", "public.views"},
]


def modules(package_dir: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in package_dir.rglob("*.py"):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph(package_dir: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """Which of the package's modules each one imports, anywhere in its code."""
    known = modules(package_dir)
    graph = {}
    for name, path in known.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = here.split(".")[:len(here.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                # `from . import outbox` imports the module outbox; `from .x import y`, module x.
                imported.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                                for alias in node.names)
        graph[name] = {module for module in imported if module in known and module != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[module] = min(low[module], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == index[module]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == module:
                            break
                    if len(component) > 1:
                        found.append(component)
    return found


def test_the_cycle_finder_finds_a_cycle_through_a_lazy_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_counts_imports_inside_functions(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "jobs.py").write_text("def jobs():\n    from . import fetcher\n")
    (package / "fetcher.py").write_text("from .jobs import jobs\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "leaf.py").write_text("import json\nfrom .. import fetcher\n")
    graph = import_graph(package)
    assert graph == {"pkg": set(), "pkg.jobs": {"pkg.fetcher"}, "pkg.fetcher": {"pkg.jobs"},
                     "pkg.sub": set(), "pkg.sub.leaf": {"pkg.fetcher"}}
    assert cycles(graph) == [{"pkg.jobs", "pkg.fetcher"}]


def test_no_import_cycle_runs_through_the_mail_package_or_the_worker():
    through_ours = [sorted(cycle) for cycle in cycles(import_graph())
                    if any(is_mail_or_worker(module) for module in cycle)]
    assert through_ours == []


def test_no_import_cycle_in_the_package_beyond_the_known_ones():
    known = [{f"{PACKAGE}.{module}" for module in cycle} for cycle in KNOWN_ELSEWHERE]
    new = [sorted(cycle) for cycle in cycles(import_graph())
           if not any(cycle <= accepted for accepted in known)]
    assert new == []


@pytest.mark.parametrize("module", sorted(name for name in modules() if is_mail_or_worker(name)))
def test_each_module_can_be_imported_first(module):
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                            text=True, cwd=PACKAGE_DIR.parent, timeout=60)
    assert result.returncode == 0, result.stderr

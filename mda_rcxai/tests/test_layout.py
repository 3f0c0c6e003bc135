"""The package's layout: no import circles, and layers import only what DESIGN allows.

The imports are read from the source (``ast``), not executed: a circle that
only a rarely-run function closes is found too.
"""

import ast
import os
import re

import pytest

import mda_rcxai

PKG_DIR = os.path.dirname(mda_rcxai.__file__)

#: Circles through imports inside functions that are known and owned elsewhere:
#: sampling's internal split belongs to the engine-core rewrite. Each entry must
#: still exist (the test below fails when one is fixed, so the list only shrinks).
KNOWN_CIRCLES: set = set()


def _modules():
    mods = {}
    for folder, dirs, files in os.walk(PKG_DIR):
        dirs[:] = [d for d in dirs if d not in ("tests", "__pycache__")]
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                rel = os.path.relpath(path, os.path.dirname(PKG_DIR))[:-3].replace(os.sep, ".")
                mods[rel[:-len(".__init__")] if rel.endswith(".__init__") else rel] = path
    return mods


def import_graph(top_level_only):
    """``{module: {package modules it imports}}``; ``from pkg import sub`` is an edge to
    ``pkg.sub`` when that is a module, else to ``pkg``."""
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), path)
        is_pkg = path.endswith("__init__.py")
        nodes = tree.body if top_level_only else list(ast.walk(tree))
        out = set()
        for node in nodes:
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = name.split(".") if is_pkg else name.split(".")[:-1]
                    parts = parts[:len(parts) - (node.level - 1)]
                    base = ".".join(parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    out.add(sub if sub in mods else base)
        graph[name] = {m for m in out if m in mods and m != name}
    return graph


def circles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(frozenset(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_circle_finder_finds_a_circle():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(g) == [frozenset("abc")]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_at_module_level():
    assert circles(import_graph(top_level_only=True)) == []


def test_no_import_circle_through_functions_but_the_known_ones():
    found = set(circles(import_graph(top_level_only=False)))
    assert found - KNOWN_CIRCLES == set(), "new import circle(s)"
    assert KNOWN_CIRCLES - found == set(), "a known circle is gone: drop it from KNOWN_CIRCLES"


# DESIGN.md, "Layers and what each may import" (package modules only)
FORBIDDEN = {
    "mda_rcxai.features": ("mda_rcxai.model", "mda_rcxai.sampling", "mda_rcxai.explain",
                           "mda_rcxai.study"),
    "mda_rcxai.systems": ("mda_rcxai.model", "mda_rcxai.sampling", "mda_rcxai.explain",
                          "mda_rcxai.study"),
    "mda_rcxai.model": ("mda_rcxai.features", "mda_rcxai.sampling", "mda_rcxai.systems",
                        "mda_rcxai.explain", "mda_rcxai.study"),
    "mda_rcxai.explain": ("mda_rcxai.sampling", "mda_rcxai.systems", "mda_rcxai.study"),
    "mda_rcxai.data": ("mda_rcxai.",),
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_what_they_may(layer):
    graph = import_graph(top_level_only=False)
    bad = sorted(f"{m} -> {t}" for m, targets in graph.items()
                 if m == layer or m.startswith(layer + ".")
                 for t in targets if t.startswith(FORBIDDEN[layer]))
    assert bad == []


# ----------------------------------------------------------------------
# module size: over MAX_LINES only with a reason in the module docstring
# ----------------------------------------------------------------------
#: Longest module without a stated reason (issue 20: "no module over ~600 lines
#: without a reason in its docstring").
MAX_LINES = 600

#: The convention: a parenthesised note in the module docstring that gives the
#: size and the reason, e.g. ``(About 870 lines: one estimator class, ...)`` or
#: ``(Just over 600 lines: ...)``. The number must be within a quarter of the
#: real count, so a note that has gone stale fails too.
SIZE_NOTE = re.compile(r"\((?:about|just over|over|nearly|under)?\s*(\d+) lines: ([^)]{30,})\)",
                       re.IGNORECASE)

#: Modules over MAX_LINES whose owner is to add the note (sampling/ belongs to the
#: engine-core rewrite). The test fails once one complies or shrinks: drop it here.
AWAITING_NOTE = set()


def size_note_problem(name, path):
    """Why module ``name`` breaks the size convention, or None when it keeps it."""
    with open(path, encoding="utf-8") as fh:
        src = fh.read()
    n = len(src.splitlines())
    if n <= MAX_LINES:
        return None
    doc = ast.get_docstring(ast.parse(src, path)) or ""
    m = SIZE_NOTE.search(doc)
    if m is None:
        return f"{name}: {n} lines and no '(About {n} lines: <reason>)' note in its docstring"
    stated = int(m.group(1))
    if abs(stated - n) > n / 4:
        return f"{name}: its note says {stated} lines but it has {n}; update the note"
    return None


def test_the_size_note_check_can_fail(tmp_path):
    body = "x = 1\n" * (MAX_LINES + 10)
    bare, noted, stale = (tmp_path / f for f in ("bare.py", "noted.py", "stale.py"))
    bare.write_text('"""A module."""\n' + body)
    noted.write_text('"""A module.\n\n(About 610 lines: the reason is written down '
                     'here in full.)\n"""\n' + body)
    stale.write_text('"""A module.\n\n(About 300 lines: the reason is written down '
                     'here in full.)\n"""\n' + body)
    assert "no '(About" in size_note_problem("bare", bare)
    assert size_note_problem("noted", noted) is None
    assert "says 300 lines" in size_note_problem("stale", stale)


def test_no_long_module_without_a_reason_in_its_docstring():
    problems = {name: size_note_problem(name, path) for name, path in _modules().items()}
    bad = sorted(p for name, p in problems.items() if p and name not in AWAITING_NOTE)
    assert bad == []
    done = sorted(name for name in AWAITING_NOTE if problems.get(name) is None)
    assert done == [], "these keep the convention now: drop them from AWAITING_NOTE"

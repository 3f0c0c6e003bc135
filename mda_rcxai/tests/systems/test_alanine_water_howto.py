"""The code blocks of docs/alanine_water.rst run as written and print what the page says."""

import os
import re
import textwrap

import pytest

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "alanine_water.rst")


def _python_blocks(text):
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text)
    return [textwrap.dedent(b) for b in blocks]


@pytest.mark.skipif(not os.path.exists(DOC), reason="docs/ not shipped with the package")
def test_page_code_runs_and_matches_its_comments():
    blocks = _python_blocks(open(DOC).read())
    assert len(blocks) == 3
    ns = {}
    exec(compile(blocks[0], DOC, "exec"), ns)
    assert ns["system"].n_atoms == 985 and ns["PAPER_ATOM_NAMES"][17] == "H18"
    assert abs(ns["system"].box_vectors[0, 0] - 2.1502) < 1e-4
    exec(compile(blocks[1], DOC, "exec"), ns)
    r = ns["esp"].results
    assert r.names[17] == "V[H18|water]"
    assert r.features[0, 17] == pytest.approx(-95.0, abs=0.5)
    assert r.names[-1] == "E[N17-H18|water]"
    # the initial path of the study: C7eq -> C7ax on phi at 300 K
    exec(compile(blocks[2], DOC, "exec"), ns)
    x, st = ns["x"], ns["alanine_dipeptide_water"]().states
    assert st["C7eq"].contains(x[0])[0] and st["C7ax"].contains(x[-1])[0]

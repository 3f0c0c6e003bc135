"""The how-to docs/solvent_descriptors.rst runs as written on a small box built here."""

import os
import re

import MDAnalysis as mda

from mda_rcxai.tests.features.waterbox import make_nacl_box

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "solvent_descriptors.rst")


def _first_python_block(text):
    m = re.search(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text)
    assert m, "the how-to lost its python code block"
    return "\n".join(line[3:] for line in m.group(1).splitlines())


def test_howto_snippet_runs(tmp_path, monkeypatch, capsys):
    u = make_nacl_box(n_frames=3, seed=3, box_nm=1.8)
    pdb, xtc = tmp_path / "system.pdb", tmp_path / "traj.xtc"
    u.trajectory[0]
    u.atoms.write(str(pdb))
    with mda.Writer(str(xtc), len(u.atoms)) as w:
        for _ in u.trajectory:
            w.write(u.atoms)
    code = _first_python_block(open(DOC).read())
    monkeypatch.chdir(tmp_path)
    exec(compile(code, DOC, "exec"), {})
    out = capsys.readouterr().out
    assert "(3, 20)" in out and "NA1:NA / water O" in out
    assert (tmp_path / "solvent_features.npz").exists()

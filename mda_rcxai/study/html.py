"""A self-contained HTML report (figures embedded as PNG) and a molecule picture.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> from mda_rcxai.study.html import Report
>>> r = Report("demo")
>>> fig, ax = plt.subplots(); _ = ax.plot([0, 1])
>>> _ = r.section("A figure").figure(fig, "a line")
>>> html = r.to_html()
>>> "data:image/png;base64," in html
True
"""

import base64
import html
import io

import numpy as np

from ..fileio import atomic_write

__all__ = ["Report", "plot_molecule"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;
max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #446;padding-bottom:.2em}
h2{margin-top:1.8em;color:#334}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#eef}
figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}
figcaption{font-size:.88em;color:#555;max-width:520px}
img{max-width:520px}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.85em}
.side{display:flex;gap:1.5em;flex-wrap:wrap}
.note{color:#555;font-size:.92em}
"""


class Report:
    """Builder of a one-file HTML report.

    Parameters
    ----------
    title : str
        Page title.

    Examples
    --------
    >>> r = Report("study")
    >>> _ = r.section("Counts").text("12 configurations").table([["a", 1]], ["name", "n"])
    >>> "<p>12 configurations</p>" in r.to_html()
    True
    >>> "<td>a</td><td>1</td>" in r.to_html()
    True
    """

    def __init__(self, title):
        self.title = title
        self._parts = []

    def section(self, heading):
        """Start a section with a heading; returns self for chaining."""
        self._parts.append(f"<h2>{html.escape(heading)}</h2>")
        return self

    def text(self, text, cls=None):
        """A paragraph of plain text (escaped)."""
        c = f' class="{cls}"' if cls else ""
        self._parts.append(f"<p{c}>{html.escape(str(text))}</p>")
        return self

    def raw(self, markup):
        """Trusted HTML markup."""
        self._parts.append(markup)
        return self

    def pre(self, text):
        """Preformatted text (e.g. the config)."""
        self._parts.append(f"<pre>{html.escape(text)}</pre>")
        return self

    def table(self, rows, header=None, max_rows=None):
        """A table from rows (sequences) or a pandas DataFrame."""
        if hasattr(rows, "to_html"):
            df = rows if max_rows is None else rows.head(max_rows)
            self._parts.append(df.to_html(index=False, float_format=lambda x: f"{x:.4g}",
                                          border=0))
            return self
        out = ["<table>"]
        if header:
            out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
        for i, row in enumerate(rows):
            if max_rows is not None and i >= max_rows:
                break
            out.append("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>")
        out.append("</table>")
        self._parts.append("".join(out))
        return self

    def figure(self, fig, caption="", dpi=110):
        """Embed a matplotlib Figure (closed afterwards) as a PNG."""
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        return self.image(buf.getvalue(), caption)

    def image(self, png_bytes, caption=""):
        """Embed PNG bytes."""
        b64 = base64.b64encode(png_bytes).decode("ascii")
        self._parts.append(
            f'<figure><img src="data:image/png;base64,{b64}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        return self

    def to_html(self):
        """The whole page as a string."""
        return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
                f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head>"
                f"<body><h1>{html.escape(self.title)}</h1>" + "\n".join(self._parts)
                + "</body></html>")

    def write(self, path):
        """Write the page to ``path`` (atomically: the old file or the whole new one)."""
        return atomic_write(path, self.to_html())


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def plot_molecule(atomgroup, values, ax=None, title=None, cmap="viridis", label_top=6):
    """Picture of a molecule with atoms coloured by a per-atom value.

    The coordinates are projected on their two principal axes; bonds are
    drawn as lines, atoms as discs coloured (and sized) by ``values``, and
    the ``label_top`` highest-valued atoms are labelled with their names.

    Parameters
    ----------
    atomgroup : MDAnalysis.core.groups.AtomGroup
        Atoms (current frame's positions, Angstrom).
    values : array_like
        One value per atom (e.g. ``tempfactors`` of an explained AtomGroup).
    ax : matplotlib.axes.Axes, optional
    title : str, optional
    cmap : str, optional
    label_top : int, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import MDAnalysis as mda
    >>> from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB
    >>> u = mda.Universe(ALANINE_DIPEPTIDE_PDB)
    >>> fig = plot_molecule(u.atoms, u.atoms.masses)
    """
    import matplotlib.pyplot as plt

    values = np.asarray(values, float)
    pos = atomgroup.positions.astype(float)
    pos = pos - pos.mean(0)
    _, _, vt = np.linalg.svd(pos, full_matrices=False)
    xy = pos @ vt[:2].T
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
    else:
        fig = ax.figure
    index = {ix: k for k, ix in enumerate(atomgroup.indices)}
    try:
        bonds = atomgroup.bonds.indices
    except Exception:  # no bonds in the topology
        bonds = []
    for i, j in bonds:
        if i in index and j in index:
            a, b = xy[index[i]], xy[index[j]]
            ax.plot([a[0], b[0]], [a[1], b[1]], color="0.6", lw=2, zorder=1)
    vmax = values.max() if values.size and values.max() > 0 else 1.0
    sizes = 80 + 420 * values / vmax
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=values, s=sizes, cmap=cmap, vmin=0, vmax=vmax,
                    edgecolors="k", linewidths=0.6, zorder=2)
    for k in np.argsort(values)[::-1][:label_top]:
        ax.annotate(atomgroup[k].name, xy[k], xytext=(6, 6), textcoords="offset points",
                    fontsize=9)
    fig.colorbar(sc, ax=ax, label="importance per atom")
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return fig

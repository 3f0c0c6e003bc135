"""Several kinds of features at once, and one file format for them.

:func:`build_features` runs any of the feature classes (dihedrals,
distances, angles, ACSF, coordination) on one trajectory and concatenates
their columns and metadata; :func:`save_features` / :func:`load_features`
store the result in a ``.npz`` file (written atomically) whose column
metadata (:class:`~mda_rcxai.features.columns.FeatureColumn`) round-trips
as JSON records, not as names to parse.
"""

import json
import os
import zipfile
import zlib

import numpy as np
from MDAnalysis.analysis.results import Results
from MDAnalysis.core.groups import AtomGroup

from ..exceptions import DatasetError, InputError, InputTypeError
from ..fileio import atomic_write
from .columns import columns_from_json, columns_to_json

__all__ = ["build_features", "save_features", "load_features", "FEATURE_KINDS",
           "FLAT_OPTIONS"]

#: Values of ``kinds`` in :func:`build_features`, in the order their columns appear.
FEATURE_KINDS = ("dihedrals", "distances", "angles", "acsf", "coordination",
                 "solvent_potential")
_FORMAT = "mda_rcxai.features/1"
_INTERNAL = ("dihedrals", "distances", "angles")
_SOLVENT = ("acsf", "coordination", "solvent_potential")
#: Flat keyword options and the kinds they go to (ignored for kinds not requested).
FLAT_OPTIONS = {
    "dihedrals": ("dihedrals",), "impropers": ("dihedrals",), "sincos": ("dihedrals",),
    "pairs": ("distances",), "exclude_bonded": ("distances",), "angles": ("angles",),
    "dtype": _INTERNAL, "pbc": _INTERNAL + _SOLVENT,
    "centers": _SOLVENT, "neighbors": _SOLVENT, "center_labels": _SOLVENT,
    "r_cut": ("acsf",), "g2": ("acsf",), "g5": ("acsf",),
    "r0": ("coordination",), "n": ("coordination",), "m": ("coordination",),
    "pair_terms": ("coordination",), "bridging": ("coordination",),
    "potential_method": ("solvent_potential",), "potential_cutoff": ("solvent_potential",),
    "potential_cutoff_by": ("solvent_potential",), "charges": ("solvent_potential",),
    "field_bonds": ("solvent_potential",),
}
#: Flat option names of the solvent potential -> keywords of SolventPotentialFeatures.
_POTENTIAL_KEYS = {"potential_method": "method", "potential_cutoff": "cutoff",
                   "potential_cutoff_by": "cutoff_by"}
_KEYS = ("features", "names", "labels", "atom_indices", "groups", "columns_json", "units",
         "frames", "times", "kinds", "format", "kernel")


def _select(universe, value, what):
    """An AtomGroup from an AtomGroup or a selection string."""
    if isinstance(value, AtomGroup):
        return value
    if isinstance(value, str):
        try:
            ag = universe.select_atoms(value)
        except Exception as err:  # MDAnalysis raises SelectionError/ValueError
            raise InputError(f"{what}={value!r} is not a valid selection ({err})") from None
        if len(ag) == 0:
            raise InputError(f"{what}={value!r} selects no atoms; check it against "
                             "u.atoms.names / u.residues.resnames")
        return ag
    raise InputTypeError(f"{what} must be an AtomGroup or a selection string, got "
                         f"{type(value).__name__}")


def _solvent_options(universe, opts, kind):
    opts = dict(opts)
    for key in ("centers", "neighbors"):
        if key not in opts:
            raise InputError(f"{kind}= needs '{key}' (an AtomGroup or selection string; "
                             "neighbors may be a dict {name: selection})")
    opts["centers"] = _select(universe, opts["centers"], f"{kind}['centers']")
    nb = opts["neighbors"]
    if isinstance(nb, dict):
        opts["neighbors"] = {str(k): _select(universe, v, f"{kind}['neighbors'][{k!r}]")
                             for k, v in nb.items()}
    elif isinstance(nb, (list, tuple)):
        opts["neighbors"] = [_select(universe, v, f"{kind}['neighbors']") for v in nb]
    else:
        opts["neighbors"] = _select(universe, nb, f"{kind}['neighbors']")
    return opts


def build_features(atomgroup, kinds=("dihedrals",), *, start=None, stop=None, step=None,
                   frames=None, backend=None, n_workers=None, verbose=False, **options):
    """Compute several kinds of features on one trajectory and concatenate them.

    Parameters
    ----------
    atomgroup : MDAnalysis.core.groups.AtomGroup
        The atoms for the internal coordinates (dihedrals, distances,
        angles); its universe's trajectory is analysed.
    kinds : sequence of str
        Any of :data:`FEATURE_KINDS`: ``"dihedrals"``, ``"distances"``,
        ``"angles"``, ``"acsf"``, ``"coordination"``, ``"solvent_potential"``.
        Columns appear in this order.
    start, stop, step, frames, backend, n_workers, verbose
        Passed to every class's ``run``.
    **options
        Either flat keyword options, each sent to the kinds that take it
        and ignored for kinds not requested (``None`` means the class
        default): ``dihedrals`` (a str or list), ``impropers``, ``sincos``
        (dihedrals); ``pairs``, ``exclude_bonded`` (distances); ``angles``
        (a str or list); ``centers``, ``neighbors``, ``center_labels``
        (acsf and coordination); ``r_cut``, ``g2``, ``g5`` (acsf); ``r0``,
        ``n``, ``m``, ``pair_terms``, ``bridging`` (coordination);
        ``potential_method``, ``potential_cutoff`` (Angstrom),
        ``potential_cutoff_by``, ``charges``, ``field_bonds`` (solvent_potential,
        where ``centers`` are the solute atoms and ``neighbors`` one solvent set);
        ``dtype`` (internal coordinates), ``pbc`` (all); see
        :data:`FLAT_OPTIONS`. Or one dict of keyword arguments per kind,
        named after it (taking precedence over flat options):
        ``dihedrals={"dihedrals": "all", "sincos": True}`` for
        :class:`~mda_rcxai.features.DihedralFeatures`,
        ``distances={...}`` (:class:`~mda_rcxai.features.DistanceFeatures`),
        ``angles={...}`` (:class:`~mda_rcxai.features.AngleFeatures`),
        ``acsf={"centers": "name NA CL", "neighbors": {"water O": "resname HOH and name O"},
        "r_cut": 6.0, "g2": [...], "g5": [...]}``
        (:class:`~mda_rcxai.features.SymmetryFunctionFeatures`),
        ``coordination={"centers": ..., "neighbors": ..., "r0": ...}``
        (:class:`~mda_rcxai.features.CoordinationFeatures`),
        ``solvent_potential={"centers": ..., "neighbors": {"water": "resname HOH"},
        "method": "ewald", "charges": ...}``
        (:class:`~mda_rcxai.features.SolventPotentialFeatures`). ``centers``
        and ``neighbors`` may be AtomGroups or selection strings.

    Returns
    -------
    MDAnalysis.analysis.results.Results
        ``features`` (n_frames, n_columns), ``names``, ``labels``,
        ``atom_indices`` (n_columns, k) padded with -1, ``groups`` (column
        -> feature, unique across kinds), ``columns`` (one
        :class:`~mda_rcxai.features.columns.FeatureColumn` each), ``kinds``
        (the kind of each column's block), ``units`` (one str per column),
        ``kernel`` ({kind: kernel}), ``frames``, ``times``.

    Raises
    ------
    InputError
        Unknown kinds, options for a kind not requested, missing options,
        duplicate column names, bad selections.

    Examples
    --------
    >>> import MDAnalysis as mda
    >>> from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD
    >>> from mda_rcxai.features import build_features
    >>> u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)
    >>> r = build_features(u.atoms, kinds=("dihedrals", "distances"), stop=10,
    ...                    distances={"pairs": "heavy"})
    >>> r.features.shape, r.atom_indices.shape
    ((10, 90), (90, 4))
    >>> r.columns[0].kind, r.columns[-1].kind
    ('dihedral', 'distance')
    """
    from .dihedrals import DihedralFeatures
    from .distances import AngleFeatures, DistanceFeatures
    from .solvent import CoordinationFeatures, SymmetryFunctionFeatures
    from .solvent_potential import SolventPotentialFeatures

    if isinstance(kinds, str):
        kinds = (kinds,)
    kinds = list(kinds)
    if not kinds:
        raise InputError(f"kinds is empty; give some of {list(FEATURE_KINDS)}")
    unknown = [k for k in kinds if k not in FEATURE_KINDS]
    if unknown:
        raise InputError(f"kinds={unknown} not known; use some of {list(FEATURE_KINDS)}")
    if len(set(kinds)) != len(kinds):
        raise InputError(f"kinds={kinds} repeats a kind; give each once")
    per_kind, flat = {}, {}
    for key, value in options.items():
        if key in FEATURE_KINDS and isinstance(value, dict):
            per_kind[key] = value
        elif key in FLAT_OPTIONS:
            if value is not None:
                flat[key] = value
        elif key in FEATURE_KINDS:
            raise InputTypeError(f"{key}= must be a dict of keyword arguments for that kind, "
                                 f"got {type(value).__name__}")
        else:
            raise InputError(f"build_features() got an unknown option {key!r}; use one of "
                             f"{sorted(FLAT_OPTIONS)} or a dict per kind {list(FEATURE_KINDS)}")
    stray = [k for k in per_kind if k not in kinds]
    if stray:
        raise InputError(f"options {stray} given for kinds not in kinds={kinds}; add them to "
                         "kinds or drop the options")
    if not isinstance(atomgroup, AtomGroup):
        raise InputTypeError("atomgroup must be an MDAnalysis AtomGroup (e.g. u.atoms), got "
                             f"{type(atomgroup).__name__}")
    u = atomgroup.universe
    run_kw = dict(start=start, stop=stop, step=step, frames=frames, backend=backend,
                  n_workers=n_workers, verbose=verbose)
    blocks = []
    for kind in kinds:
        opts = {k: v for k, v in flat.items() if kind in FLAT_OPTIONS[k]}
        if kind in _SOLVENT and not opts.get("neighbors") and "neighbors" in opts:
            opts.pop("neighbors")  # an empty mapping from a config means "not given"
        opts.update(per_kind.get(kind, {}))
        if kind == "dihedrals":
            an = DihedralFeatures(atomgroup, **opts)
        elif kind == "distances":
            an = DistanceFeatures(atomgroup, **opts)
        elif kind == "angles":
            an = AngleFeatures(atomgroup, **opts)
        elif kind == "acsf":
            an = SymmetryFunctionFeatures(**_solvent_options(u, opts, kind))
        elif kind == "solvent_potential":
            so = _solvent_options(u, opts, kind)
            for flat_key, key in _POTENTIAL_KEYS.items():
                if flat_key in so:
                    so[key] = so.pop(flat_key)
            an = SolventPotentialFeatures(so.pop("centers"), so.pop("neighbors"), **so)
        else:
            an = CoordinationFeatures(**_solvent_options(u, opts, kind))
        blocks.append((kind, an.run(**run_kw)))
    return _concatenate(blocks)


def _concatenate(blocks):
    res = Results()
    feats, names, labels, cols, kinds, units, groups, rows = [], [], [], [], [], [], [], []
    offset = 0
    for kind, an in blocks:
        r = an.results
        n = r.features.shape[1]
        feats.append(r.features)
        names += list(r.names)
        labels += list(r.labels)
        cols += list(r.columns)
        kinds += [kind] * n
        units += [c.unit for c in r.columns]
        g = np.asarray(r.groups)
        groups.append(g + offset)
        offset += int(g.max()) + 1 if len(g) else 0
        rows += [[int(i) for i in row if i >= 0] for row in np.asarray(r.atom_indices)]
    dup = sorted({x for x in names if names.count(x) > 1})
    if dup:
        raise InputError(f"column names repeat across kinds: {dup[:3]}; use explicit "
                         "atoms or different options so that every column is distinct")
    width = max((len(x) for x in rows), default=1)
    ai = np.full((len(rows), width), -1, dtype=np.int64)
    for k, row in enumerate(rows):
        ai[k, :len(row)] = row
    res.features = np.hstack(feats) if len(feats) > 1 else feats[0]
    res.names = names
    res.labels = labels
    res.atom_indices = ai
    res.groups = np.concatenate(groups)
    res.columns = cols
    res.kinds = kinds
    res.units = units
    res.kernel = {kind: an.results.kernel for kind, an in blocks}
    first = blocks[0][1]
    res.frames = np.asarray(first.frames)
    res.times = np.asarray(first.times)
    return res


def _plain(x):
    return {k: _plain(v) for k, v in x.items()} if isinstance(x, dict) else x


def save_features(path, results, **arrays):
    """Write features and their column metadata to a ``.npz`` file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Target file (``.npz``). Written to a temporary file in the same
        folder, then moved into place, so a crash never leaves half a file.
    results : Results
        From :func:`build_features` or any feature class (``.results``):
        needs ``features``, ``names``, ``atom_indices``, ``groups`` and
        ``columns``; ``labels``, ``frames`` and ``times`` are kept when
        present.
    **arrays
        Extra arrays stored alongside (e.g. ``n_A=..., n_B=...``); their
        names must not clash with the keys above.

    Examples
    --------
    >>> import os, tempfile, MDAnalysis as mda
    >>> from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD
    >>> from mda_rcxai.features import DihedralFeatures, save_features, load_features
    >>> u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)
    >>> r = DihedralFeatures(u.atoms).run(stop=5).results
    >>> path = os.path.join(tempfile.mkdtemp(), "features.npz")
    >>> save_features(path, r)
    >>> back = load_features(path)
    >>> back.columns == r.columns, back.features.shape
    (True, (5, 45))
    """
    for key in ("features", "names", "atom_indices", "groups", "columns"):
        if key not in results or results[key] is None:
            raise InputError(f"results has no {key!r}; pass the .results of a feature class "
                             "or of build_features()")
    clash = sorted(set(arrays) & set(_KEYS))
    if clash:
        raise InputError(f"extra arrays {clash} clash with the keys save_features writes; "
                         "rename them")
    X = np.asarray(results["features"])
    names = [str(x) for x in results["names"]]
    cols = list(results["columns"])
    if X.ndim != 2 or X.shape[1] != len(names) or len(cols) != len(names):
        raise InputError(f"results are inconsistent: features {X.shape}, {len(names)} names, "
                         f"{len(cols)} columns")
    units = results.get("units", None)
    if isinstance(units, str) or units is None:
        units = [c.unit for c in cols]
    out = {
        "format": np.array(_FORMAT),
        "features": X,
        "names": np.array(names, dtype=str),
        "labels": np.array([str(x) for x in results.get("labels", names)], dtype=str),
        "atom_indices": np.asarray(results["atom_indices"], dtype=np.int64),
        "groups": np.asarray(results["groups"], dtype=np.int64),
        "columns_json": np.array(columns_to_json(cols)),
        "units": np.array([str(x) for x in units], dtype=str),
        "kinds": np.array([str(x) for x in results.get("kinds", [c.measure for c in cols])],
                          dtype=str),
        "kernel": np.array(json.dumps(_plain(results.get("kernel", "")))),
    }
    for key in ("frames", "times"):
        if results.get(key, None) is not None:
            out[key] = np.asarray(results[key])
    for k, v in arrays.items():
        out[k] = np.asarray(v)
    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **out)

    atomic_write(path, write)


def load_features(path):
    """Read a file written by :func:`save_features`.

    Returns
    -------
    MDAnalysis.analysis.results.Results
        ``features``, ``names`` (list), ``labels``, ``atom_indices``,
        ``groups``, ``columns`` (list of FeatureColumn), ``units``,
        ``kinds``, ``kernel``, ``frames``/``times`` when saved, and every
        extra array under its name.

    Raises
    ------
    DatasetError
        (an :class:`~mda_rcxai.exceptions.InputError`) the file is missing,
        truncated, not a ``.npz`` or not a features file; the message names
        the file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DatasetError(f"{path}: no such features file; compute it first")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, KeyError) as err:
        raise DatasetError(f"{path}: not a readable features .npz ({type(err).__name__}: "
                           f"{err}); the file is truncated or damaged, recompute it") from None
    if "format" not in data or str(data["format"]) != _FORMAT:
        raise DatasetError(f"{path}: not a features file written by save_features (format "
                           f"{str(data.get('format', 'missing'))!r}); recompute it")
    try:
        cols = columns_from_json(str(data.pop("columns_json")))
        res = Results()
        res.features = data.pop("features")
        res.names = [str(x) for x in data.pop("names")]
        res.labels = [str(x) for x in data.pop("labels")]
        res.atom_indices = data.pop("atom_indices")
        res.groups = data.pop("groups")
        res.columns = cols
        res.units = [str(x) for x in data.pop("units")]
        res.kinds = [str(x) for x in data.pop("kinds")]
        res.kernel = json.loads(str(data.pop("kernel")))
        data.pop("format")
    except (KeyError, ValueError, TypeError) as err:
        raise DatasetError(f"{path}: a features file with a missing or damaged entry "
                           f"({type(err).__name__}: {err}); recompute it") from None
    if (res.features.ndim != 2 or res.features.shape[1] != len(res.names)
            or len(cols) != len(res.names)):
        raise DatasetError(f"{path}: features {res.features.shape} do not match "
                           f"{len(res.names)} names; recompute it")
    for k, v in data.items():
        res[k] = v
    return res

"""`CommittorDataset`: shooting configurations with their committor counts.

One ``.npz`` file holds everything (no pickles): positions in Angstrom,
n_A / n_B / n_undecided per configuration, which configurations are done
(for resuming), the topology (names, residues, elements, masses, bonds) and
a JSON metadata record (temperature, force field, states, seeds, versions,
the run's arguments).
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..exceptions import DatasetError, InputError, InputTypeError
from ..fileio import atomic_write

__all__ = ["CommittorDataset", "FORMAT", "versions", "universe_from_system",
           "universe_from_topology"]

FORMAT = "mda_rcxai.CommittorDataset"
FORMAT_VERSION = 1
_TOPO_KEYS = ("names", "resnames", "resids", "segids", "elements", "masses",
              "bonds")


def zipfile_like(path) -> bool:
    """True if ``path`` starts like a zip archive (what an .npz is)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def remove_stale_temporaries(path) -> int:
    """Delete temporary files a killed save of ``path`` left behind.

    :meth:`CommittorDataset.save` writes through
    :func:`mda_rcxai.fileio.atomic_write`, whose temporary file is
    ``.<stem>.<pid>-<hex>.tmp<ext>`` beside ``path``; a run killed between
    writing it and the rename leaves it there. Returns the number removed;
    only temporaries *of this path* are touched.
    """
    import glob
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    stem, ext = os.path.splitext(name)
    n = 0
    for f in glob.glob(os.path.join(glob.escape(folder),
                                    "." + glob.escape(stem) + ".*.tmp"
                                    + glob.escape(ext))):
        try:
            os.remove(f)
            n += 1
        except OSError:
            pass
    return n


def box_dimensions(box_vectors_nm) -> np.ndarray:
    """MDAnalysis dimensions of ``(3, 3)`` box vectors in nm.

    Returns
    -------
    numpy.ndarray
        ``[lx, ly, lz, alpha, beta, gamma]`` in Angstrom and degrees.

    Examples
    --------
    >>> import numpy as np
    >>> box_dimensions(np.eye(3) * 2.2).tolist()
    [22.0, 22.0, 22.0, 90.0, 90.0, 90.0]
    """
    a, b, c = np.asarray(box_vectors_nm, dtype=float) * 10.0

    def ang(u, v):
        return float(np.degrees(np.arccos(np.clip(
            u.dot(v) / (np.linalg.norm(u) * np.linalg.norm(v)), -1, 1))))

    return np.array([np.linalg.norm(a), np.linalg.norm(b), np.linalg.norm(c),
                     ang(b, c), ang(a, c), ang(a, b)])


def versions() -> dict:
    """Versions of the packages that produce a dataset."""
    import importlib.metadata as im
    out = {}
    for pkg in ("mda-rcxai", "openmm", "openpathsampling", "numpy",
                "MDAnalysis"):
        try:
            out[pkg] = im.version(pkg)
        except im.PackageNotFoundError:
            out[pkg] = None
    return out


class CommittorDataset:
    """Configurations and how often shots from each reached A and B.

    Parameters
    ----------
    positions : array_like
        ``(n, n_atoms, 3)`` shooting configurations, **Angstrom**.
    n_A, n_B : array_like of int
        ``(n,)`` shots that ended in state A / state B.
    topology : dict
        ``names``, ``resnames``, ``resids``, ``segids``, ``elements``,
        ``masses`` (Da), ``bonds`` (``(n_bonds, 2)``, 0-based), as from
        :meth:`mda_rcxai.systems.MolecularSystem.topology_arrays`.
    metadata : dict, optional
        JSON-serialisable (temperature, force field, states, seeds,
        versions, run arguments ...).
    n_undecided : array_like of int, optional
        Shots that reached neither state within the frame limit.
    done : array_like of bool, optional
        Which configurations are finished (all True for a complete
        dataset; a partly written run file has some False).
    box : array_like, optional
        Periodic box as MDAnalysis dimensions ``[lx, ly, lz, alpha, beta,
        gamma]`` (Angstrom, degrees), the same for every configuration
        (NVT); None for a non-periodic system.

    Attributes
    ----------
    p_B : numpy.ndarray
        ``n_B / (n_A + n_B)``; NaN where no shot was decided.

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> ds = CommittorDataset(s.positions[None] * 10, [3], [1],
    ...                       s.topology_arrays(), {"temperature": 300.0})
    >>> len(ds), float(ds.p_B[0])
    (1, 0.25)
    """

    def __init__(self, positions, n_A, n_B, topology, metadata=None,
                 n_undecided=None, done=None, box=None):
        x = np.asarray(positions, dtype=float)
        if x.ndim != 3 or x.shape[-1] != 3:
            raise InputError(f"positions must be (n, n_atoms, 3) in Angstrom, "
                             f"got shape {x.shape}")
        n = x.shape[0]
        n_A = np.asarray(n_A, dtype=np.int64).reshape(-1)
        n_B = np.asarray(n_B, dtype=np.int64).reshape(-1)
        n_U = (np.zeros(n, np.int64) if n_undecided is None else
               np.asarray(n_undecided, dtype=np.int64).reshape(-1))
        d = np.ones(n, bool) if done is None else np.asarray(done, bool)
        for name, arr in (("n_A", n_A), ("n_B", n_B), ("n_undecided", n_U),
                          ("done", d)):
            if arr.shape != (n,):
                raise InputError(f"{name} has shape {arr.shape}; want ({n},), "
                                 "one value per configuration")
        if np.any(n_A < 0) or np.any(n_B < 0) or np.any(n_U < 0):
            raise InputError("shot counts must be >= 0")
        if not isinstance(topology, dict) or not all(k in topology for k in
                                                     _TOPO_KEYS):
            raise InputTypeError(f"topology must be a dict with keys "
                                 f"{_TOPO_KEYS}")
        topo = {k: np.asarray(topology[k]) for k in _TOPO_KEYS}
        if len(topo["names"]) != x.shape[1]:
            raise InputError(f"topology has {len(topo['names'])} atoms, "
                             f"positions have {x.shape[1]}")
        if box is not None:
            box = np.asarray(box, dtype=float).reshape(-1)
            if box.size == 0:
                box = None
            elif box.shape != (6,) or not np.all(np.isfinite(box)) or \
                    np.any(box[:3] <= 0):
                raise InputError(f"box must be MDAnalysis dimensions [lx, ly, "
                                 f"lz, alpha, beta, gamma] (Angstrom, "
                                 f"degrees), got {box.tolist()}")
        self.box = box
        self.positions = x
        self.n_A, self.n_B, self.n_undecided, self.done = n_A, n_B, n_U, d
        self.topology = topo
        self.metadata = dict(metadata or {})

    # ------------------------------------------------------------------
    def __len__(self):
        return self.positions.shape[0]

    def __repr__(self):
        return (f"<CommittorDataset {len(self)} configurations, "
                f"{int(self.n_A.sum() + self.n_B.sum())} decided shots, "
                f"{int(self.done.sum())} done>")

    @property
    def n_atoms(self) -> int:
        """Atoms per configuration."""
        return self.positions.shape[1]

    @property
    def p_B(self) -> np.ndarray:
        """Committor estimate ``n_B / (n_A + n_B)`` (NaN if no decided shot)."""
        tot = self.n_A + self.n_B
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(tot > 0, self.n_B / np.maximum(tot, 1), np.nan)

    @property
    def complete(self) -> bool:
        """True when every configuration is finished."""
        return bool(self.done.all())

    # ------------------------------------------------------------------
    def save(self, path) -> str:
        """Write one ``.npz`` file (atomically: temp file then rename).

        Returns
        -------
        str
            The path written.

        Examples
        --------
        >>> ds.save("committor.npz")        # doctest: +SKIP
        'committor.npz'
        """
        path = os.fspath(path)
        d = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(d):
            raise InputError(f"cannot save to {path!r}: folder {d!r} does not "
                             "exist")
        meta = dict(self.metadata)
        try:
            meta_json = json.dumps(meta, sort_keys=True)
        except TypeError as err:
            raise InputError(f"metadata is not JSON-serialisable: {err}"
                             ) from None
        arrays = {"format": np.array(FORMAT), "format_version":
                  np.array(FORMAT_VERSION), "positions": self.positions,
                  "n_A": self.n_A, "n_B": self.n_B,
                  "n_undecided": self.n_undecided, "done": self.done,
                  "metadata": np.array(meta_json),
                  "box": (np.zeros(0) if self.box is None else self.box)}
        for k, v in self.topology.items():
            arrays["topology_" + k] = v
        def write(tmp):
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        atomic_write(path, write)
        return path

    @classmethod
    def load(cls, path) -> "CommittorDataset":
        """Read a file written by :meth:`save` (or by :func:`run_committor`).

        Raises
        ------
        DatasetError
            If the file is missing, not an ``.npz`` or not a dataset.

        Examples
        --------
        >>> ds = CommittorDataset.load("committor.npz")   # doctest: +SKIP
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise DatasetError(f"{path!r}: no such dataset file")
        try:
            with np.load(path, allow_pickle=False) as z:
                if "format" not in z.files or str(z["format"]) != FORMAT:
                    raise DatasetError(
                        f"{path!r} is an .npz file but not a "
                        "CommittorDataset (no 'format' record); make one "
                        "with run_committor or CommittorDataset.save")
                if int(z["format_version"]) > FORMAT_VERSION:
                    raise DatasetError(f"{path!r} was written by a newer "
                                       "mda_rcxai; upgrade to read it")
                topo = {k: z["topology_" + k] for k in _TOPO_KEYS}
                box = z["box"] if "box" in z.files else None
                return cls(z["positions"], z["n_A"], z["n_B"], topo,
                           json.loads(str(z["metadata"])), z["n_undecided"],
                           z["done"], box)
        except DatasetError:
            raise
        except Exception as err:
            # numpy calls any file that is not .npy/.npz "pickled data"
            why = ("not an .npz archive" if "pickled" in str(err)
                   or isinstance(err, (ValueError, EOFError)) and
                   not zipfile_like(path) else f"not a readable .npz: {err}")
            raise DatasetError(f"{path!r} is not a CommittorDataset file "
                               f"({why}); pass the .npz that run_committor "
                               "or a study wrote") from None

    # ------------------------------------------------------------------
    def to_universe(self):
        """An MDAnalysis Universe: one frame per configuration (Angstrom).

        MemoryReader trajectory; atom names, residue names/ids, segment,
        elements, types (= elements), masses and bonds set, so that the
        feature classes of :mod:`mda_rcxai.features` run on it unchanged
        (and ``atoms.fragments`` / ``unwrap`` work on its molecules). For
        a periodic system every frame's ``dimensions`` is the box.

        Examples
        --------
        >>> u = ds.to_universe()            # doctest: +SKIP
        >>> len(u.trajectory) == len(ds)    # doctest: +SKIP
        True
        """
        return universe_from_topology(self.topology, self.positions, self.box)

    # ------------------------------------------------------------------
    @classmethod
    def concatenate(cls, datasets) -> "CommittorDataset":
        """Join datasets of the same system (e.g. rounds of shooting).

        Raises
        ------
        DatasetError
            If the datasets come from different systems (fingerprint, atom
            names), temperatures or states.

        Examples
        --------
        >>> both = CommittorDataset.concatenate([ds1, ds2])   # doctest: +SKIP
        """
        datasets = list(datasets)
        if not datasets:
            raise InputError("concatenate needs at least one dataset")
        for d in datasets:
            if not isinstance(d, cls):
                raise InputTypeError(f"concatenate takes CommittorDatasets, "
                                     f"got {type(d).__name__}")
        ref = datasets[0]
        for k, d in enumerate(datasets[1:], 1):
            if d.n_atoms != ref.n_atoms or not np.array_equal(
                    d.topology["names"], ref.topology["names"]):
                raise DatasetError(f"dataset {k} has other atoms than "
                                   "dataset 0; cannot join different systems")
            if (d.box is None) != (ref.box is None) or (
                    d.box is not None and not np.allclose(d.box, ref.box)):
                raise DatasetError(f"dataset {k} has another periodic box "
                                   "than dataset 0; cannot join them")
            for key in ("system_fingerprint", "temperature", "states"):
                a, b = ref.metadata.get(key), d.metadata.get(key)
                if a is not None and b is not None and a != b:
                    raise DatasetError(
                        f"dataset {k} differs from dataset 0 in {key!r} "
                        f"({b!r} vs {a!r}); only datasets of the same system, "
                        "temperature and states can be joined")
        meta = {k: v for k, v in ref.metadata.items() if k != "run"}
        meta["parts"] = [d.metadata.get("run", {}) for d in datasets]
        meta["n_parts"] = len(datasets)
        return cls(np.concatenate([d.positions for d in datasets]),
                   np.concatenate([d.n_A for d in datasets]),
                   np.concatenate([d.n_B for d in datasets]), ref.topology,
                   meta, np.concatenate([d.n_undecided for d in datasets]),
                   np.concatenate([d.done for d in datasets]), box=ref.box)

    # ------------------------------------------------------------------
    @classmethod
    def from_ops_storage(cls, path, system=None, state_A="C7eq",
                         state_B="C7ax") -> "CommittorDataset":
        """Build a dataset from an OPS storage file of committor shots.

        E.g. a file written by OPS' own ``CommittorSimulation`` (or by
        ``run_committor(..., method="ops")``). Shots are counted with OPS'
        ``ShootingPointAnalysis``; each shooting point becomes one
        configuration.

        Parameters
        ----------
        path : str
            OPS netCDF storage.
        system : MolecularSystem, optional
            Gives the topology (PDB atom names) and, if the storage has no
            volumes named ``state_A`` / ``state_B``, the states. Without it
            the topology comes from the storage (mdtraj names).
        state_A, state_B : str
            Names of the volumes in the storage (or of ``system.states``).

        Examples
        --------
        >>> ds = CommittorDataset.from_ops_storage("committor.nc")  # doctest: +SKIP
        """
        from .ops import import_ops, make_volume
        paths = import_ops()
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise DatasetError(f"{path!r}: no such OPS storage file")
        try:
            storage = paths.Storage(path, "r")
        except Exception as err:
            raise DatasetError(f"{path!r} is not an OPS storage file: {err}"
                               ) from None
        try:
            vols = {}
            names = [v.name for v in storage.volumes]
            for nm in (state_A, state_B):
                if nm in names:
                    vols[nm] = storage.volumes[nm]
                elif system is not None and nm in system.states:
                    vols[nm] = make_volume(system.states[nm])
                else:
                    raise DatasetError(
                        f"state {nm!r} is neither a volume in {path!r} "
                        f"(it has {names}) nor in system.states")
            vA, vB = vols[state_A], vols[state_B]
            import contextlib
            import io
            with contextlib.redirect_stderr(io.StringIO()):  # OPS' own bar
                spa = paths.ShootingPointAnalysis(steps=storage.steps,
                                                  states=[vA, vB])
            if len(spa) == 0:
                raise DatasetError(f"{path!r} holds no committor shots")
            snaps = list(spa.keys())
            x = np.array([np.asarray(s.xyz, float) for s in snaps]) * 10.0
            n_A = np.array([spa[s].get(vA, 0) for s in snaps])
            n_B = np.array([spa[s].get(vB, 0) for s in snaps])
            n_tot = np.array([sum(spa[s].values()) for s in snaps])
            if system is not None:
                topo = system.topology_arrays()
                if len(topo["names"]) != x.shape[1]:
                    raise DatasetError(f"system has {system.n_atoms} atoms, "
                                       f"the storage {x.shape[1]}")
                fp = system.fingerprint()
                temp = None
            else:
                topo = _topology_from_mdtraj(snaps[0].topology.mdtraj)
                fp = None
                temp = None
            meta = {"source": "ops_storage", "ops_storage":
                    os.path.abspath(path), "states": [state_A, state_B],
                    "system_fingerprint": fp, "temperature": temp,
                    "versions": versions()}
            box = None
            if system is not None and system.box_vectors is not None:
                box = box_dimensions(system.box_vectors)
            out = cls(x, n_A, n_B, topo, meta, n_tot - n_A - n_B, box=box)
        finally:
            storage.close()
        del storage, spa, snaps, vols, vA, vB
        import gc
        gc.collect()  # free OPS/netCDF objects now, not at interpreter exit
        return out


def universe_from_topology(topology: dict, positions_angstrom, box=None):
    """An MDAnalysis Universe from topology arrays and frames (Angstrom).

    Parameters
    ----------
    topology : dict
        As :meth:`mda_rcxai.systems.MolecularSystem.topology_arrays`.
    positions_angstrom : array_like
        ``(n_frames, n_atoms, 3)`` or ``(n_atoms, 3)``, Angstrom.
    box : array_like, optional
        MDAnalysis dimensions (Angstrom, degrees), set on every frame.

    Returns
    -------
    MDAnalysis.Universe
        MemoryReader trajectory with names, types, elements, masses,
        residues, segment and bonds.
    """
    import MDAnalysis as mda
    from MDAnalysis.coordinates.memory import MemoryReader
    t = topology
    x = np.asarray(positions_angstrom, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    n_atoms = len(t["names"])
    if x.ndim != 3 or x.shape[1:] != (n_atoms, 3):
        raise InputError(f"positions have shape {x.shape}; want (n_frames, "
                         f"{n_atoms}, 3) in Angstrom")
    resids = np.asarray(t["resids"])
    segids = np.asarray(t["segids"]).astype(str)
    # residues in order of appearance (a new one where resid or chain change)
    change = np.r_[True, (resids[1:] != resids[:-1]) |
                   (segids[1:] != segids[:-1])]
    resindex = np.cumsum(change) - 1
    n_res = int(resindex[-1] + 1)
    first = np.flatnonzero(change)
    seg_names = list(dict.fromkeys(segids[first].tolist())) or ["A"]
    seg_of_res = np.array([seg_names.index(sg) for sg in segids[first]])
    u = mda.Universe.empty(n_atoms, n_residues=n_res, n_segments=len(seg_names),
                           atom_resindex=resindex,
                           residue_segindex=seg_of_res, trajectory=False)
    u.add_TopologyAttr("names", [str(s) for s in t["names"]])
    u.add_TopologyAttr("types", [str(s) for s in t["elements"]])
    u.add_TopologyAttr("elements", [str(s) for s in t["elements"]])
    u.add_TopologyAttr("masses", np.asarray(t["masses"], float))
    u.add_TopologyAttr("resnames", [str(s) for s in
                                    np.asarray(t["resnames"])[first]])
    u.add_TopologyAttr("resids", resids[first])
    u.add_TopologyAttr("segids", seg_names)
    u.add_TopologyAttr("bonds", [tuple(map(int, b)) for b in t["bonds"]])
    dims = None
    if box is not None:
        dims = np.tile(np.asarray(box, dtype=np.float32).reshape(1, 6),
                       (x.shape[0], 1))
    u.load_new(x, format=MemoryReader, order="fac", dimensions=dims)
    return u


def universe_from_system(system, positions_angstrom=None):
    """An MDAnalysis Universe with ``system``'s topology holding frames.

    Parameters
    ----------
    system : mda_rcxai.systems.MolecularSystem
    positions_angstrom : array_like, optional
        ``(n_frames, n_atoms, 3)`` or ``(n_atoms, 3)`` in **Angstrom**
        (default: the system's starting positions).

    Returns
    -------
    MDAnalysis.Universe
        Atom names, residues, elements, masses and bonds of the system;
        ``dimensions`` (Angstrom, degrees) set on every frame when the
        system is periodic.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> u = universe_from_system(alanine_dipeptide())
    >>> len(u.atoms), len(u.bonds), u.dimensions is None
    (22, 21, True)
    """
    if positions_angstrom is None:
        positions_angstrom = np.asarray(system.positions) * 10.0
    box = (None if system.box_vectors is None else
           box_dimensions(system.box_vectors))
    return universe_from_topology(system.topology_arrays(),
                                  positions_angstrom, box)


def _topology_from_mdtraj(top) -> dict:
    atoms = list(top.atoms)
    return {
        "names": np.array([a.name for a in atoms]),
        "resnames": np.array([a.residue.name for a in atoms]),
        "resids": np.array([a.residue.resSeq for a in atoms]),
        "segids": np.array(["A"] * len(atoms)),
        "elements": np.array([a.element.symbol if a.element else ""
                              for a in atoms]),
        "masses": np.array([a.element.mass if a.element else 0.0
                            for a in atoms]),
        "bonds": np.array([(b[0].index, b[1].index) for b in top.bonds],
                          dtype=int).reshape(-1, 2),
    }

"""OpenMM platform properties the package uses for every Context it creates."""

from __future__ import annotations

__all__ = ["platform_properties"]


def platform_properties(name, threads=1, system=None):
    """OpenMM Context properties for ``platform`` as this package uses them.

    CPU: ``Threads``, plus ``DeterministicForces="true"`` for a periodic
    system (or when ``system`` is not given). OpenMM 8's CPU PME sums forces
    in a varying order, so without the flag two runs of the same seed on a
    TIP3P box drift apart (0.01 nm after 200 steps) even with one thread;
    with it and one thread they are identical (cost ~2 %). A non-periodic
    system with one thread is repeatable without the flag (20,000 steps of
    alanine dipeptide in vacuum, identical), and there the flag costs ~11 %,
    so it is left off. With several threads neither is repeatable. GPU
    platforms: mixed precision.

    Parameters
    ----------
    name : str
        OpenMM platform name (``"CPU"``, ``"CUDA"``, ``"OpenCL"``, ``"HIP"``,
        ``"Reference"``).
    threads : int
        CPU threads per Context.
    system : openmm.System or MolecularSystem, optional
        The system the Context is for; decides the CPU flag.

    Returns
    -------
    dict of str to str

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide, platform_properties
    >>> platform_properties("CPU")
    {'Threads': '1', 'DeterministicForces': 'true'}
    >>> platform_properties("CPU", system=alanine_dipeptide())   # vacuum
    {'Threads': '1'}
    >>> platform_properties("CUDA")
    {'Precision': 'mixed'}
    """
    if name == "CPU":
        props = {"Threads": str(int(threads))}
        omm = getattr(system, "system", system)
        if omm is None or omm.usesPeriodicBoundaryConditions():
            props["DeterministicForces"] = "true"
        return props
    if name in ("CUDA", "OpenCL", "HIP"):
        return {"Precision": "mixed"}
    return {}

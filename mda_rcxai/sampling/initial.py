"""A first transition path: hot MD then relaxation, or a pull then two-way shots.

Both run on the dynamics core (:mod:`mda_rcxai.sampling.core`): one
Context factory, the Maxwell-Boltzmann draw with constraints, and the one
run-until-a-state loop.

* :func:`initial_path` -- Langevin MD at a high temperature until the
  molecule goes from A to B, then two-way shooting at the target
  temperature until a move is accepted (any system; as the OPS alanine
  dipeptide examples);
* :func:`pull_initial_path` -- for two states on one distance (an ion pair
  in water) or one dihedral (phi of alanine dipeptide in water): a harmonic
  restraint pulls the coordinate to the barrier, then unrestrained two-way
  shots at the target temperature until one joins A and B (no hot MD: at
  1300 K a water box is a supercritical fluid).

Units: positions nm, velocities nm/ps, temperature K, time ps / fs,
dihedrals degrees.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import InputError, InputTypeError, SamplingError, StateError
from ..systems import StateDefinition
from ..systems.nacl import add_distance_restraint
from .core import (OneMolecule, StateTest, as_settings, choose_platform,
                   create_context, make_integrator, maxwell_boltzmann,
                   run_until_state, start_trajectory, state_arrays,
                   velocity_sigma)
from .ops import import_ops, make_engine, trajectory
from .progress import progress_bar
from .shooting import two_states
from .tps_fast import chain_seeds, run_chain

__all__ = ["initial_path", "pull_initial_path", "measured_settings"]


def measured_settings(system, settings, max_threads=None):
    """``settings`` with a platform name: "auto" measured on ``system``.

    Returns the settings and the :class:`~mda_rcxai.sampling.core.PlatformChoice`.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> from mda_rcxai.sampling.core import EngineSettings
    >>> st, choice = measured_settings(alanine_dipeptide(), EngineSettings(platform="Reference"))
    >>> st.platform, choice.reason
    ('Reference', 'requested (platform="Reference")')
    """
    choice = choose_platform(system.system, settings, system.positions,
                             box=system.box_vectors, max_threads=max_threads,
                             cache_key=system.fingerprint())
    return settings.replace(platform=choice.platform,
                            threads=choice.threads), choice


def _check_int(name, val, low):
    if isinstance(val, bool) or int(val) != val or val < low:
        raise InputError(f"{name}={val!r} must be an integer >= {low}")
    return int(val)


def initial_path(system, state_A=None, state_B=None, seed: int | None = 0, *,
                 settings=None, high_temperature: float = 1300.0,
                 max_frames: int = 20000, relax_moves: int = 40,
                 max_attempts: int = 5, hot_steps_per_frame: int = 2,
                 verbose: bool = True, **engine):
    """A first transition path from ``state_A`` to ``state_B`` at the temperature.

    1. Langevin MD at ``high_temperature`` from ``system.positions``
       (Maxwell-Boltzmann start velocities from ``SeedSequence([seed,
       attempt, 1])``, frames every ``hot_steps_per_frame`` MD steps) until
       it has been in ``state_A`` and then reaches ``state_B``, at most
       ``max_frames`` frames; the piece from the last frame in A to the
       first frame in B is a valid but hot A->B path.
    2. Relaxation: two-way TPS shooting at ``settings.temperature`` until a
       move is accepted, at most ``relax_moves`` moves. An accepted two-way
       move replaces the whole path by dynamics at the target temperature.

    If step 2 fails, steps 1-2 are repeated with new random velocities, at
    most ``max_attempts`` times. Decorrelate the path with
    :func:`~mda_rcxai.sampling.run_tps` before harvesting.

    Parameters
    ----------
    system : MolecularSystem
    state_A, state_B : str or StateDefinition, optional
        Default: the system's two states.
    seed : int or None
    settings : EngineSettings, optional
        The dynamics at the target temperature (its fields are also
        accepted as keywords, e.g. ``temperature=300``); ``platform="auto"``
        is measured (:func:`~mda_rcxai.sampling.core.choose_platform`).
    high_temperature : float
        Temperature of step 1, K.
    max_frames : int
        Bound on step 1 per attempt, frames.
    relax_moves : int
        Bound on step 2 per attempt, shooting moves.
    max_attempts : int
        Attempts of steps 1-2.
    hot_steps_per_frame : int
        MD steps per frame in step 1.
    verbose : bool

    Returns
    -------
    openpathsampling.Trajectory
        Starts in A, ends in B, no frame in between inside A or B.

    Raises
    ------
    SamplingError
        If no attempt gives an accepted path (the message names the
        arguments to raise).

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> path = initial_path(alanine_dipeptide(), seed=1)    # doctest: +SKIP
    >>> len(path) > 2                                        # doctest: +SKIP
    True
    """
    import_ops()  # OPS imported (quietly) before anything prints
    settings = as_settings(settings, **engine)
    st_A, st_B = two_states(system, state_A, state_B)
    max_frames = _check_int("max_frames", max_frames, 2)
    relax_moves = _check_int("relax_moves", relax_moves, 1)
    max_attempts = _check_int("max_attempts", max_attempts, 1)
    hot_spf = _check_int("hot_steps_per_frame", hot_steps_per_frame, 1)
    if not high_temperature > 0:
        raise InputError(f"high_temperature={high_temperature} must be > 0 K")
    box = system.box_vectors
    if st_B.contains(system.positions, box=box)[0]:
        raise StateError(f"system.positions are inside the final state "
                         f"{st_B.name!r}; start from a structure in or near "
                         f"{st_A.name!r}")
    settings, _ = measured_settings(system, settings)
    hot = settings.replace(temperature=high_temperature,
                           steps_per_frame=hot_spf, n_frames_max=max_frames)
    test = StateTest(st_A, st_B, box)
    sigma = velocity_sigma(system.system, high_temperature)
    log = []
    for attempt in range(max_attempts):
        rng, integ_seed = chain_seeds(seed, (attempt, 1))
        ctx = create_context(system.system, make_integrator(hot, integ_seed),
                             hot.platform, hot.threads, box=box)
        one = OneMolecule(ctx, hot_spf, record=True)
        one.start(*start_trajectory(ctx, system.positions,
                                    maxwell_boltzmann(rng, sigma)))
        seen_A = [test(system.positions) == 1]
        bar = progress_bar(verbose, total=max_frames,
                           desc=f"hot MD {high_temperature:g} K "
                                f"(try {attempt + 1})")

        def b_after_a(x):
            code = test(x)
            bar.update(1)
            if code == 1:
                seen_A[0] = True
            return 2 if code == 2 and seen_A[0] else 0
        try:
            _, codes = next(run_until_state(one, b_after_a, max_frames))
        finally:
            bar.close()
        xs, vs = np.array(one.xs), np.array(one.vs)
        del one, ctx
        if codes[0] != 2:
            log.append(f"try {attempt + 1}: no transition in {max_frames} "
                       f"frames at {high_temperature:g} K")
            continue
        in_A = test.codes(xs) == 1
        i_b = len(xs) - 1
        i_a = int(np.flatnonzero(in_A[:i_b])[-1])
        relax = run_chain(system, st_A, st_B, xs[i_a:i_b + 1],
                          vs[i_a:i_b + 1], relax_moves, settings,
                          seed=seed, chain=(attempt, 2),
                          stop_after_accepted=1)
        if len(relax["acc_x"]):
            engine_ = make_engine(system, settings, seed=seed)
            return trajectory(engine_, relax["acc_x"][0], relax["acc_v"][0])
        log.append(f"try {attempt + 1}: hot path of {i_b - i_a + 1} frames, "
                   f"0 of {relax_moves} shooting moves at "
                   f"{settings.temperature:g} K accepted")
    raise SamplingError(
        f"no {st_A.name}->{st_B.name} path at {settings.temperature:g} K "
        f"after {max_attempts} attempts ({'; '.join(log)}). Raise "
        "initial_path's max_frames, relax_moves, max_attempts or "
        "high_temperature (in a study config: [tps] initial_temperature), "
        "or check the state definitions")


def _one_coordinate(state_a, state_b):
    """The kind, atoms and two ranges of two states on one distance (nm) or dihedral (deg)."""
    out = []
    for st in (state_a, state_b):
        if not isinstance(st, StateDefinition):
            raise InputTypeError(f"states must be StateDefinition objects, "
                                 f"got {type(st).__name__}")
        if len(st.features) != 1 or st.features[0].kind not in ("distance", "dihedral"):
            raise InputError(
                f"state {st.name!r} is not a single distance or dihedral range; the "
                "pull initial path needs both states on one distance or one dihedral "
                "(use the hot-MD initial path for other states)")
        out.append((st.features[0].kind, tuple(st.features[0].atoms),
                    tuple(float(v) for v in st.ranges[0])))
    if out[0][:2] != out[1][:2]:
        raise InputError("the two states use different atoms; the pull initial path "
                         "needs both on the same distance or dihedral")
    return out[0][0], out[0][1], out[0][2], out[1][2]


def _wrap_deg(x):
    """An angle in degrees in [-180, 180)."""
    return (float(x) + 180.0) % 360.0 - 180.0


def _dihedral_gaps(range_a, range_b):
    """The two gaps between two dihedral ranges (degrees), each ``(start, width, towards_B)``.

    Going up from A's upper end reaches B's lower end (``towards_B = +1``);
    going up from B's upper end reaches A's lower end (``towards_B = -1``).
    """
    (lo_a, hi_a), (lo_b, hi_b) = range_a, range_b
    return [(hi_a, (lo_b - hi_a) % 360.0, 1.0), (hi_b, (lo_a - hi_b) % 360.0, -1.0)]


def _dihedral_shoot(range_a, range_b, shoot_deg):
    """Centre of the restraint (degrees) and the sign of a step towards B."""
    gaps = _dihedral_gaps(range_a, range_b)
    if shoot_deg is None:  # midway across the wider gap
        start, width, sign = max(gaps, key=lambda g: g[1])
        return _wrap_deg(start + 0.5 * width), sign
    for start, width, sign in gaps:
        if 0.0 < (shoot_deg - start) % 360.0 < width:
            return _wrap_deg(shoot_deg), sign
    start, width, _ = max(gaps, key=lambda g: g[1])
    raise InputError(f"shoot_deg={shoot_deg} lies inside a state, not between them; give "
                     f"an angle between the states, e.g. {_wrap_deg(start + 0.5 * width):.1f} "
                     "(midway across the wider gap, the default)")


def pull_initial_path(system, state_A=None, state_B=None, seed: int = 0, *,
                      settings=None, r_shoot_nm: float | None = None,
                      shoot_deg: float | None = None, adapt_deg: float = 3.0,
                      pull_ps: float = 2.0, hold_ps: float = 2.0,
                      between_ps: float = 0.5, max_shots: int = 40,
                      return_info: bool = False, **engine):
    """A transition path between two states on one distance or dihedral: a pull, then two-way shots.

    1. Pull: a harmonic restraint on the states' coordinate moves from the
       starting value to the shooting point in ``pull_ps`` and holds it
       there for ``hold_ps`` (Langevin at the temperature). On a distance
       (nm): 5000 kJ/mol/nm^2 at ``r_shoot_nm``
       (:func:`mda_rcxai.systems.nacl.add_distance_restraint`). On a
       dihedral (degrees): an :class:`openmm.CustomTorsionForce`
       ``0.5 k d^2`` with ``k`` = 500 kJ/mol/rad^2 and ``d`` the periodic
       (shortest-arc) difference from the centre ``shoot_deg``; the pull
       moves the centre along the shorter arc.
    2. Two-way shots: from the restrained configuration, fresh
       Maxwell-Boltzmann velocities (constraints applied); unrestrained
       dynamics forward until a state, and from the same configuration with
       the velocities reversed, likewise (the one run-until-a-state loop).
       If one half ends in A and the other in B, the halves joined (A
       first) are the path: every frame but the shooting point is unbiased
       dynamics at the temperature. Otherwise the restrained run goes on
       for ``between_ps`` and the next shot is tried, at most ``max_shots``.
       On a dihedral, a shot whose halves both ended in A moves the centre
       ``adapt_deg`` towards B (both in B: towards A), so the shooting
       points drift to where the committor is near 1/2.

    Parameters
    ----------
    system : MolecularSystem
        Periodic, with two states on one distance (e.g.
        :func:`mda_rcxai.systems.nacl_water`) or one dihedral (e.g.
        :func:`mda_rcxai.systems.alanine_dipeptide_water`, on phi).
    state_A, state_B : str or StateDefinition, optional
        Default: the system's two states.
    seed : int
        Seeds velocities and the thermostat.
    settings : EngineSettings, optional
        Its fields are also accepted as keywords; ``settings.n_frames_max``
        bounds each half.
    r_shoot_nm : float, optional
        States on a distance: distance the pull ends at, nm (default:
        midway between the two states' ranges).
    shoot_deg : float, optional
        States on a dihedral: first centre of the restraint, degrees
        (default: midway across the wider of the two gaps between the
        states; -5 for the phi states of alanine dipeptide in water).
    adapt_deg : float
        States on a dihedral: step of the centre after a shot whose halves
        ended in one state, degrees (0 keeps it fixed). Distances: unused.
    pull_ps, hold_ps, between_ps : float
        Restrained MD lengths, ps.
    max_shots : int
        Two-way shots to try.
    return_info : bool
        Also return a dict with ``shots`` (tried), ``frame_ps``,
        ``shooting_frame`` and ``r_nm`` (distance per frame) or
        ``dihedral_deg`` (dihedral per frame, degrees) and ``centre_deg``
        (the restraint's last centre).

    Returns
    -------
    positions : numpy.ndarray
        ``(n_frames, n_atoms, 3)`` nm, not wrapped; frame 0 in ``state_A``,
        the last in ``state_B``, none between in either.
    info : dict
        Only with ``return_info=True``.

    Raises
    ------
    InputError
        States not on one distance or dihedral, a shooting point inside a
        state or given for the other kind of coordinate, bad lengths.
    SamplingError
        No shot joined A and B within ``max_shots`` (names the arguments).

    Examples
    --------
    >>> from mda_rcxai.systems import nacl_water, alanine_dipeptide_water
    >>> x = pull_initial_path(nacl_water(), seed=0)  # doctest: +SKIP
    >>> x.shape  # doctest: +SKIP
    (93, 737, 3)
    >>> x = pull_initial_path(alanine_dipeptide_water(), seed=0,
    ...                       temperature=300.0)  # doctest: +SKIP
    """
    import openmm
    settings = as_settings(settings, **engine)
    sa, sb = two_states(system, state_A, state_B)
    kind, atoms, range_a, range_b = _one_coordinate(sa, sb)
    max_shots = _check_int("max_shots", max_shots, 1)
    dihedral = kind == "dihedral"
    given, other = (("shoot_deg", shoot_deg), ("r_shoot_nm", r_shoot_nm)) if dihedral \
        else (("r_shoot_nm", r_shoot_nm), ("shoot_deg", shoot_deg))
    if other[1] is not None:
        raise InputError(f"{other[0]}={other[1]} applies to states on a "
                         f"{'distance' if dihedral else 'dihedral'}; these are on a {kind}: "
                         f"give {given[0]} instead")
    checks = [("pull_ps", pull_ps), ("hold_ps", hold_ps), ("between_ps", between_ps)]
    if dihedral:
        if shoot_deg is not None and not np.isfinite(shoot_deg):
            raise InputError(f"shoot_deg={shoot_deg} must be a finite angle in degrees")
        if not (np.isfinite(adapt_deg) and adapt_deg >= 0):
            raise InputError(f"adapt_deg={adapt_deg} must be a number >= 0 (degrees)")
        centre, towards_b = _dihedral_shoot(range_a, range_b, shoot_deg)
        k_restraint = 500.0   # kJ/mol/rad^2
    else:
        if r_shoot_nm is None:
            lo, hi = sorted([range_a, range_b])
            r_shoot_nm = 0.5 * (lo[1] + hi[0])
        checks.insert(0, ("r_shoot_nm", r_shoot_nm))
        centre, towards_b = r_shoot_nm, 0.0
        k_restraint = 5000.0  # kJ/mol/nm^2
    for name, v in checks:
        if not (np.isfinite(v) and v > 0):
            raise InputError(f"{name}={v} must be a positive number")
    if not system.periodic:
        raise InputError("pull_initial_path needs a periodic system (a "
                         "solvated box); use initial_path for a molecule "
                         "in vacuum")
    settings, _ = measured_settings(system, settings)
    omm = openmm.XmlSerializer.deserialize(
        openmm.XmlSerializer.serialize(system.system))
    if dihedral:
        f = openmm.CustomTorsionForce(
            "0.5*k_restraint*d^2; d = min(dt, 2*pi - dt); dt = abs(theta - theta0_restraint); "
            "pi = 3.141592653589793")
        f.addGlobalParameter("k_restraint", k_restraint)
        f.addGlobalParameter("theta0_restraint", 0.0)
        f.addTorsion(*[int(i) for i in atoms], [])
        k_idx = omm.addForce(f)
    else:
        k_idx = add_distance_restraint(omm, atoms[0], atoms[1], k_restraint, r_shoot_nm)
    omm.getForce(k_idx).setForceGroup(31)

    def set_centre(value):  # nm, or degrees (the force takes radians in [-pi, pi))
        if dihedral:
            ctx.setParameter("theta0_restraint", np.radians(_wrap_deg(value)))
        else:
            ctx.setParameter("r0_restraint", value)

    ctx = create_context(omm, make_integrator(settings, int(seed) + 1),
                         settings.platform, settings.threads,
                         box=system.box_vectors, positions=system.positions)
    integ = ctx.getIntegrator()
    rng = np.random.default_rng(seed)
    sigma = velocity_sigma(omm, settings.temperature)
    ctx.setVelocities(maxwell_boltzmann(rng, sigma))
    test = StateTest(sa, sb, system.box_vectors)
    start = float(sa.values(system.positions, system.box_vectors)[0, 0])
    delta = _wrap_deg(centre - start) if dihedral else centre - start
    dt = settings.timestep_fs
    n_pull = max(1, int(round(pull_ps * 1000 / dt / 50)))
    for s in range(n_pull):  # move the restraint in 50-step stages
        set_centre(start + delta * (s + 1) / n_pull)
        integ.step(50)
    integ.step(max(1, int(round(hold_ps * 1000 / dt))))
    n_between = max(1, int(round(between_ps * 1000 / dt)))
    one = OneMolecule(ctx, settings.steps_per_frame, record=True)

    def half(x0, v0):
        one.start(x0, v0)
        _, codes = next(run_until_state(one, test, settings.n_frames_max))
        return list(one.xs), int(codes[0])

    for shot in range(1, max_shots + 1):
        ctx.setParameter("k_restraint", k_restraint)
        set_centre(centre)
        integ.step(n_between)
        x_held, v_held = state_arrays(
            ctx.getState(getPositions=True, getVelocities=True),
            velocities=True)
        if test(x_held):
            continue
        ctx.setParameter("k_restraint", 0.0)
        x0, v0 = start_trajectory(ctx, x_held, maxwell_boltzmann(rng, sigma))
        fwd, end_f = half(x0, v0)
        bwd, end_b = half(x0, -v0)
        if {end_f, end_b} != {1, 2}:
            ctx.setPositions(x_held)  # back to the restrained run
            ctx.setVelocities(v_held)
            if dihedral and end_f == end_b and end_f in (1, 2):
                centre = _wrap_deg(centre + (adapt_deg if end_f == 1 else -adapt_deg)
                                   * towards_b)
            continue
        if end_f == 2:
            frames, shoot = bwd[::-1] + fwd[1:], len(bwd) - 1
        else:
            frames, shoot = fwd[::-1] + bwd[1:], len(fwd) - 1
        pos = np.stack(frames)
        if not return_info:
            return pos
        info = {"shots": shot, "shooting_frame": shoot, "frame_ps": settings.frame_time_ps}
        values = sa.values(pos, system.box_vectors)[:, 0]
        if dihedral:
            info.update(dihedral_deg=values, centre_deg=centre)
        else:
            info["r_nm"] = values
        return pos, info
    where = (f"shoot_deg={shoot_deg} (last centre {centre:.1f} degrees)" if dihedral
             else f"r_shoot_nm={r_shoot_nm:.3f}")
    raise SamplingError(
        f"no {sa.name}->{sb.name} path in max_shots={max_shots} two-way "
        f"shots from {where}; raise max_shots or the longest path (n_frames_max; "
        "[tps] max_path_frames in a config), or move the shooting point ([tps] pull_to) "
        "closer to the barrier top")

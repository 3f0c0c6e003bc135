"""Tests of batched committor shooting (sampling.replicas and sampling.shooting).

Runs on the OpenMM CPU platform with one thread (Reference for exact
energy checks); the whole file takes well under a minute on one core.
"""

import numpy as np
import openmm
import pytest

from mda_rcxai.exceptions import InputError, InputTypeError
from mda_rcxai.sampling.core import KB_KJ_PER_MOL_K, EngineSettings
from mda_rcxai.sampling.replicas import (ReplicaBatch, build_replica_system,
                                         shot_rng)
from mda_rcxai.sampling.shooting import shoot_batched, shoot_plain
from mda_rcxai.systems import alanine_dipeptide

# Five configurations of the bundled alanine dipeptide between C7eq and C7ax
# (nm, rounded to 1e-4), picked from 1000 K Langevin MD and shot 200 times
# each with shoot_batched (seed 5): p_B ~ 0, 0.26, 0.57, 0.79, 1.
# (phi, psi, theta) in degrees: (-12, 101, -21), (-5, -34, -6),
# (34, 170, -45), (18, 67, 62), (16, -25, 26).
BARRIER_NM = np.array([
    [
        (0.0720, -0.1446, -0.3788), (0.1227, -0.1573, -0.2832), (0.2008, -0.0815, -0.2901),
        (0.1691, -0.2554, -0.2732), (0.0246, -0.1212, -0.1662), (-0.0685, -0.0394, -0.1987),
        (0.0439, -0.1647, -0.0417), (0.1136, -0.2371, -0.0521), (0.0038, -0.1125, 0.0922),
        (-0.0835, -0.1743, 0.1132), (0.1434, -0.1236, 0.1753), (0.1611, -0.2311, 0.1715),
        (0.1265, -0.0858, 0.2762), (0.2319, -0.0872, 0.1231), (-0.0495, 0.0359, 0.0677),
        (0.0249, 0.1441, 0.0674), (-0.1785, 0.0263, 0.0686), (-0.2239, -0.0551, 0.0297),
        (-0.2591, 0.1526, 0.1122), (-0.2352, 0.1658, 0.2177), (-0.2085, 0.2287, 0.0527),
        (-0.3663, 0.1367, 0.1234),
    ],
    [
        (-0.1474, -0.4049, -0.0225), (-0.0750, -0.3601, 0.0455), (0.0130, -0.4097, 0.0044),
        (-0.1274, -0.4103, 0.1268), (-0.0729, -0.2134, 0.0408), (-0.1829, -0.1719, 0.0058),
        (0.0466, -0.1404, 0.0595), (0.1218, -0.1958, 0.0979), (0.0954, -0.0046, 0.0390),
        (0.1335, 0.0306, 0.1349), (0.2330, -0.0415, -0.0416), (0.3094, 0.0324, -0.0172),
        (0.2124, -0.0652, -0.1460), (0.2763, -0.1374, -0.0130), (0.0147, 0.0946, -0.0233),
        (0.0303, 0.2101, 0.0167), (-0.0720, 0.0683, -0.1187), (-0.0804, -0.0285, -0.1463),
        (-0.1079, 0.1674, -0.2161), (-0.2101, 0.1525, -0.2510), (-0.1174, 0.2664, -0.1716),
        (-0.0521, 0.1774, -0.3092),
    ],
    [
        (-0.3485, -0.1182, 0.1600), (-0.3468, -0.0426, 0.0815), (-0.4251, 0.0329, 0.0891),
        (-0.3500, -0.0900, -0.0166), (-0.2183, 0.0049, 0.0482), (-0.2019, 0.1204, 0.0190),
        (-0.1222, -0.0859, 0.0871), (-0.1546, -0.1501, 0.1580), (0.0127, -0.1075, 0.0216),
        (0.0731, -0.1169, 0.1118), (0.0329, -0.2353, -0.0574), (0.1385, -0.2624, -0.0571),
        (-0.0250, -0.2104, -0.1463), (-0.0353, -0.3080, -0.0130), (0.1043, 0.0031, -0.0472),
        (0.0790, 0.1224, -0.0595), (0.2308, -0.0291, -0.0837), (0.2581, -0.1260, -0.0925),
        (0.3467, 0.0432, -0.1161), (0.4209, 0.0365, -0.0365), (0.3748, 0.0402, -0.2214),
        (0.3288, 0.1507, -0.1143),
    ],
    [
        (0.2062, -0.1075, 0.2108), (0.2237, -0.1589, 0.1162), (0.2410, -0.2647, 0.1355),
        (0.3174, -0.1141, 0.0833), (0.1091, -0.1509, 0.0230), (0.0364, -0.2514, 0.0227),
        (0.1309, -0.0571, -0.0671), (0.2279, -0.0299, -0.0744), (0.0251, 0.0335, -0.1183),
        (0.0782, 0.1276, -0.1036), (-0.0067, 0.0063, -0.2618), (-0.0430, 0.0957, -0.3125),
        (-0.0920, -0.0611, -0.2693), (0.0800, -0.0258, -0.3196), (-0.1039, 0.0429, -0.0288),
        (-0.2194, -0.0013, -0.0570), (-0.0898, 0.0988, 0.0907), (-0.0021, 0.0791, 0.1367),
        (-0.1959, 0.1661, 0.1598), (-0.2818, 0.1760, 0.0936), (-0.2051, 0.1286, 0.2618),
        (-0.1716, 0.2714, 0.1743),
    ],
    [
        (-0.1348, -0.3394, 0.1427), (-0.1853, -0.2436, 0.1552), (-0.1642, -0.2272, 0.2609),
        (-0.2848, -0.2394, 0.1109), (-0.0928, -0.1582, 0.0943), (0.0259, -0.2108, 0.0892),
        (-0.1414, -0.0344, 0.0635), (-0.2246, -0.0110, 0.1158), (-0.0898, 0.0617, -0.0287),
        (-0.1829, 0.0741, -0.0841), (-0.0399, 0.1682, 0.0797), (-0.1293, 0.2050, 0.1301),
        (0.0170, 0.2545, 0.0450), (0.0192, 0.1252, 0.1606), (0.0155, 0.0318, -0.1401),
        (0.0334, 0.1295, -0.2179), (0.1061, -0.0719, -0.1335), (0.0866, -0.1542, -0.0783),
        (0.2518, -0.0624, -0.1710), (0.2432, 0.0124, -0.2497), (0.3097, -0.0456, -0.0802),
        (0.2836, -0.1483, -0.2301),
    ],
])


@pytest.fixture(scope="module")
def ala():
    return alanine_dipeptide()


@pytest.fixture(scope="module")
def frames_nm():
    import MDAnalysis as mda
    from mda_rcxai.data import ALANINE_DIPEPTIDE_DCD, ALANINE_DIPEPTIDE_PDB
    u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)
    return np.array([u.trajectory[f].positions / 10.0
                     for f in (0, 150, 300, 499, 500, 650, 800, 999)])


def _energy_forces(omm_system, positions, platform):
    plat = openmm.Platform.getPlatformByName(platform)
    props = {"Threads": "1"} if platform == "CPU" else {}
    ctx = openmm.Context(omm_system, openmm.VerletIntegrator(0.001), plat,
                         props)
    ctx.setPositions(positions)
    st = ctx.getState(getEnergy=True, getForces=True)
    return (st.getPotentialEnergy()._value,
            st.getForces(asNumpy=True)._value)


# ----------------------------------------------------------------------
# the replica System
@pytest.mark.parametrize("platform, e_tol, f_tol", [
    ("Reference", 1e-8, 1e-8),      # double precision: exact
    ("CPU", 5e-4, 5e-3),            # single precision forces: ~1e-4 measured
])
def test_replica_energy_and_forces_match_single_molecule(
        ala, frames_nm, platform, e_tol, f_tol):
    K = len(frames_nm)
    big = build_replica_system(ala, K)
    e_big, f_big = _energy_forces(big, frames_nm.reshape(-1, 3), platform)
    singles = [_energy_forces(ala.system, x, platform) for x in frames_nm]
    e_single = np.array([e for e, _ in singles])
    f_single = np.array([f for _, f in singles])
    assert abs(e_big - e_single.sum()) < e_tol * K
    np.testing.assert_allclose(f_big.reshape(K, ala.n_atoms, 3), f_single,
                               rtol=0, atol=f_tol)
    # per copy: a 1-replica System gives each molecule's own energy
    one = build_replica_system(ala, 1)
    for x, e in zip(frames_nm, e_single):
        assert abs(_energy_forces(one, x, platform)[0] - e) < e_tol


def test_replica_system_layout(ala):
    big = build_replica_system(ala, 3)
    n = ala.n_atoms
    assert big.getNumParticles() == 3 * n
    assert big.getNumConstraints() == 3 * ala.system.getNumConstraints()
    assert not any(isinstance(f, openmm.CMMotionRemover)
                   for f in big.getForces())
    i, j, d = ala.system.getConstraintParameters(0)
    i2, j2, d2 = big.getConstraintParameters(
        2 * ala.system.getNumConstraints())
    assert (i2, j2) == (i + 2 * n, j + 2 * n) and d2 == d
    for a in range(n):
        assert big.getParticleMass(2 * n + a) == ala.system.getParticleMass(a)


def _modified(ala, change):
    s = openmm.XmlSerializer.deserialize(
        openmm.XmlSerializer.serialize(ala.system))
    change(s)
    return s


def _nonbonded(s):
    return next(f for f in s.getForces()
                if isinstance(f, openmm.NonbondedForce))


@pytest.mark.parametrize("change, words", [
    (lambda s: _nonbonded(s).setNonbondedMethod(
        openmm.NonbondedForce.CutoffNonPeriodic), "cutoff"),
    (lambda s: (s.setDefaultPeriodicBoxVectors(
        openmm.Vec3(3, 0, 0), openmm.Vec3(0, 3, 0), openmm.Vec3(0, 0, 3)),
        _nonbonded(s).setNonbondedMethod(openmm.NonbondedForce.PME)),
     "periodic"),
    (lambda s: s.addForce(openmm.GBSAOBCForce()), "GBSAOBCForce"),
    (lambda s: s.addForce(openmm.CustomNonbondedForce("r")),
     "CustomNonbondedForce"),
])
def test_refuses_systems_it_cannot_copy(ala, change, words):
    with pytest.raises(InputError, match=words) as err:
        build_replica_system(_modified(ala, change), 4)
    assert "method='lean' or 'ops'" in str(err.value)


def test_bad_arguments(ala):
    with pytest.raises(InputError, match="n_replicas"):
        build_replica_system(ala, 0)
    with pytest.raises(InputTypeError, match="MolecularSystem"):
        build_replica_system("ala", 2)
    with pytest.raises(InputError, match="shape"):
        shoot_batched(ala, np.zeros((2, 5, 3)), 1, verbose=False)
    with pytest.raises(InputError, match="n_replicas"):
        shoot_batched(ala, BARRIER_NM, 1, n_replicas=0, verbose=False)
    with pytest.raises(InputError, match="skip"):
        shoot_batched(ala, BARRIER_NM, 1, skip={7}, verbose=False)
    with pytest.raises(InputError, match="platform"):
        shoot_batched(ala, BARRIER_NM, 1, platform="Abacus", verbose=False)


# ----------------------------------------------------------------------
# re-seeding: velocities and constraints
def test_reseeded_velocities_are_maxwell_boltzmann(ala):
    K, T = 256, 300.0
    batch = ReplicaBatch(ala, K, EngineSettings(temperature=T), "CPU")
    batch.advance()
    batch.advance()
    before = batch.positions.copy()
    v_before = batch.velocities()
    slots = list(range(0, K, 2))          # re-seed every other replica
    batch.start(slots, [BARRIER_NM[s % 5] for s in slots],
                [shot_rng(0, s, 0) for s in slots])
    v = batch.velocities()[slots]
    pos = batch.context.getState(getPositions=True).getPositions(
        asNumpy=True)._value.reshape(K, ala.n_atoms, 3)
    masses = np.array([ala.system.getParticleMass(a)._value
                       for a in range(ala.n_atoms)])
    ke = 0.5 * np.sum(masses[:, None] * v ** 2, axis=(1, 2))    # kJ/mol
    dof = 3 * ala.n_atoms - ala.system.getNumConstraints()        # per copy
    t_kin = 2 * ke / (dof * KB_KJ_PER_MOL_K)
    # mean of 128 replicas: relative sd sqrt(2 / (dof * 128)) = 1.7 %
    assert abs(t_kin.mean() / T - 1) < 0.06
    # constraints hold for the new replicas ...
    for c in range(ala.system.getNumConstraints()):
        i, j, d = ala.system.getConstraintParameters(c)
        r = np.linalg.norm(pos[slots, i] - pos[slots, j], axis=-1)
        np.testing.assert_allclose(r, d._value, rtol=2e-5)
        # ... and their bond velocities vanish along the bond
        dv = np.sum((v[:, i] - v[:, j]) * (pos[slots, i] - pos[slots, j]), -1)
        assert np.abs(dv).max() < 1e-3
    # the replicas that were not re-seeded are untouched (LangevinMiddle
    # velocities lag half a step: projecting them would change them)
    others = [k for k in range(K) if k not in slots]
    np.testing.assert_array_equal(pos[others], before[others])
    np.testing.assert_array_equal(batch.velocities()[others],
                                  v_before[others])


# ----------------------------------------------------------------------
# shooting
def test_configurations_inside_states_count_without_integrating(
        ala, frames_nm):
    info = {}
    n_A, n_B, n_U = shoot_batched(ala, frames_nm, 3, verbose=False,
                                  info=info)
    assert n_A.tolist() == [3, 3, 3, 3, 0, 0, 0, 0]
    assert n_B.tolist() == [0, 0, 0, 0, 3, 3, 3, 3]
    assert n_U.sum() == 0 and info["n_steps"] == 0


def test_near_basin_configurations_commit(ala):
    # just outside the boxes, next to C7eq (p_B = 0) and C7ax (p_B = 1)
    n_A, n_B, n_U = shoot_batched(ala, BARRIER_NM[[0, 4]], 16, n_replicas=8,
                                  seed=2, verbose=False)
    assert n_B.tolist() == [0, 16] and n_A.tolist() == [16, 0]
    assert n_U.sum() == 0


def test_same_seed_same_counts_and_callbacks(ala):
    kw = dict(n_replicas=8, seed=11, verbose=False)
    done = []
    a = shoot_batched(ala, BARRIER_NM, 10, on_config_done=lambda *c:
                      done.append(c), **kw)
    b = shoot_batched(ala, BARRIER_NM, 10, **kw)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert np.all(a[0] + a[1] + a[2] == 10)
    assert sorted(done) == [(i, int(a[0][i]), int(a[1][i])) for i in range(5)]
    # skipping configurations: they get no shots and no callback
    done.clear()
    c = shoot_batched(ala, BARRIER_NM, 10, skip={1, 3}, on_config_done=lambda
                      *c: done.append(c[0]), **kw)
    assert sorted(done) == [0, 2, 4]
    assert (c[0] + c[1] + c[2]).tolist() == [10, 0, 10, 0, 10]


def test_tail_moves_into_smaller_batch(ala):
    runs = []
    for _ in range(2):
        info = {}
        runs.append((shoot_batched(ala, BARRIER_NM, 16, n_replicas=64,
                                   seed=4, verbose=False, info=info), info))
    (a, info), (b, _) = runs
    sizes = info["batch_sizes"]
    assert sizes[0] == 64 and len(sizes) > 1 and sizes[-1] <= 16
    assert info["replica_steps"] < 64 * info["n_steps"]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert np.all(a[0] + a[1] + a[2] == 16)
    assert a[1][0] == 0 and a[1][4] == 16


def test_n_frames_max_counts_undecided(ala):
    n_A, n_B, n_U = shoot_batched(ala, BARRIER_NM[1:4], 8, n_frames_max=2,
                                  n_replicas=8, verbose=False)
    assert np.all(n_A + n_B + n_U == 8)
    assert n_U.sum() > 0


def test_auto_platform_and_info(ala):
    info = {}
    n_A, n_B, n_U = shoot_batched(ala, BARRIER_NM[:2], 3, platform="auto",
                                  n_replicas=100, verbose=False, info=info)
    assert info["platform"] in [openmm.Platform.getPlatform(i).getName()
                                for i in range(openmm.Platform
                                               .getNumPlatforms())]
    assert info["n_replicas"] == 6          # capped at the pending shots
    assert info["replica_steps"] == 6 * info["n_steps"] > 0


def test_agrees_with_plain_single_molecule_loop(ala):
    """p_B of batched and plain shooting agree within binomial error.

    Two independent binomial estimates of the same p_B: with the pooled p,
    z = (p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2)) is ~N(0, 1); each |z|
    must be < 3.5 (two-sided 5e-4 per configuration) and the sum of z^2
    below the 99.9 % point of chi^2 with 5 degrees of freedom (20.5).
    Configurations that commit with certainty must agree exactly.
    """
    n1, n2 = 120, 30
    a = shoot_batched(ala, BARRIER_NM, n1, n_replicas=64, seed=21,
                      verbose=False)
    b = shoot_plain(ala, BARRIER_NM, n2, seed=22)
    assert a[2].sum() == 0 and b[2].sum() == 0
    p1, p2 = a[1] / n1, b[1] / n2
    p = (a[1] + b[1]) / (n1 + n2)
    sd = np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    z = np.where(sd > 0, (p1 - p2) / np.where(sd > 0, sd, 1), 0.0)
    assert np.all((sd > 0) | (p1 == p2)), (p1, p2)
    assert np.all(np.abs(z) < 3.5), (p1, p2, z)
    assert np.sum(z ** 2) < 20.5, (p1, p2, z)
    # and the configurations do span the committor range
    assert p1[0] == 0 and p1[4] == 1 and np.all((p1[1:4] > 0.1)
                                                 & (p1[1:4] < 0.95))


def test_counts_do_not_depend_on_n_replicas_or_chunking(ala):
    """Every random draw of a shot comes from (seed, configuration, shot):
    K = 4, 16 and 64 and a chunk shot with its global indices agree."""
    runs = [shoot_batched(ala, BARRIER_NM, 12, n_replicas=K, seed=1,
                          verbose=False) for K in (4, 16, 64)]
    for other in runs[1:]:
        for x, y in zip(runs[0], other):
            np.testing.assert_array_equal(x, y)
    # the middle configurations commit both ways: the test can fail
    assert np.all((runs[0][0][1:4] > 0) & (runs[0][1][1:4] > 0))
    chunk = shoot_batched(ala, BARRIER_NM[1:4], 12, n_replicas=8, seed=1,
                          verbose=False, config_ids=[1, 2, 3])
    for x, y in zip(runs[0], chunk):
        np.testing.assert_array_equal(x[1:4], y)
    # without the global indices the chunk's shots are other shots
    other = shoot_batched(ala, BARRIER_NM[1:4], 12, n_replicas=8, seed=1,
                          verbose=False)
    assert any(not np.array_equal(x[1:4], y) for x, y in zip(runs[0], other))
    with pytest.raises(InputError, match="config_ids"):
        shoot_batched(ala, BARRIER_NM[:2], 2, config_ids=[1, 1],
                      verbose=False)
    # OpenMM's own noise stream (faster): every shot counted, K-dependent
    fast = shoot_batched(ala, BARRIER_NM, 6, n_replicas=8, seed=1,
                         noise="context", verbose=False)
    assert np.all(fast[0] + fast[1] + fast[2] == 6)
    with pytest.raises(InputError, match="noise"):
        shoot_batched(ala, BARRIER_NM, 1, noise="white", verbose=False)


def test_missing_gpu_platform_is_one_line_error(ala):
    names = [openmm.Platform.getPlatform(i).getName()
             for i in range(openmm.Platform.getNumPlatforms())]
    for missing in ("CUDA", "OpenCL"):
        if missing in names:
            continue
        with pytest.raises(InputError, match=rf"platform='{missing}' is not "
                           r"available; this OpenMM has \[") as err:
            shoot_batched(ala, BARRIER_NM, 1, platform=missing,
                          verbose=False)
        assert "\n" not in str(err.value) and "CPU" in str(err.value)

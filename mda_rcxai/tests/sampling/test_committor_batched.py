"""run_committor(method="batched"): the batched engine behind the same dataset and resume rules."""

import textwrap

import numpy as np
import pytest

from mda_rcxai.sampling import harvest, run_committor
from mda_rcxai.tests.sampling.killing import kill_after_configurations


@pytest.fixture(scope="module")
def configs(ala, tps_result):
    _, result = tps_result
    return harvest(result, 8, seed=5, system=ala)


def test_batched_counts_every_shot_and_agrees_with_lean(ala, configs):
    n = 24
    b = run_committor(ala, configs, n, seed=3, method="batched", n_replicas=32, verbose=False)
    lean = run_committor(ala, configs, n, seed=3, method="lean", verbose=False)
    assert b.complete and np.all(b.n_A + b.n_B + b.n_undecided == n)
    assert b.metadata["run"]["method"] == "batched"
    # same committor within binomial error: pooled two-proportion z per configuration
    ok = (b.n_A + b.n_B > 0) & (lean.n_A + lean.n_B > 0)
    p1, p2 = b.p_B[ok], lean.p_B[ok]
    n1, n2 = (b.n_A + b.n_B)[ok], (lean.n_A + lean.n_B)[ok]
    pool = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = np.sqrt(np.maximum(pool * (1 - pool), 1e-12) * (1 / n1 + 1 / n2))
    z = np.where(se > 1e-6, (p1 - p2) / se, 0.0)
    # 8 configurations: |z| < 3.5 each (two-sided p ~ 5e-4) and chi2(8) 99.9 % point 26.1
    assert np.all(np.abs(z) < 3.5), z
    assert np.sum(z ** 2) < 26.1, z


def test_batched_on_two_dask_workers(ala, configs):
    d = run_committor(ala, configs, 4, seed=1, method="batched", n_replicas=8, n_workers=2,
                      verbose=False)
    assert d.complete and np.all(d.n_A + d.n_B + d.n_undecided == 4)


_CHILD = textwrap.dedent("""
    import sys, warnings
    warnings.filterwarnings("ignore")
    import numpy as np
    from mda_rcxai.systems import alanine_dipeptide
    from mda_rcxai.sampling import run_committor
    x = np.load(sys.argv[1])
    run_committor(alanine_dipeptide(), x, 6, out=sys.argv[2], seed=11, method="batched",
                  n_replicas=2, verbose=False)
""")


def test_batched_resume_after_sigkill(ala, tps_result, tmp_path):
    _, result = tps_result
    x = harvest(result, 16, seed=2, system=ala)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "resume.npz"
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    partial = kill_after_configurations(script, [tmp_path / "x.npy", out], out)
    k = int(partial.done.sum())
    assert 0 < k < len(x), "the child finished before it could be killed"
    resumed = run_committor(ala, x, 6, out=out, seed=11, method="batched", n_replicas=2,
                            verbose=False)
    assert resumed.complete
    assert np.all(resumed.n_A + resumed.n_B + resumed.n_undecided == 6)
    assert np.array_equal(resumed.n_B[partial.done], partial.n_B[partial.done])
    assert np.array_equal(resumed.n_A[partial.done], partial.n_A[partial.done])


def test_auto_follows_the_measurement_and_refusal_for_periodic(ala, configs):
    """'auto' takes the route choose_method measured for the bundled system (batched
    or lean) and records why; a periodic system makes build_replica_system raise the
    InputError that keeps 'auto' off the batched engine."""
    import openmm
    from mda_rcxai.exceptions import InputError
    from mda_rcxai.sampling import choose_method
    d = run_committor(ala, configs[:2], 2, seed=0, method="auto", verbose=False)
    assert (d.metadata["run"]["method"], d.metadata["method"]["reason"]) == \
        choose_method(ala)
    from mda_rcxai.sampling.replicas import build_replica_system
    xml = openmm.XmlSerializer.serialize(ala.system)
    sysp = openmm.XmlSerializer.deserialize(xml)
    sysp.setDefaultPeriodicBoxVectors(openmm.Vec3(3, 0, 0), openmm.Vec3(0, 3, 0),
                                      openmm.Vec3(0, 0, 3))
    for f in sysp.getForces():
        if isinstance(f, openmm.NonbondedForce):
            f.setNonbondedMethod(openmm.NonbondedForce.CutoffPeriodic)
            f.setCutoffDistance(1.2)
    with pytest.raises(InputError, match="periodic|cutoff"):
        build_replica_system(sysp, 1)


def test_batched_agrees_with_ops_committor_simulation(ala, tps_result, tmp_path):
    """p_B of the batched engine vs OPS' own CommittorSimulation (netCDF storage, counted
    with OPS' ShootingPointAnalysis) on 10 configurations spread along TPS paths."""
    _, result = tps_result
    x = harvest(result, 10, seed=7, system=ala)
    ops = run_committor(ala, x, 12, seed=2, method="ops", storage=str(tmp_path / "ops.nc"),
                        verbose=False)
    b = run_committor(ala, x, 48, seed=2, method="batched", n_replicas=64, verbose=False)
    ok = (b.n_A + b.n_B > 0) & (ops.n_A + ops.n_B > 0)
    assert ok.sum() >= 8
    p1, p2 = b.p_B[ok], ops.p_B[ok]
    n1, n2 = (b.n_A + b.n_B)[ok], (ops.n_A + ops.n_B)[ok]
    pool = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = np.sqrt(np.maximum(pool * (1 - pool), 1e-12) * (1 / n1 + 1 / n2))
    z = np.where(se > 1e-6, (p1 - p2) / se, 0.0)
    # independent two-proportion z scores: each |z| < 3.5 and the sum of squares below
    # the 99.9 % point of chi2 with 10 degrees of freedom (29.6)
    assert np.all(np.abs(z) < 3.5), (p1, p2)
    assert np.sum(z ** 2) < 29.6, (p1, p2)
    # the configurations span the transition, not one basin
    assert p1.min() < 0.3 and p1.max() > 0.7, p1


def test_batched_counts_independent_of_n_replicas_and_workers(ala, configs):
    a = run_committor(ala, configs, 6, seed=4, method="batched", n_replicas=4,
                      verbose=False)
    b = run_committor(ala, configs, 6, seed=4, method="batched", n_replicas=16,
                      verbose=False)
    c = run_committor(ala, configs, 6, seed=4, method="batched", n_replicas=8,
                      n_workers=2, verbose=False)
    for d in (b, c):
        np.testing.assert_array_equal(a.n_A, d.n_A)
        np.testing.assert_array_equal(a.n_B, d.n_B)


def test_batched_resumed_equals_uninterrupted(ala, tps_result, tmp_path):
    _, result = tps_result
    x = harvest(result, 16, seed=2, system=ala)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "resume.npz"
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    partial = kill_after_configurations(script, [tmp_path / "x.npy", out], out)
    assert 0 < int(partial.done.sum()) < len(x)
    resumed = run_committor(ala, x, 6, out=out, seed=11, method="batched",
                            n_replicas=2, verbose=False)
    whole = run_committor(ala, x, 6, seed=11, method="batched", n_replicas=2,
                          verbose=False)
    np.testing.assert_array_equal(resumed.n_A, whole.n_A)
    np.testing.assert_array_equal(resumed.n_B, whole.n_B)

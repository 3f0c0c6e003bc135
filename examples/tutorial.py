"""Tutorial: the explained-reaction-coordinate study with the public API.

The same steps as ``mda-rcxai demo``, written out in Python, on the bundled
alanine dipeptide (vacuum, amber99sb) at a small size so that it runs in a
minute or two on 2 cores. Raise the counts (TPS moves, configurations, shots)
for a real study; ``mda-rcxai demo --print-config`` shows the defaults.

Run: ``python examples/tutorial.py [OUTDIR]``
"""

import os
import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore", category=DeprecationWarning)


def main(out="tutorial_out", n_tps=200, n_configs=150, n_shots=10, seed=0):
    from mda_rcxai.explain import compare, explain, plot_committor_fit, plot_importance
    from mda_rcxai.features import DihedralFeatures
    from mda_rcxai.model import CommittorModel, CommittorModelCV
    from mda_rcxai.sampling import CommittorDataset, harvest, initial_path, run_committor, run_tps
    from mda_rcxai.systems import alanine_dipeptide

    os.makedirs(out, exist_ok=True)

    # 1. the system: ACE-ALA-NME in vacuum with states C7eq and C7ax on (phi, psi)
    system = alanine_dipeptide()
    print("states:", {k: v.ranges for k, v in system.states.items()})

    # 2. a first C7eq -> C7ax path at 300 K, then transition path sampling (OPS two-way shooting)
    path = initial_path(system, seed=seed, verbose=False)
    tps = run_tps(system, path, n_steps=n_tps, seed=seed, verbose=False)
    print(f"TPS: acceptance {tps.acceptance:.2f}, {len(tps.accepted_paths)} accepted paths")

    # 3. round 1 of committor shooting: configurations spread along the paths
    x1 = harvest(tps, n_configs, seed=seed, system=system)          # Angstrom
    d1 = run_committor(system, x1, n_shots, out=os.path.join(out, "round1.npz"), seed=seed,
                       method="batched", verbose=False)

    # 4. features of the shooting points: the 45 dihedrals of Kikutsuji et al. (2022)
    def features(dataset):
        return DihedralFeatures(dataset.to_universe().atoms).run().results

    f1 = features(d1)
    model = CommittorModel(seed=seed).fit(f1.features, d1.n_A, d1.n_B, feature_names=f1.names)

    # 5. round 2 where the model is unsure (predicted p_B in [0.1, 0.9])
    def predict_p_B(positions):
        u = d1.to_universe()
        from MDAnalysis.coordinates.memory import MemoryReader
        u.load_new(np.asarray(positions, np.float32), format=MemoryReader)
        return model.predict_proba(DihedralFeatures(u.atoms).run().results.features)

    x2 = harvest(tps, n_configs, seed=seed + 1, predict_p_B=predict_p_B, window=(0.1, 0.9),
                 system=system)
    d2 = run_committor(system, x2, n_shots, out=os.path.join(out, "round2.npz"),
                       seed=seed + 1, method="batched", verbose=False)
    data = CommittorDataset.concatenate([d1, d2])
    keep = (data.n_A + data.n_B) > 0
    f = features(data)
    X, n_A, n_B = f.features[keep], data.n_A[keep], data.n_B[keep]

    # 6. the reaction coordinate q(x), p_B = (1 + tanh q)/2, on all data; weight decay and
    #    architecture chosen by 5-fold cross-validation over configurations
    model = CommittorModelCV(seed=seed).fit(X, n_A, n_B, feature_names=f.names)
    print("chosen:", model.best_params_, "out-of-fold fit:",
          {k: round(v, 3) for k, v in model.cv_metrics_.items() if isinstance(v, float)})
    plot_committor_fit(model.predict_q(X), n_A=n_A, n_B=n_B,
                       path=os.path.join(out, "committor_fit.png"))

    # 7. SHAP and LIME, globally and at the transition state, grouped by rotatable bond
    u = data.to_universe()
    result = {}
    for method in ("shap", "lime"):
        for selection in ("global", "transition_state"):
            ex = explain(model, X, feature_names=f.names, atom_indices=f.atom_indices,
                         method=method, selection=selection, max_samples=100, seed=seed,
                         atom_names=u)
            result[method, selection] = ex
            print(f"{method:4s} {selection:16s} by bond: {ex.grouped(by='bond').ranking[:2]}")
    print("SHAP vs LIME (global):", {k: v for k, v in
                                     compare(result["shap", "global"], result["lime", "global"]).items()
                                     if k in ("grouped_spearman", "grouped_top1_agree")})
    plot_importance(result["shap", "global"].grouped(by="bond"),
                    path=os.path.join(out, "importance_by_bond.png"))

    # 8. importance on the atoms: B-factors of a PDB, for any molecular viewer
    ag = result["shap", "global"].to_atomgroup(u, scale="max")
    ag.write(os.path.join(out, "explained.pdb"))
    print("outputs in", os.path.abspath(out))
    return result


if __name__ == "__main__":
    main(*(sys.argv[1:2] or []))

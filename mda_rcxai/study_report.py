"""The HTML report of a study (``report.html``), built from the files of its stages."""

import json
import os

import numpy as np

from .report import Report, plot_molecule

__all__ = ["write_report"]


def _hist_pB(p_B):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.hist(p_B, bins=np.linspace(0, 1, 21), color="#4a6fa5", edgecolor="k")
    ax.set_xlabel("measured $p_B$")
    ax.set_ylabel("configurations")
    return fig


def _ranking_rows(results, key, n=8):
    cols = []
    heads = []
    for sel in ("global", "transition_state"):
        for method in ("shap", "lime"):
            r = results.get(f"{method}/{sel}")
            if not r or "error" in r:
                continue
            heads.append(f"{method.upper()} {sel.replace('_', ' ')}")
            imp = r[f"{key}_importance"] if key == "grouped" else r["importance"]
            order = sorted(imp, key=lambda k: -imp[k])[:n]
            cols.append([f"{name} ({imp[name]:.3g})" for name in order])
    rows = [[i + 1] + [c[i] if i < len(c) else "" for c in cols] for i in range(n)]
    return rows, ["rank"] + heads


def _representatives(ex, names):
    """One feature per top-ranked bond group: its conventional alias, else its largest member."""
    g = ex.grouped(by="bond")
    imp = dict(zip(ex.feature_names, ex.importance))
    out = []
    for group in g.ranking:
        members = [m for m in g.members[group] if m in names]
        if not members:
            continue
        priority = {"phi": 0, "theta": 1, "psi": 2, "omega": 3}
        alias = sorted((m for m in members if m.split("(")[0] in priority),
                       key=lambda m: priority[m.split("(")[0]])
        pick = alias[0] if alias else max(members, key=lambda m: imp.get(m, 0.0))
        out.append(pick)
        if len(out) == 2:
            return out
    return list(ex.ranking[:2])


def write_report(study, model, feats, dataset, explanations=None):
    """Write ``report.html`` of a finished study.

    Parameters
    ----------
    study : mda_rcxai.pipeline.Study
    model : mda_rcxai.model.CommittorModel
    feats : mapping
        Contents of ``features.npz``.
    dataset : mda_rcxai.sampling.CommittorDataset
    explanations : dict, optional
        ``{(method, selection): Explanation}``; default: those the explain
        stage kept on the study.

    Returns
    -------
    str
        Path of the report.
    """
    import MDAnalysis as mda

    from . import pipeline
    from .explain import plot_beeswarm, plot_committor_fit, plot_free_energy, plot_importance

    explanations = explanations if explanations is not None else getattr(study, "_explanations", {})
    cfg = study.config
    with open(study.path("explanations.json")) as fh:
        results = json.load(fh)
    fit = json.load(open(study.path("fit.json")))
    r = Report("mda_rcxai: explained reaction coordinate of alanine dipeptide (C7eq → C7ax)")

    r.section("What was run")
    r.text(f"System: {cfg.system.name} in vacuum, amber99sb (OpenMM), {cfg.system.temperature:g} K, "
           f"{cfg.system.timestep * 1000:g} fs time step, {cfg.system.steps_per_frame} steps per "
           f"frame; states {cfg.system.state_A} → {cfg.system.state_B}. Seed {cfg.seed}, "
           f"{cfg.workers} worker(s).")
    rows = [[name, f"{rec.get('seconds', 0):.0f}", rec.get("summary", "")]
            for name, rec in study.state.items()]
    r.table(rows, ["stage", "seconds", "summary"])

    X = feats["X"]
    n_A, n_B = feats["n_A"], feats["n_B"]
    p_B = n_B / (n_A + n_B)
    q = model.predict_q(X)
    r.section("Committor data and the learned reaction coordinate")
    r.text(f"{len(X)} shooting points, {int((n_A + n_B).sum())} shots; features: {X.shape[1]} "
           f"dihedral angles ({'sin/cos' if cfg.features.sincos else 'degrees'}). Held-out fit "
           f"(a model trained on {fit['n_train']} configurations, tested on {fit['n_test']}): "
           f"p_B RMSE {fit['rmse_pB_heldout']:.3f}, mean log-likelihood {fit['loglik_heldout']:.3f}.")
    r.raw('<div class="side">')
    r.figure(_hist_pB(p_B), "Histogram of measured p_B (all rounds).")
    r.figure(plot_committor_fit(q, n_A=n_A, n_B=n_B),
             "Measured p_B versus the learned q, with p_B = (1 + tanh q)/2 (Kikutsuji et al. 2022, Fig. 1).")
    r.raw("</div>")

    r.section("Which coordinates decide the reaction: grouped by rotatable bond")
    r.text("Attributions of all dihedrals that turn about the same central bond are summed "
           "(signed) before ranking; the expected answer is N-CA (phi) and the ACE-ALA "
           "peptide bond C-N (theta = O-C-N-CA).", cls="note")
    rows, head = _ranking_rows(results, "grouped")
    r.table(rows, head)
    agr = results.get("agreement", {})
    if agr:
        r.text("SHAP vs LIME agreement: " + "; ".join(
            f"{sel}: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                   for k, v in d.items() if not isinstance(v, (list, dict)))
            for sel, d in agr.items()))
    r.section("Single-feature rankings")
    r.text("Each dihedral on its own: credit for one rotation is shared among collinear "
           "dihedrals (e.g. phi, H-N-CA-CB, C-N-CA-CB), so this ranking is less stable than "
           "the grouped one; shown as measured.", cls="note")
    rows, head = _ranking_rows(results, "single")
    r.table(rows, head)
    for (method, sel), ex in explanations.items():
        if sel != "global":
            continue
        r.raw('<div class="side">')
        r.figure(plot_importance(ex.grouped(by="bond"), top=8),
                 f"{method.upper()} global, grouped by bond.")
        r.figure(plot_beeswarm(ex, top=10), f"{method.upper()} global, per configuration.")
        r.raw("</div>")

    ex = explanations.get(("shap", "global")) or next(iter(explanations.values()), None)
    if ex is not None:
        r.section("Free-energy landscape over the top two features")
        lo, hi = cfg.explain.ts_window
        pb_pred = model.predict_proba(X)
        ts = (pb_pred >= lo) & (pb_pred <= hi)
        names = [str(n) for n in feats["names"]]
        top2 = _representatives(ex, names)
        try:
            paths = pipeline._load_paths(study)
            allpos = np.concatenate(paths)
            Xall = pipeline._featurize(cfg, pipeline._features_universe(allpos)).features
            source = "frames of the accepted TPS paths"
        except Exception:  # no paths on disk: use the shooting points
            Xall, source = X, "shooting points"
        if not cfg.features.sincos:  # angles near +-180 (theta, omega): show them on [0, 360)
            Xall, Xts = Xall.copy(), X[ts].copy()
            for name in top2:
                j = names.index(name)
                if np.mean(np.abs(Xall[:, j]) > 90) > 0.5:
                    Xall[:, j] %= 360.0
                    Xts[:, j] %= 360.0
        else:
            Xts = X[ts]
        fig = plot_free_energy(Xall, names, features=tuple(top2), ts=Xts,
                               temperature=cfg.system.temperature, bins=30)
        fig.axes[0].set_title(f"-kT ln P over the transition-path ensemble, {cfg.system.temperature:g} K",
                              fontsize=10)
        r.figure(fig, f"-kT ln P over {top2[0]} and {top2[1]}, the best-known members of the "
                      f"two top-ranked bonds ({source}, i.e. the transition-path ensemble); "
                      f"transition-state configurations (predicted p_B in "
                      f"{list(cfg.explain.ts_window)}) marked.")
        if os.path.exists(study.path("explained.pdb")):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the placeholder CRYST1 record of a vacuum PDB
                u = mda.Universe(study.path("explained.pdb"))
            r.section("The molecule coloured by importance")
            r.figure(plot_molecule(u.atoms, u.atoms.tempfactors,
                                   title="per-atom importance (SHAP, global)"),
                     "explained.pdb carries these values in its B-factor column; open it in "
                     "VMD/PyMOL/ChimeraX and colour by beta.")
    r.section("Files")
    r.text("dataset.npz (committor dataset), features.npz, model.pt, importance.csv, "
           "explained.pdb, explanations.json, tps.nc (OpenPathSampling storage), config.toml.")
    r.section("Config and versions")
    r.pre(cfg.to_toml())
    r.pre(json.dumps(pipeline.versions(), indent=1))
    return r.write(study.path("report.html"))

"""The HTML report of a study (``report.html``): a view of the stages' typed results.

It computes nothing the stages did not: :func:`write_report` takes the
results of :mod:`mda_rcxai.study` (``SampleResult``, ``CommittorResult``,
``TrainResult``, ``ExplainResult``, ``ValidationResult``) as arguments and
draws them.
"""

from __future__ import annotations

import json

import numpy as np

from .html import Report, plot_molecule

__all__ = ["write_report", "WRITES"]

#: Files the report stage writes in the study directory.
WRITES = ("report.html",)

#: How the report names CommittorModel's ``penalty`` (what weight decay scales).
_PENALTY_WORDS = {"group": " (of a group lasso on the input layer: one group per feature)",
                  "input": " (of an L2 penalty on the input layer)",
                  "all": " (of an L2 penalty on all layers)"}


def _hist_p_B(p_B):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    # bins of 0.1: p_B takes the values k / shots, and with 20 bins half of them
    # stayed empty at 10 shots (a comb, not a histogram)
    ax.hist(p_B, bins=np.linspace(0, 1, 11), color="#4a6fa5", edgecolor="k")
    ax.set_xlabel("measured $p_B$")
    ax.set_ylabel("configurations")
    return fig


def _agreement_rows(agreement):
    """Rows of the SHAP-LIME agreement table: one per selection and level (single
    features, then groups) that :func:`mda_rcxai.explain.compare` reported."""
    rows = []
    for sel, d in agreement.items():
        for level, prefix in (("features", ""), ("groups", "grouped_")):
            if f"{prefix}spearman" not in d:
                continue
            rho = d[f"{prefix}spearman"]
            rows.append([sel.replace("_", " "), level,
                         "n/a" if rho is None or rho != rho else f"{rho:.2f}",
                         f"{d[f'{prefix}top_k_overlap']:.0%} of {d[f'{prefix}top_k']}",
                         "yes" if d[f"{prefix}top1_agree"] else "no",
                         ", ".join(d.get(f"{prefix}top_k_shared", [])) or "none"])
    return rows, ["selection", "level", "Spearman ρ", "top k in common", "same first",
                  "shared in top k"]


def _ranking_rows(summary, key, n=8):
    cols, heads = [], []
    for sel in ("global", "transition_state"):
        for method in ("shap", "lime"):
            r = summary.get(f"{method}/{sel}")
            if not r or "error" in r:
                continue
            heads.append(f"{method.upper()} {sel.replace('_', ' ')}")
            imp = r["grouped_importance"] if key == "grouped" else r["importance"]
            std = r.get("grouped_std", {}) if key == "grouped" else {}
            order = sorted(imp, key=lambda k: -imp[k])[:n]
            cols.append([f"{name} ({imp[name]:.3g}" + (f" ± {std[name]:.2g})" if name in std
                                                         else ")") for name in order])
    depth = max((len(c) for c in cols), default=0)
    rows = [[i + 1] + [c[i] if i < len(c) else "" for c in cols] for i in range(min(n, depth))]
    return rows, ["rank"] + heads


def _errorbar_plot(df, title, top=8):
    import matplotlib.pyplot as plt

    d = df.sort_values("importance", ascending=False).head(top)[::-1]
    fig, ax = plt.subplots(figsize=(5.2, 0.4 * len(d) + 1.2))
    ax.barh(range(len(d)), d["importance"], xerr=d["importance_std"], color="#4a6fa5",
            ecolor="k", capsize=3)
    ax.set_yticks(range(len(d)))
    ax.set_yticklabels(d["feature"], fontsize=8)
    ax.set_xlabel("mean |attribution| (± std over ensemble members)")
    ax.set_title(title, fontsize=10)
    return fig


def _representatives(summary, names, aliases, first=None):
    """One column for each of the two top-ranked groups: its most important member with a
    conventional name (column metadata ``alias``, e.g. phi), else its most important one.
    ``first`` (a feature name) takes the first axis; the second is the top group without it."""
    imp = summary["importance"]
    out = [first] if first in names else []
    for g in summary["grouped_ranking"]:
        members = [n for n in summary.get("grouped_members", {}).get(g, [g])
                   if n in names and n not in out]
        named = [m for m in members if aliases.get(m)]  # conventional names (phi, theta, ...)
        if members:
            out.append(max(named or members, key=lambda m: imp.get(m, 0.0)))
        if len(out) == 2:
            return out
    return list(summary["ranking"][:2])


def _draw_committor_test(ax, ct, title):
    bins = np.asarray(ct["bin_edges"], float)
    hist = np.asarray(ct["histogram"], float)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("$p_B$ of tested configurations")
    if hist.sum() == 0:
        ax.text(0.5, 0.5, "no configuration in the window:\nnothing was shot", ha="center",
                va="center", transform=ax.transAxes, fontsize=9)
        ax.set_xlim(0, 1)
        return
    ax.bar(bins[:-1], hist, width=np.diff(bins), align="edge", color="#4a6fa5",
           edgecolor="k", label="measured (fresh shots)")
    for key, color, label in (("expected_histogram", "C3", "expected if p_B = prediction"),
                              ("expected_histogram_window", "C2",
                               "expected if p_B uniform in the window")):
        exp = ct.get(key)
        if exp is not None and len(exp) == len(bins) - 1:
            ax.stairs(np.asarray(exp, float), bins, color=color, lw=2, label=label)
    ax.legend(fontsize=7)


def _committor_test_figure(tests):
    """The committor tests' p_B histograms side by side: ``tests`` is a list of
    (title, committor-test dict)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tests), figsize=(5 * len(tests), 3.4), sharey=True,
                             squeeze=False)
    for ax, (title, ct) in zip(axes[0], tests):
        _draw_committor_test(ax, ct, title)
    axes[0][0].set_ylabel("configurations")
    fig.tight_layout()
    return fig


def _test_title(label, ct):
    verdict = str(ct.get("verdict", "?")).upper()
    return f"{label}: {verdict} ({ct.get('n_configurations', 0)} configurations)"


def _fmt(x, spec=".4f"):
    return "n/a" if x is None or x != x else format(x, spec)


def _mean_ci(ct):
    lo, hi = (list(ct.get("ci95") or []) + [None, None])[:2]
    return f"{_fmt(ct.get('mean_p_B'), '.2f')} [{_fmt(lo, '.2f')}, {_fmt(hi, '.2f')}]"


def _verdict(cmp):
    """win / loss, or tie with the configurations it would take to resolve it."""
    verdict = str(cmp.get("verdict", ""))
    n = cmp.get("n_to_resolve")
    if verdict == "tie" and n:
        verdict += f" (~{n:,} configurations to resolve)"
    return verdict


def _baseline_rows(baselines, naive_row=None):
    """The baseline table: each set's held-out log likelihood, its difference to the full
    model with the bootstrap interval, and the verdict from the set's side."""
    rows = []
    for b in baselines:
        vs = b.get("vs_full") or {}
        if vs:
            diff = (f"{_fmt(vs.get('delta'))} [{_fmt(vs.get('ci_low'))}, "
                    f"{_fmt(vs.get('ci_high'))}]")
            verdict = _verdict(vs)
        else:
            diff, verdict = "", ""
        name = b["name"] + (" (naive coordinate)" if b["name"] == naive_row else "")
        rows.append([name, b.get("n_columns", ""),
                     f"{_fmt(b.get('loglik'))} ± {_fmt(b.get('loglik_std'), '.3f')}",
                     _fmt(b.get("fraction_of_full"), ".2f"), diff, verdict,
                     _fmt(b.get("rmse_p_B"), ".3f")])
    level = next((b["vs_full"]["level"] for b in baselines if b.get("vs_full")), 0.95)
    return rows, ["feature set", "columns", "log-likelihood / shot (± std over folds)",
                  "share of full", f"minus full [{level:.0%} interval]", "vs full",
                  "p_B RMSE"]


def write_report(path, *, config, system, stages, sample, committor, train, explain,
                 validation, versions=None, fes_first=None):
    """Write ``report.html`` of a finished study.

    Parameters
    ----------
    path : str
        Output file.
    config : StudyConfig
    system : MolecularSystem
        Its ``description`` (bundled systems carry one) is quoted.
    stages : dict
        ``state.json`` contents: seconds and summary per stage.
    sample, committor, train, explain, validation
        The typed results of :mod:`mda_rcxai.study`'s stages.
    versions : dict, optional
        Package versions.
    fes_first : str, optional
        Feature on the first axis of the free-energy surface (e.g. the
        interionic distance); default: the top group's.

    Returns
    -------
    str
        ``path``.
    """

    from ..explain import plot_beeswarm, plot_committor_fit, plot_free_energy, plot_importance

    cfg = config
    a, b = (cfg.system.state_A, cfg.system.state_B)
    if a is None:
        from .inputs import state_names
        a, b = state_names(cfg)
    r = Report(f"mda_rcxai: explained reaction coordinate of {system.name} ({a} → {b})")

    r.section("What was run")
    box = getattr(system, "box_vectors", None)
    periodic = (f"periodic box {np.round(np.diag(np.asarray(box)), 3).tolist()} nm"
                if box is not None else "no periodic box")
    r.text(f"System: {system.name}, {system.n_atoms} atoms, force field {system.force_field}, "
           f"{periodic}; {cfg.system.temperature:g} K, {cfg.system.timestep:g} fs time step, "
           f"{cfg.system.steps_per_frame} steps per frame; states {a} → {b}. Seed {cfg.seed}, "
           f"{cfg.workers} worker(s). Committor engine: {committor.method}"
           + (f" ({committor.method_reason})" if committor.method_reason else "") + ".")
    desc = getattr(system, "description", None)
    if desc:
        r.text(desc, cls="note")
    rows = [[name, f"{rec.get('seconds', 0):.0f}", rec.get("summary", "")]
            for name, rec in stages.items()]
    total = sum(rec.get("seconds", 0) for rec in stages.values())
    rows.append(["total (so far)", f"{total:.0f}", ""])
    r.table(rows, ["stage", "seconds", "summary"])
    _engine_section(r, stages)

    X, n_A, n_B, fit = train.X, train.n_A, train.n_B, train.fit
    p_B = n_B / (n_A + n_B)
    q = train.model.predict_q(X)
    r.section("Committor data and the learned reaction coordinate")
    r.text(f"{len(X)} shooting points, {int((n_A + n_B).sum())} shots; {X.shape[1]} features. "
           f"Held-out fit ({fit.get('heldout', 'held-out configurations')}): "
           f"p_B RMSE {fit['rmse_p_B_heldout']:.3f}, "
           f"log-likelihood per shot {fit['loglik_heldout']:.3f} (a constant p_B gives "
           f"{fit['loglik_constant']:.3f}). Final model: "
           + (f"an ensemble of {fit['ensemble']} networks (bootstrap resamples, different seeds); "
              "error bars below are the spread over its members."
              if fit.get("ensemble", 1) > 1 else "one network."))
    if train.ensemble is not None:
        spread = train.ensemble.predict_proba_std(X)
        r.text(f"Uncertainty of the coordinate: over the {fit['ensemble']} ensemble members the "
               f"predicted p_B of a configuration varies by {np.median(spread):.3f} (median "
               f"standard deviation; 90th percentile {np.quantile(spread, 0.9):.3f}).")
    r.raw('<div class="side">')
    r.figure(_hist_p_B(p_B), "Histogram of measured p_B (all rounds).")
    r.figure(plot_committor_fit(q, n_A=n_A, n_B=n_B),
             "Measured p_B versus the learned q, with p_B = (1 + tanh q)/2 "
             "(Kikutsuji et al. 2022, Fig. 1).")
    r.raw("</div>")
    if train.selection:
        r.section("Model selection")
        sel = train.selection
        pen = _PENALTY_WORDS.get((fit.get("params") or {}).get("penalty"), "")
        r.text(f"Weight decay{pen} and architecture chosen by {sel.get('cv')}-fold "
               f"cross-validated binomial log-likelihood per shot; chosen: "
               f"{sel.get('best_params')}."
               + (f" The choice of {', '.join(sel['at_grid_edge'])} lies at the edge of the "
                  "grid: a wider grid might do better." if sel.get("at_grid_edge") else ""))
        grid = sel.get("grid", [])
        if grid:
            r.table(*_plain_table(grid))

    ex_sum = explain.summary
    by = next((v.get("grouped_by") for v in ex_sum.values()
               if isinstance(v, dict) and "grouped_by" in v), "bond")
    r.section("Which coordinates decide the reaction: grouped "
              + ("by rotatable bond" if by == "bond" else "by descriptor group"))
    r.text("Attributions of all columns of a group (dihedrals turning about the same central "
           "bond; a solvent descriptor's block of symmetry functions) are summed (signed) "
           "before ranking. The value is the final model's; ± is the standard deviation of the "
           "ensemble members' own importances (SHAP).", cls="note")
    rows, head = _ranking_rows(ex_sum, "grouped")
    r.table(rows, head)
    agr = ex_sum.get("agreement", {})
    if agr:
        r.text("Do SHAP and LIME agree? Spearman's rank correlation of their importances, the "
               "share of the top k they have in common, and whether they put the same one "
               "first.", cls="note")
        r.table(*_agreement_rows(agr))
    r.section("Single-feature rankings")
    r.text("Each column on its own: credit for one motion is shared among correlated columns "
           "(e.g. the dihedrals about one bond), so this ranking is less stable than the "
           "grouped one; shown as measured.", cls="note")
    rows, head = _ranking_rows(ex_sum, "single")
    r.table(rows, head)
    for (method, sel), ex in explain.explanations.items():
        if sel != "global":
            continue
        r.raw('<div class="side">')
        err = explain.errors.get(f"{method}/{sel}")
        if err is not None and len(err):
            r.figure(_errorbar_plot(err, f"{method.upper()} global, grouped, ensemble spread"),
                     f"{method.upper()} global, grouped by {by}, mean ± std over ensemble "
                     "members.")
        else:
            r.figure(plot_importance(ex.grouped(by=by), top=8),
                     f"{method.upper()} global, grouped by {by}.")
        r.figure(plot_beeswarm(ex, top=10), f"{method.upper()} global, per configuration.")
        r.raw("</div>")

    _validation_sections(r, validation, fit)

    best = ex_sum.get("shap/global") or next(
        (v for k, v in ex_sum.items() if k != "agreement" and "grouped_ranking" in v), None)
    if best is not None and train.X_paths is not None and len(train.X_paths):
        r.section("Free-energy landscape over the top two features")
        lo, hi = cfg.explain.ts_window
        pb_pred = train.model.predict_proba(X)
        ts = (pb_pred >= lo) & (pb_pred <= hi)
        top2 = _representatives(best, train.names,
                                {c.get("name"): c.get("alias") for c in train.columns},
                                first=fes_first)
        Xall, Xts = train.X_paths.copy(), X[ts].copy()
        units = {c.get("name"): c.get("unit") for c in train.columns}
        for name in top2:  # angles near +-180 (theta, omega): show them on [0, 360)
            j = train.names.index(name)
            if units.get(name, "degrees") in ("degree", "degrees") and np.mean(np.abs(Xall[:, j]) > 90) > 0.5:
                Xall[:, j] %= 360.0
                Xts[:, j] %= 360.0
        if len(top2) == 2:
            fig = plot_free_energy(Xall, train.names, features=tuple(top2), ts=Xts,
                                   temperature=cfg.system.temperature, bins=30)
            fig.axes[0].set_title(f"-kT ln P over the transition-path ensemble, "
                                  f"{cfg.system.temperature:g} K", fontsize=10)
            what = ("the top column of each of the two top-ranked groups" if fes_first is None
                    else f"{top2[0]} and the top column of the top-ranked other group")
            r.figure(fig, f"-kT ln P over {top2[0]} and {top2[1]}, {what} "
                          "(frames of the accepted TPS paths); "
                          f"transition-state configurations (predicted p_B in "
                          f"{list(cfg.explain.ts_window)}) marked.")
    if explain.explanations and train.positions is not None:
        _molecule_section(r, explain, train, system)
    r.section("Files")
    r.text("config.toml, paths.npz (TPS path frames, Angstrom), committor_round*.npz and "
           "dataset.npz (committor datasets), features.npz, model.pt, fit.json, importance.csv, "
           "explanations.json, explained.pdb, validation.json, committor_test.npz, "
           "committor_test_naive.npz, state.json.")
    r.section("Config and versions")
    r.pre(cfg.to_toml())
    if versions:
        r.pre(json.dumps(versions, indent=1))
    return r.write(path)


def _validation_sections(r, validation, fit):
    ct = validation.committor_test
    ct_naive = validation.committor_test_naive
    naive = validation.naive or {}
    naive_label = " + ".join(naive.get("names", [])) or "naive coordinate"
    r.section("Is the coordinate right? The committor test")
    if ct is None:
        r.text("Not run ([validation] committor_test = false).")
    else:
        r.text(f"Verdict: {str(ct.get('verdict', '?')).upper()}. {ct.get('criterion', '')}")
        r.text(ct.get("summary", ""), cls="note")
        if ct_naive is not None:
            level = (ct_naive.get("coordinate") or {}).get("level")
            at = f" (its isocommittor level {level:.4g})" if level is not None else ""
            r.text(f"The naive coordinate, {naive_label}, tested the same way: "
                   f"Verdict: {str(ct_naive.get('verdict', '?')).upper()}. Candidates are "
                   f"unseen path frames at its own barrier top{at}: p_B of a fit on "
                   f"{naive_label} alone in the same window.")
            r.text(ct_naive.get("summary", ""), cls="note")
        both = [("learned q", ct)] + ([(naive_label, ct_naive)] if ct_naive is not None else [])
        r.table([[label, str(t.get("verdict", "?")).upper(), t.get("n_configurations", 0),
                  _mean_ci(t), _fmt(t.get("std_p_B"), ".2f"), t.get("n_committed", 0)]
                 for label, t in both],
                ["coordinate", "verdict", "configurations", "mean p_B [95% CI]", "std p_B",
                 "committed (p_B < 0.1 or > 0.9)"])
        tests = [(_test_title(label, t), t) for label, t in both]
        if any(sum(c.get("histogram") or []) > 0 for _, c in tests):
            sides = (" (left: the learned coordinate; right: the naive one, by its own fit)"
                     if len(tests) == 2 else "")
            r.figure(_committor_test_figure(tests),
                     "p_B from fresh shots of unseen path frames whose predicted p_B lies in "
                     f"the window{sides}, against the spread expected from binomial noise if the "
                     "prediction were exact.")
    r.section("Baselines: how much of the coordinate do the top groups carry?")
    if validation.baselines:
        r.table(*_baseline_rows(validation.baselines, naive.get("baseline")))
        r.text("Held-out (cross-validated) log-likelihood per shot of models restricted to each "
               "feature set, beside the full model and a constant p_B; closer to the full "
               "model means the set carries more of the reaction coordinate. 'minus full' is "
               "the set's out-of-fold log-likelihood per shot minus the full model's with a "
               "paired bootstrap interval over configurations; 'vs full' is loss (the interval "
               "lies below 0), tie (it contains 0) or win, from the set's side; a tie names "
               "about how many configurations (at these shots each) would make an interval "
               "as narrow as the difference, as its width shrinks with 1/sqrt(n).", cls="note")
    comparisons = validation.comparisons
    if comparisons:
        r.text("Head to head (the same paired bootstrap):")
        r.table([[c["a"], c["b"], f"{_fmt(c['delta'])} [{_fmt(c['ci_low'])}, "
                  f"{_fmt(c['ci_high'])}]", _verdict(c)] for c in comparisons],
                ["set a", "set b", f"a minus b, nats/shot [{comparisons[0]['level']:.0%} "
                 "interval]", "a vs b"])


def _plain_table(records):
    """Rows and header of a list of dicts, without list-valued columns (per-fold values);
    dict-valued cells (parameters) are spread into their own columns."""
    keys = []
    for rec in records:
        for k, v in rec.items():
            if isinstance(v, dict):
                keys += [k2 for k2 in v if k2 not in keys]
            elif not isinstance(v, (list, tuple)) and k not in keys:
                keys.append(k)
    rows = []
    for rec in records:
        flat = {}
        for k, v in rec.items():
            if isinstance(v, dict):
                flat.update(v)
            elif not isinstance(v, (list, tuple)):
                flat[k] = v
        rows.append([_cell(flat.get(k, "")) for k in keys])
    return rows, keys


def _cell(v):
    if isinstance(v, (list, tuple)):
        return str(list(v))
    return v


def _molecule_section(r, explain, train, system):
    import warnings

    ex = explain.explanations.get(("shap", "global")) or next(iter(explain.explanations.values()))
    k = int(np.argmin(np.abs(train.model.predict_proba(train.X) - 0.5)))
    from ..sampling import universe_from_system
    u = universe_from_system(system, train.positions[k:k + 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ag = ex.to_atomgroup(u, scale="max")
    vals = np.asarray(ag.tempfactors)
    shown = ag[vals > 0] if (vals > 0).any() else ag
    if len(shown) > 200:
        shown = shown[np.argsort(shown.tempfactors)[::-1][:200]]
    r.section("The molecule coloured by importance")
    r.figure(plot_molecule(shown, shown.tempfactors, title="per-atom importance (SHAP, global)"),
             "explained.pdb carries these values in its B-factor column (the configuration "
             "closest to predicted p_B = 1/2); open it in VMD/PyMOL/ChimeraX and colour by beta.")


def _engine_section(r, stages):
    """Where the dynamics ran: the measured platforms, the routes and our MD pace."""
    smp = stages.get("sample", {})
    com = stages.get("committor", {})
    if not (smp.get("route") or smp.get("platform_choice")):
        return
    r.section("Engine")
    if smp.get("route"):
        r.text(f"TPS route: {smp['route']} ({smp.get('route_reason', '')}).")
    choice = smp.get("platform_choice") or {}
    rates = choice.get("steps_per_s") or {}
    if rates:
        label = (f"CPU/{choice['threads']}" if choice.get("platform") == "CPU"
                 else choice.get("platform"))
        rows = [[k, f"{v:,.0f}", "chosen" if k == label else ""]
                for k, v in sorted(rates.items(), key=lambda kv: -kv[1])]
        r.table(rows, ["platform", "one molecule, steps/s (measured)", ""])
    ours, best = smp.get("md_steps_per_s"), smp.get("plain_loop_steps_per_s")
    if ours and best:
        r.text(f"TPS MD ran at {ours:,.0f} steps/s per chain, {ours / best:.2f}x the "
               f"fastest plain single-molecule loop measured in this run "
               f"({best:,.0f} steps/s; chains in parallel share the cores).")
    if com.get("method_reason"):
        r.text(f"Committor route: {com.get('method')} ({com['method_reason']}).")
    for pick in com.get("round_picks") or []:
        if pick.get("note"):
            r.text(pick["note"] + ".", cls="note")


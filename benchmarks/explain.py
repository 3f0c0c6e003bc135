"""Seconds per explained configuration: each SHAP algorithm and LIME, side by side.

Run: ``python benchmarks/explain.py [--n-explain 20] [--background 50] [--hidden 64 64]``.

Model: a :class:`~mda_rcxai.model.CommittorModel` (the study's default
64-64 tanh network) fitted to the 45 dihedral angles (degrees) of the
bundled alanine dipeptide trajectory, with a synthetic committor
``q = 2 sin(phi) + (theta - <theta>) / sd(theta)`` (all 1000 frames; p_B
given directly). Each algorithm explains the same ``--n-explain``
configurations with the same k-means background (``--background``) through
:func:`mda_rcxai.explain.explain`, one torch thread. Printed per algorithm:
seconds per configuration (after one warm-up call, which pays for imports
and shap's numba compilation), model evaluations per configuration, the
worst additivity gap ``|sum(values) + E[f] - f(x)|``, the bond-grouped top
two, and the Spearman agreement of the single-feature importance with
DeepExplainer's. Also: DeepExplainer with torch's default thread count.

The grouped top two describe what the fitted network uses, not the synthetic
truth: across the two basins of this trajectory psi moves with phi, and the
network leans on CA-C (psi) more than on the small theta term.

Measured here (2 shared cores, 20 configurations, background 50): seconds
per configuration deep 0.0031, gradient 0.016 (5x), permutation 0.034 (11x),
LIME 1000 samples 0.042 (14x), partition 0.10 (34x), LIME 5000 samples
0.11 (34x), kernel 0.14 (45x).

This machine is shared and noisy; compare ratios, not absolute seconds.
"""

import argparse
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def data():
    import MDAnalysis as mda

    from mda_rcxai.data import ALANINE_DIPEPTIDE_DCD, ALANINE_DIPEPTIDE_PDB
    from mda_rcxai.features import DihedralFeatures

    u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)
    r = DihedralFeatures(u.atoms).run().results
    X = r.features
    phi = np.radians(X[:, r.names.index("phi")])
    th = X[:, r.names.index("theta")]
    th = np.where(th < 0, th + 360.0, th)
    q = 2.0 * np.sin(phi) + (th - th.mean()) / th.std()
    return u, r, X, q


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-explain", type=int, default=20)
    ap.add_argument("--background", type=int, default=50)
    ap.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import torch

    from mda_rcxai.explain import explain
    from mda_rcxai.explain._explanation import _spearman
    from mda_rcxai.model import CommittorModel

    u, r, X, q = data()
    t = time.perf_counter()
    model = CommittorModel(hidden_layers=tuple(args.hidden), max_epochs=args.epochs,
                           seed=args.seed).fit(X, p_B=(1 + np.tanh(q)) / 2,
                                               feature_names=r.names)
    print(f"model: {X.shape[1]} features, hidden {tuple(args.hidden)}, fitted in "
          f"{time.perf_counter() - t:.1f} s; corr(q_model, q_true) = "
          f"{np.corrcoef(model.predict_q(X), q)[0, 1]:.3f}")
    d = X.shape[1]
    runs = [  # (label, method, algorithm, n_samples, model evaluations per configuration)
        ("shap deep", "shap", "deep", None, "1 fwd+bwd per bg row"),
        ("shap gradient", "shap", "gradient", 200, "200 grads"),
        ("shap kernel", "shap", "kernel", None, f"{2 * d + 2048} x bg"),
        ("shap permutation", "shap", "permutation", None, f"{max(500, 2 * (2 * d + 1))} x bg"),
        ("shap-partition", "shap-partition", "partition", None, f"{max(500, 4 * d)} x bg"),
        ("lime", "lime", "lime", 1000, "1000"),
        ("lime 5000", "lime", "lime", 5000, "5000 (lime default)"),
    ]
    common = dict(feature_names=r.names, atom_indices=r.atom_indices, atom_names=u,
                  max_samples=args.n_explain, background_size=args.background,
                  seed=args.seed)
    ref = None
    rows = []
    for label, method, algorithm, n_samples, evals in runs:
        explain(model, X, method=method, algorithm=algorithm, n_samples=n_samples,
                **{**common, "max_samples": 2})  # warm-up: imports, numba, caches
        t = time.perf_counter()
        ex = explain(model, X, method=method, algorithm=algorithm, n_samples=n_samples,
                     **common)
        sec = (time.perf_counter() - t) / ex.n_explained
        gap = np.abs(ex.values.sum(1) + ex.base_values - ex.prediction).max()
        if ref is None:
            ref = ex
        rho = _spearman(ref.importance, ex.importance)
        top = ", ".join(ex.grouped(by="bond").ranking[:2])
        rows.append((label, sec, evals, gap, rho, top))
    # DeepExplainer with torch's default threads (explain() forces one thread)
    import shap
    net = model.to_torch()
    bg = torch.as_tensor(X[np.linspace(0, len(X) - 1, args.background).astype(int)],
                         dtype=torch.float32)
    xe = torch.as_tensor(X[:args.n_explain], dtype=torch.float32)
    shap.DeepExplainer(net, bg).shap_values(xe[:2], check_additivity=False)
    t = time.perf_counter()
    shap.DeepExplainer(net, bg).shap_values(xe, check_additivity=False)
    sec_default = (time.perf_counter() - t) / len(xe)

    base = rows[0][1]
    print(f"\n{args.n_explain} configurations, background {args.background} (k-means), "
          f"{d} features, one torch thread\n")
    print(f"{'algorithm':18s} {'s/config':>9s} {'x deep':>8s} {'evals/config':>22s} "
          f"{'additivity gap':>14s} {'rho vs deep':>11s}  grouped top 2")
    for label, sec, evals, gap, rho, top in rows:
        print(f"{label:18s} {sec:9.4f} {sec / base:8.1f} {evals:>22s} {gap:14.2g} "
              f"{rho:11.2f}  {top}")
    print(f"\nshap deep, torch default threads ({torch.get_num_threads()}): "
          f"{sec_default:.4f} s/config = {sec_default / base:.1f} x one thread")
    print("LIME's 'additivity gap' is its intercept + weights vs f(x): LIME is a local "
          "surrogate, not additive by design.")


if __name__ == "__main__":
    main()

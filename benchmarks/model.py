"""CommittorModel on study-sized synthetic committor data vs reference fits.

Run: ``python benchmarks/model.py [--n 1000] [--features 45] [--shots 10]``.

Data like the reference study (Kikutsuji et al. 2022): ``--features`` inputs
in degrees, ``--n`` training configurations with ``--shots`` binomial shots
each, held-out set of 5000. Two truths: a linear ``q`` in two features (where
logistic regression is the exact model family) and a nonlinear one
(``q = 1.5 sin(x0) + cos(x1)``, angles in radians). Printed, side by side:

* held-out correlation with the true ``q``, held-out log likelihood per shot
  and its gap to the truth's own (``oracle``), fit time;
* ``sklearn LogisticRegression`` on the shots (sample_weight = counts; a
  linear ``q`` fitted by the same binomial likelihood) as the reference;
* a bare torch loop with the same network, optimiser and epoch count as ours
  (no validation, no checks): the ratio shows the wrapper's overhead. For
  that comparison "ours" is the Adam fit (``ADAM``: the defaults before
  issue 21, mini-batch Adam with early stopping on a 20 % split);
* ours with torch's default thread count instead of ``n_threads=1``.

Then the cost of model selection and of the ensemble against one fit
(issue 14), on the nonlinear truth at the study's size (``--n`` configurations
x ``--features``): one fit with ``CommittorModel()``'s defaults (L-BFGS,
group lasso, weight decay 1e-2),
``CommittorModelCV()`` with its default grid and 5 folds, a 5-member
``CommittorEnsemble`` of the chosen setting, and ``baseline_loglik`` on three
feature sets; each with its held-out correlation with the true ``q`` and p_B
RMSE against the true p_B. ``--cost-only`` skips the reference fits above.

This machine is noisy; compare ratios, not absolute seconds.
"""

import argparse
import os
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def make(n, d, shots, seed, kind):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-180.0, 180.0, size=(n, d))
    if kind == "linear":
        q = 2.0 * X[:, 0] / 104.0 - 1.0 * X[:, 1] / 104.0  # ~unit-variance inputs
    else:
        q = 1.5 * np.sin(np.deg2rad(X[:, 0])) + np.cos(np.deg2rad(X[:, 1]))
    n_B = rng.binomial(shots, (1 + np.tanh(q)) / 2).astype(float)
    return X, shots - n_B, n_B, q


#: The Adam fit the bare torch loop mirrors (CommittorModel's defaults before issue 21).
ADAM = dict(solver="adam", hidden_layers=(64, 64), max_epochs=500, validation_fraction=0.2,
            penalty="all")


def loglik(q, n_A, n_B):
    from mda_rcxai.model import binomial_nll

    return -binomial_nll(q, n_A, n_B, reduction="mean")


def sklearn_logistic(X, n_A, n_B):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    Xe = np.vstack([X, X])
    y = np.r_[np.zeros(len(X)), np.ones(len(X))]
    w = np.r_[n_A, n_B]
    keep = w > 0
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    clf.fit(Xe[keep], y[keep], logisticregression__sample_weight=w[keep])
    # p_B = sigmoid(2 q)  ->  q = decision_function / 2
    return lambda Z: clf.decision_function(Z) / 2.0


def bare_torch(model, X, n_A, n_B, epochs):
    """Same net/optimiser/batches as CommittorModel, no validation or checks."""
    import torch

    from mda_rcxai.model import binomial_nll

    torch.manual_seed(0)
    net = model._build_net(X.shape[1])
    mean, scale = X.mean(0), X.std(0)
    Xt = torch.as_tensor((X - mean) / scale, dtype=torch.float32)
    At, Bt = torch.as_tensor(n_A, dtype=torch.float32), torch.as_tensor(n_B, dtype=torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=model.learning_rate)
    rng = np.random.default_rng(0)
    bs = model.batch_size
    for _ in range(epochs):
        order = torch.as_tensor(rng.permutation(len(X)))
        for s in range(0, len(X), bs):
            idx = order[s:s + bs]
            a, b = At[idx], Bt[idx]
            loss = binomial_nll(net(Xt[idx])[:, 0], a, b) / (a + b).sum()
            loss = loss + model.weight_decay * model._penalty(net)
            opt.zero_grad()
            loss.backward()
            opt.step()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--features", type=int, default=45)
    ap.add_argument("--shots", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cost-only", action="store_true",
                    help="only the selection / ensemble cost table")
    args = ap.parse_args()

    import torch

    from mda_rcxai.model import CommittorModel

    default_threads = torch.get_num_threads()
    print(f"{args.n} configurations x {args.shots} shots, {args.features} features; "
          f"held-out 5000; torch {torch.__version__}, {os.cpu_count()} CPUs")
    for kind in (() if args.cost_only else ("linear", "nonlinear")):
        X, n_A, n_B, _ = make(args.n, args.features, args.shots, args.seed, kind)
        Xt, at, bt, qt = make(5000, args.features, args.shots, args.seed + 1, kind)
        oracle = loglik(qt, at, bt)
        rows = []

        t = time.perf_counter()
        ours = CommittorModel(seed=args.seed, **ADAM).fit(X, n_A, n_B)
        t_ours = time.perf_counter() - t
        rows.append(("ours (Adam, 1 thread)", ours.predict_q(Xt), t_ours))

        torch.set_num_threads(default_threads)
        t = time.perf_counter()
        many = CommittorModel(seed=args.seed, n_threads=None, **ADAM).fit(X, n_A, n_B)
        rows.append((f"ours, torch default {default_threads} threads", many.predict_q(Xt),
                     time.perf_counter() - t))
        torch.set_num_threads(1)

        t = time.perf_counter()
        f = sklearn_logistic(X, n_A, n_B)
        rows.append(("sklearn LogisticRegression", f(Xt), time.perf_counter() - t))

        t = time.perf_counter()
        default = CommittorModel(seed=args.seed).fit(X, n_A, n_B)
        rows.append(("ours, CommittorModel() defaults (L-BFGS)", default.predict_q(Xt),
                     time.perf_counter() - t))

        t = time.perf_counter()
        n_tr = len(X) - ours.validation_indices_.size
        bare_torch(ours, X[:n_tr], n_A[:n_tr], n_B[:n_tr], ours.n_epochs_)
        t_bare = time.perf_counter() - t

        print(f"\n[{kind} truth]  oracle held-out log-likelihood/shot {oracle:.4f}; "
              f"ours stopped at epoch {ours.n_epochs_} (best {ours.best_epoch_})")
        print(f"  {'method':38s} {'corr(q)':>8s} {'loglik':>8s} {'gap':>7s} {'fit s':>7s} "
              f"{'t/ours':>7s}")
        for name, q, secs in rows:
            ll = loglik(q, at, bt)
            print(f"  {name:38s} {np.corrcoef(q, qt)[0, 1]:8.4f} {ll:8.4f} {oracle - ll:7.4f} "
                  f"{secs:7.2f} {secs / t_ours:7.2f}")
        print(f"  {'bare torch loop, same epochs':38s} {'':8s} {'':8s} {'':7s} {t_bare:7.2f} "
              f"{t_bare / t_ours:7.2f}")
    cost(args)


def cost(args):
    """Selection and ensemble against one fit, side by side in one run."""
    from mda_rcxai.model import (CommittorEnsemble, CommittorModel, CommittorModelCV,
                                 baseline_loglik)

    X, n_A, n_B, _ = make(args.n, args.features, args.shots, args.seed, "nonlinear")
    Xt, _, _, qt = make(5000, args.features, args.shots, args.seed + 1, "nonlinear")
    pt = (1 + np.tanh(qt)) / 2

    def quality(model):
        q = model.predict_q(Xt)
        return np.corrcoef(q, qt)[0, 1], np.sqrt(np.mean((model.predict_proba(Xt) - pt) ** 2))

    rows = []
    t = time.perf_counter()
    single = CommittorModel(seed=args.seed).fit(X, n_A, n_B)
    t_single = time.perf_counter() - t
    rows.append(("one fit, CommittorModel() defaults (L-BFGS)", t_single, *quality(single)))
    t = time.perf_counter()
    cv = CommittorModelCV(seed=args.seed).fit(X, n_A, n_B)
    rows.append((f"CommittorModelCV() {len(cv.cv_results_)} settings x 5 folds + refit",
                 time.perf_counter() - t, *quality(cv)))
    t = time.perf_counter()
    one = CommittorModel(**cv.best_estimator_.get_params()).fit(X, n_A, n_B)
    rows.append(("one fit of the chosen setting (L-BFGS)", time.perf_counter() - t,
                 *quality(one)))
    t = time.perf_counter()
    ens = CommittorEnsemble(n_models=5, seed=args.seed,
                            base_estimator=cv.best_estimator_).fit(X, n_A, n_B)
    rows.append(("CommittorEnsemble(5, bootstrap) of the choice", time.perf_counter() - t,
                 *quality(ens)))
    t = time.perf_counter()
    baseline_loglik(X, n_A, n_B, {"x0": [0], "x1": [1], "x0 + x1": [0, 1]}, seed=args.seed,
                    **cv.best_params_)
    rows.append(("baseline_loglik: 3 sets + full + constant, 5 folds",
                 time.perf_counter() - t, np.nan, np.nan))
    print(f"\n[cost of selection and ensemble]  {args.n} configurations x {args.features} "
          f"features x {args.shots} shots; chosen {cv.best_params_}")
    print(f"  {'what':50s} {'s':>7s} {'x one fit':>9s} {'corr(q)':>8s} {'RMSE p_B':>9s}")
    for name, secs, corr, rmse in rows:
        print(f"  {name:50s} {secs:7.2f} {secs / t_single:9.2f} {corr:8.4f} {rmse:9.4f}")


if __name__ == "__main__":
    main()

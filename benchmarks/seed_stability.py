"""Does the default study reproduce Kikutsuji et al. (2022) for every seed?

Runs ``mda-rcxai demo`` with the default parameters for several seeds (each
in its own output directory, resumable) and prints, per seed, the top two
groups by rotatable bond for SHAP and LIME, globally and at the transition
state, the wall time, and how many seeds gave N-CA (phi) and C-N (theta) as
the top two.

Run: ``python benchmarks/seed_stability.py --seeds 0 1 2 3 4 --out seed_runs``
"""

import argparse
import json
import os
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--out", default="seed_runs")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    keys = ["shap/global", "shap/transition_state", "lime/global", "lime/transition_state"]
    ok = {k: 0 for k in keys}
    rows, extra = [], {}
    for seed in args.seeds:
        out = os.path.join(args.out, f"seed{seed}")
        t0 = time.perf_counter()
        with open(os.path.join(args.out, f"seed{seed}.log"), "w") as log:
            r = subprocess.run([sys.executable, "-m", "mda_rcxai.cli", "demo", "--out", out,
                                "--seed", str(seed), "--workers", str(args.workers)],
                               stdout=log, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            rows.append((seed, wall, {k: ["FAILED"] for k in keys}))
            continue
        with open(os.path.join(out, "explanations.json")) as fh:
            ex = json.load(fh)
        tops = {k: ex.get(k, {}).get("grouped_ranking", ["-"])[:2] for k in keys}
        with open(os.path.join(out, "validation.json")) as fh:
            val = json.load(fh)
        ll = {b["name"]: b["loglik"] for b in val["baselines"]}
        ct = val.get("committor_test") or {}
        with open(os.path.join(out, "state.json")) as fh:
            state = json.load(fh)
        com = state.get("committor", {})
        naive = val.get("committor_test_naive") or {}
        comps = "; ".join(
            f"{c['a']} vs {c['b']}: {c['delta']:+.3f} [{c['ci_low']:+.3f}, "
            f"{c['ci_high']:+.3f}] {c['verdict']}" for c in val.get("comparisons", []))
        stages = ", ".join(f"{k} {v.get('seconds', 0):.0f} s" for k, v in state.items()
                           if isinstance(v, dict) and "seconds" in v)
        extra_rounds = " | ".join(com.get("rounds", [])[1:])
        extra[seed] = (f"stages: {stages}\n     later rounds: {extra_rounds}\n     "
                       f"naive ({', '.join((naive.get('coordinate') or {}).get('names', []))}) "
                       "committor test "
                       f"{naive.get('verdict', '-')}; {comps}\n     "
                       f"committor test {ct.get('verdict', '-')} (mean p_B "
                       f"{ct.get('mean_p_B', ct.get('mean_pB')) or float('nan'):.2f}, n={ct.get('n_configurations', 0)}); "
                       f"log-lik/shot full {ll.get('full', float('nan')):.3f}, phi+theta "
                       f"{ll.get('phi + theta', float('nan')):.3f}, phi+psi "
                       f"{ll.get('phi + psi', float('nan')):.3f}, phi {ll.get('phi', float('nan')):.3f}")
        for k in keys:
            t = tops[k]
            if len(t) == 2 and {t[0].split(" ")[0], t[1].split(" ")[0]} == {"N-CA", "C-N"} \
                    and any("phi" in x for x in t) and any("theta" in x for x in t):
                ok[k] += 1
        rows.append((seed, wall, tops))
    print(f"{'seed':>4s} {'wall s':>7s}  " + "  ".join(f"{k:34s}" for k in keys))
    for seed, wall, tops in rows:
        print(f"{seed:4d} {wall:7.0f}  " + "  ".join(f"{', '.join(tops[k]):34s}" for k in keys))
        if seed in extra:
            print(f"     {extra[seed]}")
    n = len(args.seeds)
    print("phi + theta as the top two groups: " +
          ", ".join(f"{k} {ok[k]}/{n}" for k in keys))


if __name__ == "__main__":
    main()

"""Each claim of Kim et al. (2018) checked on two rated sets and across them.

Reads two reproductions' ``results.json``, the cross-set table's
``cross_set.json`` and the two object-emotion correlation results, and
decides each claim from the numbers by a fixed rule, printed beside it:

- within a set, on the mean test MSE over the 5 folds (lower is better);
- across sets (fitted on all of one set, tested on all of the other), on
  Pearson r, since the two sets' ratings differ in spread and MSE would
  mostly measure that (higher is better);
- a claim *holds* when it holds for every comparison listed (each regressor,
  each target, each direction), *does not hold* when it holds for none, and
  is *mixed* otherwise, with the comparisons that fail named.

Run: python -m benchmarks.claims_on_two_sets \
        --within benchmarks/results/emotion6/results.json benchmarks/results/oasis/results.json \
        --cross benchmarks/results/cross_set/cross_set.json \
        --fig8 benchmarks/results/object_emotion_correlation.json \
               benchmarks/results/object_emotion_correlation_oasis.json
"""

import argparse
import json
from pathlib import Path

from benchmarks._common import write

T = ("V", "A")
REGS = ("SVR (RBF, C=1)", "FFNN (tuned)")


def _load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _within(info):
    """{(model, features): summary} of a reproduction (Table IV's rows win)."""
    out = {}
    for r in info["results"]:
        out.setdefault((r["model"], r["features"]), r)
    return out


def _verdict(checks):
    """checks: [(label, bool)] -> (verdict, failing labels)."""
    ok = [c for c in checks if c[1]]
    if len(ok) == len(checks):
        return "holds", []
    if not ok:
        return "does not hold", [c[0] for c in checks]
    return "mixed", [c[0] for c in checks if not c[1]]


def _order_checks(get, names, better, label):
    """Checks that names[0] beats names[1] beats ... for each (regressor, target)."""
    checks = []
    for reg in REGS:
        for t in T:
            vals = [get(reg, n, t) for n in names]
            good = all(better(a, b) for a, b in zip(vals, vals[1:]))
            checks.append((f"{label} {reg} {t}: " + " vs ".join(f"{v:.3f}" for v in vals), good))
    return checks


def claims(sets, within, cross, fig8):
    lower, higher = (lambda a, b: a < b), (lambda a, b: a > b)
    rows = []

    def mse(w):
        return lambda reg, fs, t: w[(reg, fs)][f"test_mse_{t}_mean"]

    def r_across(direction):
        table = {(row["model"], row["features"]): row for row in cross["rows"]}
        return lambda reg, fs, t: table[(reg, fs)][direction][f"test_r_{t}"]

    directions = [f"{sets[0]} -> {sets[1]}", f"{sets[1]} -> {sets[0]}"]

    def add(claim, paper, make_checks):
        cells = {}
        for name, w in zip(sets, within):
            cells[name] = _verdict(make_checks(mse(w), lower, f"MSE within {name}:"))
        across = []
        for d in directions:
            across += make_checks(r_across(d), higher, f"r {d}:")
        cells["across"] = _verdict(across)
        rows.append((claim, paper, cells))

    fam = ("object", "semantic", "low-level")
    add("object > semantic > low-level", "Table III",
        lambda get, better, label: _order_checks(get, fam, better, label))

    def all_best(get, better, label):
        checks = []
        for reg in REGS:
            for t in T:
                a = get(reg, "all", t)
                rest = {f: get(reg, f, t) for f in fam}
                checks.append((f"{label} {reg} {t}: all {a:.3f} vs "
                               + ", ".join(f"{f} {v:.3f}" for f, v in rest.items()),
                               all(better(a, v) for v in rest.values())))
        return checks

    add("all families together beat every single family", "Table III", all_best)

    def regs(names):
        def make(get, better, label):
            checks = []
            for t in T:
                vals = [get(m, "all", t) for m in names]
                checks.append((f"{label} {t}: " + " vs ".join(f"{v:.3f}" for v in vals),
                               all(better(a, b) for a, b in zip(vals, vals[1:]))))
            return checks
        return make

    add("FFNN (paper settings) beats SVR beats linear regression", "Table IV",
        regs(("FFNN (paper settings)", "SVR (RBF, C=1)", "linear regression")))
    add("FFNN (tuned) at least matches SVR (MSE within 1 %, r within 0.01); SVR beats linear",
        "Table IV, with a tuned FFNN",
        lambda get, better, label: [
            (f"{label} {t}: FFNN {get('FFNN (tuned)', 'all', t):.3f} vs SVR "
             f"{get('SVR (RBF, C=1)', 'all', t):.3f} vs linear {get('linear regression', 'all', t):.3f}",
             (get("FFNN (tuned)", "all", t) <= get("SVR (RBF, C=1)", "all", t) * 1.01
              if better is lower else
              get("FFNN (tuned)", "all", t) >= get("SVR (RBF, C=1)", "all", t) - 0.01)
             and better(get("SVR (RBF, C=1)", "all", t), get("linear regression", "all", t)))
            for t in T])

    # the fine-tuned CNN: within sets only (the cross-set table has no CNN)
    cnn_cells = {}
    for name, w in zip(sets, within):
        cnn = next((v for (m, _), v in w.items() if "conv-train" in m), None)
        if cnn is None:
            cnn_cells[name] = ("not run", [])
            continue
        checks = [(f"MSE within {name}: {t}: CNN {cnn[f'test_mse_{t}_mean']:.3f} vs FFNN (paper) "
                   f"{w[('FFNN (paper settings)', 'all')][f'test_mse_{t}_mean']:.3f}",
                   cnn[f"test_mse_{t}_mean"] > w[("FFNN (paper settings)", "all")][f"test_mse_{t}_mean"])
                  for t in T]
        cnn_cells[name] = _verdict(checks)
    cnn_cells["across"] = ("not measured", [])
    rows.append(("the fine-tuned CNN does worse than the FFNN on features", "Table IV",
                 cnn_cells))

    f8 = {}
    for name, res in zip(sets, fig8):
        rr = res["rows"]
        checks = [(f"{name}: {kind} valence r {rr[f'{kind}, valence']['r']:.3f} vs arousal "
                   f"{rr[f'{kind}, arousal']['r']:.3f}",
                   rr[f"{kind}, valence"]["r"] > rr[f"{kind}, arousal"]["r"])
                  for kind in ("top-1 class", "probability-weighted")]
        f8[name] = _verdict(checks)
    f8["across"] = ("not applicable", [])
    rows.append(("object emotion correlates more with valence than with arousal", "Fig. 8", f8))
    return rows


def markdown(sets, rows, sources):
    cols = [*sets, "across sets"]
    md = ["Verdicts computed from the committed results by the rules in this script's "
          "docstring: within a set on mean test MSE over 5 folds, across sets on Pearson r of "
          "a model fitted on all of one set and tested on all of the other (both directions).",
          "", "Sources: " + ", ".join(f"`{s}`" for s in sources), "",
          "| claim | paper | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    details = []
    for claim, paper, cells in rows:
        keys = [*sets, "across"]
        md.append(f"| {claim} | {paper} | " + " | ".join(f"**{cells[k][0]}**" for k in keys) + " |")
        for k in keys:
            if cells[k][1]:
                details.append(f"- {claim}, {k}: fails on " + "; ".join(cells[k][1]))
    if details:
        md += ["", "Where a claim fails (the comparisons behind *mixed* and *does not hold*):", "",
               *details]
    return "\n".join(md)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--within", nargs=2, required=True)
    ap.add_argument("--cross", required=True)
    ap.add_argument("--fig8", nargs=2, required=True)
    a = ap.parse_args()
    infos = [_load(p) for p in a.within]
    cross = _load(a.cross)
    sets = cross["sets"]
    rows = claims(sets, [_within(i) for i in infos], cross, [_load(p) for p in a.fig8])
    command = ("python -m benchmarks.claims_on_two_sets --within " + " ".join(a.within)
               + f" --cross {a.cross} --fig8 " + " ".join(a.fig8))
    write("claims_on_two_sets", command,
          {"sets": sets, "claims": [{"claim": c, "paper": p, "verdicts": v} for c, p, v in rows]},
          markdown(sets, rows, [*a.within, a.cross, *a.fig8]))


if __name__ == "__main__":
    main()

"""A small mutation check: the core pure functions against their own tests.

For each target below, mutmut 2 (``pip install -e ".[mutation]"``) mutates
only the lines of the named functions (a generated patch file marks them as
"changed": ``--use-patch-file``), one mutant at a time in place, and runs
only that target's own tests.  A mutant the tests do not fail on *survives*.
The report lists every survivor with its diff and the explanation recorded
in :data:`EXPLAINED` (keyed by the mutated line); a survivor without one is
marked "not explained".

Usage (a clean checkout: mutmut edits the files and restores them)::

    SKLEARN_EMOTION_DATA=../shared python -m benchmarks.mutation_check
    python -m benchmarks.mutation_check --only _adapt.py _report.py   # some targets
    python -m benchmarks.mutation_check --report-only   # rewrite the report from the raw results

Each target's raw result is ``benchmarks/results/mutation_raw/<file>.json``,
written when the target finishes: targets can run in two checkouts at once
(mutmut edits files in place), and their raw files copied into one.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._common import RESULTS, write

ROOT = Path(__file__).resolve().parents[1]
#: One raw result per target (so that targets can run in separate checkouts at once).
RAW = RESULTS / "mutation_raw"

#: (file, functions, tests): the functions mutated and the tests run on each
#: mutant.  ``Class.method`` names one method; a bare class name, all of it.
#: The code that makes users' numbers (issue 36): the reproduction's scores,
#: folds, nested search and report; adaptation, intervals and the
#: out-of-distribution flag; the head and interval code of the affect model;
#: the store's key functions; the rating scales; colour features.
_AFFECT = "AffectHead."
TARGETS = [
    ("sklearn_emotion/_adapt.py",
     ["gram_summary", "context", "_take", "fit_strategy", "predict_strategy", "_r", "_p_positive",
      "cv_select", "cv_plus", "ood_fit", "ood_score", "rating_range", "unusual_weight",
      "widen_intervals"],
     ["tests/test_answers_adapt.py", "tests/test_answers_intervals.py",
      "tests/test_planted_bugs.py::test_cv_plus_equals_the_brute_force_formula_on_twenty_points",
      "tests/test_ood.py::test_unusual_weight_and_widen_intervals_by_hand"]),
    ("sklearn_emotion/_head_core.py",
     ["LinearHead", "scaled_about_centre", "standardise", "checked_ratings", "merged_duplicates"],
     ["tests/test_answers_intervals.py", "tests/test_answers_affect_model.py",
      "tests/test_adapt.py", "tests/test_affect_head.py"]),
    ("sklearn_emotion/_affect_head.py",
     [_AFFECT + m for m in (
         "fit", "_fit_shift_scale", "_rows", "predict", "ood_score", "_adapt_context",
         "_adapt_prior", "_collection_reference", "_shift_scale", "_interval_features",
         "_unadapted_intervals", "_widen_unusual", "_flag_threshold", "predict_frame")],
     ["tests/test_answers_intervals.py", "tests/test_answers_affect_model.py",
      "tests/test_affect_head.py"]),
    ("sklearn_emotion/reproduce/_evaluation.py",
     ["Result", "scores", "_fit_predict_here", "Columns", "fit_fold", "RowFolds", "plan_folds",
      "evaluate", "_nested_fold", "plan_nested", "nested_best", "nested_info"],
     ["tests/test_answers_reproduce.py",
      "tests/test_reproduce.py::test_columns_stack_rows_as_hstack_does"]),
    ("sklearn_emotion/reproduce/_report.py",
     ["_fmt", "_markdown", "_per_fold_markdown", "describe_model", "pooled_scores", "_write_oof",
      "write_report"],
     ["tests/test_answers_report.py"]),
    ("sklearn_emotion/_keys.py",
     ["_imported_modules", "_without_docstrings", "_module_code", "code_token", "modules_of",
      "store_key", "items_token", "file_digest", "image_key", "decode_token"],
     ["tests/test_store.py", "tests/test_keys.py", "tests/test_answers_keys.py",
      "tests/test_checkpoints.py"]),
    ("sklearn_emotion/_store.py",
     ["sealed", "unsealed", "_entry_problem"],
     ["tests/test_store.py",
      "tests/test_cache.py::test_a_tampered_entry_is_recomputed_with_a_warning"]),
    ("sklearn_emotion/reproduce/_checkpoints.py",
     ["FoldCheckpoints.key", "FoldCheckpoints.key_of", "checkpoint_problem"],
     ["tests/test_checkpoints.py"]),
    ("sklearn_emotion/datasets/_oasis.py", ["_to_1_9", "load_oasis"],
     ["tests/test_datasets.py::test_oasis_every_row_against_the_csv_read_by_hand",
      "tests/test_datasets.py::test_oasis_names_its_missing_photos_and_frames_every_column",
      "tests/test_pretrained.py::test_load_oasis_reads_the_published_csv"]),
    ("sklearn_emotion/datasets/_ratings.py", ["read_table", "load_ratings"],
     ["tests/test_datasets.py"]),
    ("sklearn_emotion/features/color.py",
     ["color_names", "weighted_sums", "names_from_counts", "_hsv_uint8", "hue_saturation",
      "_distinct_colours", "color_features"],
     ["tests/test_color.py"]),
    ("sklearn_emotion/reproduce/_kernel_grid.py", ["_scale_gamma", "KernelSVR", "svr_grid_search"],
     ["tests/test_reproduce.py::test_kernel_grid_search_equals_gridsearchcv",
      "tests/test_reproduce.py::test_kernel_grid_gamma_is_svrs_scale"]),
    ("sklearn_emotion/_config.py", ["_checked", "set_config", "config_context", "_Configured",
                                    "with_config"],
     ["tests/test_config.py"]),
    ("sklearn_emotion/pipeline.py", ["make_scaler"],
     ["tests/test_planted_bugs.py::test_the_scaler_clips_both_sides",
      "tests/test_planted_bugs.py::test_make_paper_pipeline_passes_clip_to_its_scaler",
      "tests/test_planted_bugs.py::test_make_scaler_validates_clip_and_names_its_steps"]),
]

#: Why a surviving mutant is not a missing test: keyed by the mutated line
#: as mutmut writes it (stripped).
_MESSAGE = ("a message decorated, not changed: the test matches its words (``match=`` "
            "searches), and no behaviour depends on the text around them")
_PARTITION = ("not equivalent in principle, and not caught: np.partition places only its kth "
              "element and leaves the others unordered, so reading one place off the kth is "
              "right only by how NumPy's introselect leaves them (it finishes small ranges "
              "with a selection sort, which orders them); the brute-force CV+ test at n = 20, "
              "22, 15 and 200 never met a case where it differs. A known weak spot of tests "
              "against one library's implementation; the code reads the index it partitions")
_TINY_GUARD = ("equivalent: a guard for a constant column (a standard deviation of 0); no column "
               "of outputs or features has a spread between 1e-12 and 2e-12, and the tests' "
               "constant columns are caught by either threshold")
_CONSTANT = ("equivalent: the guard applies to a constant column, which centring makes zero "
             "(to rounding) whatever it is then divided by (tested: a constant feature or output "
             "changes no prediction)")
_TIE = ("equivalent but for a value exactly equal to its threshold: the threshold is a "
        "continuous quantity (an interpolated quantile, a p-value), met with probability zero")
_UNUSED_DEFAULT = ("equivalent for the package: a default no caller uses (every Result is "
                   "built with its folds, predictions and folds of each image)")
_ANNOTATION = "equivalent: an annotation, never evaluated (``from __future__ import annotations``)"
_TASK_NAME = ("equivalent: the position only names the function's own tasks, which it reads "
              "back by their fold number")
_DISCARDED = ("equivalent: evaluate() discards the engine's task records that this describes "
              "(run_reproduction, which keeps them, plans its own tasks)")
_KEY_CONSTANT = ("equivalent: a constant part of the checkpoint key; the candidates, grid and "
                 "pipeline it names are constants of this module, whose code the key holds "
                 "(code_token)")
_SPLIT_COLOUR = ("equivalent: a colour split over two entries adds the same pixel counts to "
                 "every weighted sum and histogram bin it feeds")
_SUBMODEL = ("equivalent: the leave-one-set-out sub-models are asked for intervals only; this "
             "setting decides what they keep that intervals never read (fit() alone makes "
             "non-photos, so a count of 1 makes none here)")
_REGISTERED = ("equivalent for the shipped loader: OASIS.csv is verified by its registered "
               "sha256 before it is parsed, and the registered file has every column and no "
               "unreadable row")
_NEGATIVE = "equivalent: NumPy takes any negative size as the one unknown dimension"
EXPLAINED: dict[str, str] = {
    'out[f"r_{t}"] = float(pearsonr(y[:, j], oof[:, j])[0]) if np.ptp(oof[:, j]) >= 0 \\':
        "equivalent: for a constant prediction SciPy's pearsonr itself returns NaN (with a "
        "warning), the value the guard gives",
    "missing_cols = None": _REGISTERED,
    "vals = np.asarray(vals, dtype=np.float64).reshape(-2, 6)": _NEGATIVE,
    "target = np.asarray(target, dtype=np.float64).reshape(-2, 2)": _NEGATIVE,
    'first = text.split("\\n", 2)[0]': "equivalent: the first line is the same however many "
                                        "splits follow it",
    'text = text.replace("XX\\r\\nXX", "\\n").replace("\\r", "\\n")':
        "equivalent: the second replace turns the CR of each CRLF into a line break too, and "
        "the blank lines that leaves are skipped as empty rows (tested with CRLF files)",
    "if  path.suffix or path.suffix.lower() not in _IMAGE_EXTS:":
        "equivalent: the stem search inside runs only when the named file does not exist, "
        "so also trying it for names with an image extension finds nothing new",
    "sub = clone(self).set_params(ood_examples=1, adapt_components=0)": _SUBMODEL,
    "sub = clone(self).set_params(ood_examples=0, adapt_components=1)": _SUBMODEL,
    'base = node.module or "XXXX"':
        "equivalent: an absolute ``from … import`` always names its module (only relative "
        "imports may have none)",
    "if best is None or found[0] >= best[0]:": _TIE,
    "img = np.asarray(image).reshape(-2, 3)":
        "equivalent: NumPy takes any negative size as the one unknown dimension",
    "colours, counts = _distinct_colours(img.reshape(-2, 3))":
        "equivalent: NumPy takes any negative size as the one unknown dimension",
    "counts = np.bincount(idx, weights=counts, minlength=32769).astype(np.float64)":
        "equivalent: only the indices of colours present (all below 32,768) are read",
    "first[:2] = True": _SPLIT_COLOUR,
    "np.not_equal(code[1:], code[:+1], out=first[1:])": _SPLIT_COLOUR,
    "mean_h = 0.0 if np.hypot(cx, cy) <= 1e-12 else (np.arctan2(cy, cx) / (2 * np.pi)) % 1.0":
        _TIE,
    "mean_h = 0.0 if np.hypot(cx, cy) < 2e-12 else (np.arctan2(cy, cx) / (2 * np.pi)) % 1.0":
        "equivalent: the mean hue vector of a grey image is exactly 0 (tested); of any other, "
        "far above 2e-12",
    "hb = np.minimum((h * nh).astype(np.int64), nh + 1)":
        "equivalent: hue lies in [0, 1), so h * nh < nh and the clamp never applies",
    "folds: list = None  # dicts per fold": _UNUSED_DEFAULT,
    'oof: np.ndarray | None = ""  # out-of-fold predictions (n, 2)': _UNUSED_DEFAULT,
    'fold_of: np.ndarray | None = ""  # the fold (0-based) that held each image out':
        _UNUSED_DEFAULT,
    "oof: np.ndarray & None = None  # out-of-fold predictions (n, 2)": _ANNOTATION,
    "fold_of: np.ndarray & None = None  # the fold (0-based) that held each image out":
        _ANNOTATION,
    "keys = self.folds[1].keys()":
        "equivalent: every fold's record has the same keys (fit_fold's), and a row has at "
        "least two folds",
    'if np.ptp(y_pred[:, j]) >= 1e-9 * max(1.0, abs(float(y_pred[0, j]))) else float("nan")':
        "equivalent but for a spread exactly equal to the tolerance",
    'if np.ptp(y_pred[:, j]) > 1e-9 * max(1.0, abs(float(y_pred[1, j]))) else float("nan")':
        "equivalent: the tolerance's scale; the first two predictions differ by at most the "
        "spread compared, a billionth of their size",
    "self.shape = (len(self.parts[1]), sum(p.shape[1] for p in self.parts))":
        "equivalent: every column block has one row per image (tested: rows taken equal "
        "np.hstack's)",
    "1, fit_fold, lambda tr, te: (model, joint, X, y, tr, te), store,": _TASK_NAME,
    "row, hits, tasks = plan_nested(1, feats, y, splits, store, n_jobs)": _TASK_NAME,
    'network=uses_tensorflow(model), info={"XXtableXX": table, "model": name, "features": features})':
        _DISCARDED,
    'network=uses_tensorflow(model), info={"table": table, "XXmodelXX": name, "features": features})':
        _DISCARDED,
    'network=uses_tensorflow(model), info={"table": table, "model": name, "XXfeaturesXX": features})':
        _DISCARDED,
    "ptr, pte = np.empty((len(train), 3)), np.empty((len(test), 2))":
        "equivalent: only the first two columns are written and scored",
    'spec = ("XXnested_bestXX", candidates, NESTED_GRID, make_pipeline(make_scaler(CLIP), SVR()))':
        _KEY_CONSTANT,
    "spec = None": _KEY_CONSTANT,
    "lambda tr, te: store.key(spec, True, [X_sets[c] for c in candidates], y, tr, te),":
        _KEY_CONSTANT,
    'splits, network=True, info={"table": "best", "model": NESTED_NAME,':
        "equivalent: where an outer fold runs (the network worker or a process worker), not "
        "what it computes",
    "_, s, Vt = np.linalg.svd(Zc, full_matrices=True)":
        "equivalent: the leading rows of Vt are the same with the full basis; only rows never "
        "read are added",
    "scale[scale <= 1e-12] = 1.0": _TINY_GUARD,
    "scale[scale < 2e-12] = 1.0": _TINY_GUARD,
    "scale[scale < 1e-12] = 2.0": _CONSTANT,
    "slope = max(float(bc @ (y + y.mean()) / max(float(bc @ bc), 1e-12)), 0.0)":
        "equivalent: bc is centred (it sums to zero), so bc @ (y + c) = bc @ y for any "
        "constant c, to rounding",
    "slope = max(float(bc @ (y - y.mean()) / max(float(bc @ bc), 2e-12)), 0.0)":
        "equivalent: a floor against a constant prediction (bc @ bc = 0, tested); any floor "
        "far below a real spread gives the same slope",
    'eligible = [s for s in cands if s == "keep" or _p_positive(cv_r[s], k) <= alpha]': _TIE,
    "flag[ok] = score[ok] >= self.ood_threshold_": _TIE,
    "clf = LogisticRegression(C=C, max_iter=5001, random_state=random_state)":
        "equivalent: an iteration cap that L-BFGS does not reach on these problems (it "
        "converges, and stops, long before 5,000 iterations)",
    "half = np.maximum((iv[..., 1] - iv[..., 0]) / 2, 2e-09)":
        "equivalent: a floor against a zero-width interval, which CV+ on the residuals of "
        "real (noisy) ratings never gives",
    "k_hi = min(max(int(np.ceil((1 - a) * (n + 1))), 2), n)":
        "equivalent: the upper rank ceil(coverage (n + 1)) is at least 2 whenever coverage "
        "(n + 1) > 1, i.e. for every n >= 1 at the coverages allowed (> 0.5 in practice; "
        "clamping it to 2 instead of 1 changes nothing)",
    "lo_k, hi_k = int(np.floor((n + 1) * q + 2e-09)), int(np.ceil((n + 1) * (1 - q) - 1e-9))":
        "equivalent: 1e-9 guards against (1 - 0.8) / 2 being just below 0.1 in floating point; "
        "any tolerance far below 1 / (n + 1) gives the same ranks",
    "lo_k, hi_k = int(np.floor((n + 1) * q + 1e-9)), int(np.ceil((n + 1) * (1 - q) - 2e-09))":
        "equivalent, as the mutant above: a rounding tolerance",
    "lo = np.partition(mu - R, k_lo + 1, axis=0)[k_lo - 1]": _PARTITION,
    "lo = np.partition(mu - R, k_lo - 2, axis=0)[k_lo - 1]": _PARTITION,
    "hi = np.partition(mu + R, k_hi - 2, axis=0)[k_hi - 1]": _PARTITION,
    "return np.stack([lo, hi], axis=+1)":
        "equivalent: lo and hi are 1-D, so axis 1 is the last axis",
    'want = f"({size},)" if size is not None else "XX1-DXX"':
        "the message of a size-less check, which the transform never makes (it always passes "
        "the width); a message decorated, not changed",
    "raise ValueError(f\"XXgrid must have exactly 'svr__C' and 'svr__epsilon', got "
    "{sorted(grid)}XX\")": _MESSAGE,
    'raise ValueError(f"XX{name} must be a positive number of seconds, got {value!r}XX")':
        _MESSAGE,
    'raise ValueError(f"XX{name} must be a positive integer, got {value!r}XX")': _MESSAGE,
    'raise ValueError(f"XXclip must be > 0 or None, got {clip!r}XX")': _MESSAGE,
    'return ("XXsklearn_emotion.with_configXX", tokenize(self.fn), '
    'sorted(self.config.items()))':
        "equivalent: the constant only names the token Dask caches tasks by; any constant "
        "gives the same caching",
}


def _named_nodes(tree, names):
    """The top-level functions and classes named, and ``Class.method`` methods."""
    for node in tree.body:
        name = getattr(node, "name", None)
        if name in names:
            yield name, node
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                qual = f"{name}.{getattr(sub, 'name', None)}"
                if qual in names:
                    yield qual, sub


def _function_lines(path, names):
    """Line numbers (1-based) of the bodies of the named functions, classes
    and ``Class.method`` methods; a name not found is an error (a renamed
    function must not drop out of the check unseen)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines, found = set(), set()
    for qual, node in _named_nodes(tree, names):
        found.add(qual)
        first = node.body[0]
        # skip the docstring: mutating prose is noise
        start = (node.body[1].lineno if isinstance(first, ast.Expr)
                 and isinstance(getattr(first, "value", None), ast.Constant)
                 and len(node.body) > 1 else first.lineno)
        lines.update(range(start, node.end_lineno + 1))
    if set(names) - found:
        raise SystemExit(f"{path}: not found: {sorted(set(names) - found)}")
    return lines


def _patch(rel, names):
    """A unified diff in which exactly the named functions' lines are added."""
    path = ROOT / rel
    new = path.read_text(encoding="utf-8").splitlines(keepends=True)
    keep = _function_lines(path, names)
    old = [line for i, line in enumerate(new, 1) if i not in keep]
    return "".join(difflib.unified_diff(old, new, fromfile=rel, tofile=rel)), len(keep)


def _mutmut(*args, check=False):
    return subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=ROOT, text=True,
                          capture_output=True, check=check)


def run_target(rel, names, tests, tmp):
    patch, n_lines = _patch(rel, names)
    pfile = tmp / (Path(rel).stem + ".patch")
    pfile.write_text(patch, encoding="utf-8")
    cache = ROOT / ".mutmut-cache"
    cache.unlink(missing_ok=True)
    runner = f"{sys.executable} -m pytest -x -q -p no:cacheprovider " + " ".join(tests)
    t0 = time.perf_counter()
    _mutmut("run", "--paths-to-mutate", rel, "--runner", runner, "--use-patch-file", str(pfile),
            "--no-progress", "--simple-output", "--CI")
    seconds = time.perf_counter() - t0
    ids = {status: [int(i) for i in _mutmut("result-ids", status).stdout.split()]
           for status in ("killed", "survived", "timeout", "suspicious", "skipped", "untested")}
    survivors = [{"id": i, "kind": status, "diff": _mutmut("show", str(i)).stdout.strip()}
                 for status in ("survived", "suspicious", "untested") for i in ids[status]]
    total = sum(len(v) for v in ids.values())
    cache.unlink(missing_ok=True)
    subprocess.run(["git", "checkout", "--", rel], cwd=ROOT, check=True)  # belt and braces
    return {"file": rel, "functions": names, "tests": tests, "lines": n_lines,
            "mutants": total, "counts": {k: len(v) for k, v in ids.items()},
            "survivors": survivors, "seconds": round(seconds, 1)}


def _mutated_line(diff):
    plus = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("+") and not
            ln.startswith("+++")]
    return plus[0] if plus else ""


def _hunk_line(diff):
    """The first changed line's number in the file the mutant was made from."""
    for ln in diff.splitlines():
        if ln.startswith("@@"):
            start = int(ln.split()[1].split(",")[0].lstrip("-"))
            break
    else:
        return None
    body = [ln for ln in diff.splitlines() if ln[:1] in (" ", "-", "+")
            and not ln.startswith(("---", "+++"))]
    for ln in body:
        if ln.startswith(("-", "+")):
            return start
        start += 1
    return None


def _only_a_message(diff, source):
    """True when the mutant only decorates a string literal ("XX...XX") in
    the message of a ``raise`` or a ``warnings.warn`` call: the behaviour
    is the same, and tests that match a message search it (``match=``)."""
    minus = [ln[1:] for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    plus = [ln[1:] for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    if len(minus) != 1 or len(plus) != 1 or plus[0].replace("XX", "") != minus[0].replace(
            "XX", "") or "XX" not in plus[0]:
        return False
    line = _hunk_line(diff)
    if line is None:
        return False
    for node in ast.walk(ast.parse(source)):
        if not (node.lineno <= line <= node.end_lineno if hasattr(node, "lineno") else False):
            continue
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "warn":
            return True
        # the description a checker returns, which a warning or error then prints
        if isinstance(node, ast.FunctionDef) and node.name.endswith("problem"):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Return) and sub.lineno <= line <= sub.end_lineno:
                    return True
    return False


#: Explanations that hold in one file only: ``{(file, mutated line): why}``.
EXPLAINED_IN: dict[tuple, str] = {
    ("sklearn_emotion/datasets/_oasis.py", "for lineno, row in enumerate(rows, start=3):"):
        _REGISTERED,
}


def _explanation(s, source, file=None):
    why = EXPLAINED_IN.get((file, _mutated_line(s["diff"]))) or EXPLAINED.get(
        _mutated_line(s["diff"]))
    if why is None and source is not None and _only_a_message(s["diff"], source):
        why = _MESSAGE
    return why


def recheck(raw):
    """Apply each surviving mutant to today's code (``patch`` with fuzz: the
    code may have moved since the run) and run its target's tests again:
    one the tests now fail on is marked killed (``recheck: killed``)."""
    now = {f: tests for f, _, tests in TARGETS}
    for t in raw:
        path = ROOT / t["file"]
        t["tests"] = now.get(t["file"], t["tests"])  # the tests as they are today
        shown = subprocess.run(["git", "show", f"{t.get('commit', 'HEAD')}:{t['file']}"],
                               cwd=ROOT, capture_output=True, text=True)
        source = shown.stdout if shown.returncode == 0 else None
        # the tests must pass on the code as it is, or every mutant would look killed
        clean = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p",
                                "no:cacheprovider", *t["tests"]], cwd=ROOT, capture_output=True,
                               text=True, timeout=600)
        if clean.returncode != 0:
            print(t["file"], "its tests fail on the unmutated code: not rechecked", flush=True)
            continue
        for s in t["survivors"]:
            if s["kind"] not in ("survived", "untested") or s.get("recheck") == "killed":
                continue
            if _explanation(s, source, t["file"]) is not None:  # explained: not rerun
                continue
            original = path.read_text(encoding="utf-8")
            applied = subprocess.run(["patch", "-p0", "--silent", "--forward", "-r", "-",
                                      "--no-backup-if-mismatch"], cwd=ROOT, input=s["diff"] + "\n",
                                     text=True, capture_output=True)
            if applied.returncode != 0:
                # the code around it moved: apply the one-line change where that line is now
                minus = [ln[1:] for ln in s["diff"].splitlines()
                         if ln.startswith("-") and not ln.startswith("---")]
                plus = [ln[1:] for ln in s["diff"].splitlines()
                        if ln.startswith("+") and not ln.startswith("+++")]
                if len(minus) == 1 and len(plus) <= 1 and original.count(minus[0] + "\n") == 1:
                    path.write_text(original.replace(minus[0] + "\n",
                                                     (plus[0] + "\n") if plus else "", 1),
                                    encoding="utf-8")
                    applied = subprocess.CompletedProcess([], 0)
            try:
                if applied.returncode != 0:
                    s["recheck"] = "did not apply"
                    continue
                run = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q",
                                      "-p", "no:cacheprovider", *t["tests"]], cwd=ROOT,
                                     capture_output=True, text=True, timeout=600)
                s["recheck"] = "killed" if run.returncode != 0 else "survived"
            except subprocess.TimeoutExpired:
                s["recheck"] = "killed"  # a hang is a failure
            finally:
                path.write_text(original, encoding="utf-8")
            print(t["file"], s["id"], s["recheck"], flush=True)
    return raw


def report(raw, command):
    L = ["Mutation check (mutmut 2.5.1): each target's named functions mutated one change at a "
         "time, only its own tests run on each mutant.", "",
         "| file | functions | mutated lines | mutants | killed | killed, slowly | timed out | "
         "survived | seconds | commit |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    def alive(t):
        return [s for s in t["survivors"] if s["kind"] in ("survived", "untested")
                and s.get("recheck") != "killed"]

    unexplained = 0
    for t in raw:
        c = t["counts"]
        later = sum(s.get("recheck") == "killed" for s in t["survivors"])
        L.append(f"| `{t['file']}` | {', '.join(t['functions'])} | {t['lines']} | "
                 f"{t['mutants']} | {c['killed'] + later} | {c['suspicious']} | {c['timeout']} | "
                 f"{len(alive(t))} | {t['seconds']:.0f} | {t.get('commit', '')} |")
    L += ["", "\"Killed, slowly\": the tests failed on the mutant but took over twice their "
          "time without it (mutmut's \"suspicious\"; two targets ran at once). \"Killed\" "
          "counts the mutants the run killed and those a test added after it kills "
          "(`--recheck` applies each survivor to today's code and runs its target's tests "
          "again)."]
    for t in raw:
        if not alive(t):
            continue
        # the file as the mutants were made from it (the hunks' line numbers are its)
        shown = subprocess.run(["git", "show", f"{t.get('commit', 'HEAD')}:{t['file']}"],
                               cwd=ROOT, capture_output=True, text=True)
        source = shown.stdout if shown.returncode == 0 else None
        L += ["", f"### Survivors in `{t['file']}`", ""]
        for s in alive(t):
            why = _explanation(s, source, t["file"])
            if why is None:
                unexplained += 1
                why = "**not explained**"
            L += [f"- mutant {s['id']} ({s['kind']}): {why}", "", "```diff", s["diff"], "```", ""]
    L.insert(1, f"\nSurvivors not explained: **{unexplained}**.")
    write("mutation", command, {"targets": raw}, "\n".join(L))


def _raw_path(rel):
    return RAW / (rel.replace("sklearn_emotion/", "").replace("/", "__") + ".json")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--recheck", action="store_true",
                    help="apply each survivor to today's code and run its tests again")
    ap.add_argument("--only", nargs="+", default=None,
                    help="run only the targets whose file ends with one of these")
    args = ap.parse_args(argv)
    command = "python -m benchmarks.mutation_check"
    targets = [t for t in TARGETS if args.only is None or t[0].endswith(tuple(args.only))]
    if not (args.report_only or args.recheck):
        if subprocess.run(["git", "diff", "--quiet", "--", "sklearn_emotion"],
                          cwd=ROOT).returncode:
            sys.exit("commit or stash the package's changes first: mutmut edits its files in "
                     "place")
        import tempfile

        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                                capture_output=True).stdout.strip()
        RAW.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            for f, n, t in targets:
                result = run_target(f, n, t, Path(tmp))
                result["commit"] = commit
                _raw_path(f).write_text(json.dumps(result, indent=1))
    raw = [json.loads(_raw_path(f).read_text()) for f, _, _ in TARGETS if _raw_path(f).exists()]
    if args.recheck:
        for t in recheck([t for t in raw if args.only is None
                          or t["file"].endswith(tuple(args.only))]):
            _raw_path(t["file"]).write_text(json.dumps(t, indent=1))
    report(raw, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())

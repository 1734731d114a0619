"""The paper's protocol on a rated image set: folds, Tables II-IV, a nested-CV
best model, plots.

- :mod:`._protocol`: which models run on which feature sets, for which table;
- :mod:`._evaluation`: cross-validated scores of one model on one feature
  matrix, each fold a task;
- :mod:`._engine`: where the tasks run (this machine, or a Dask cluster);
- :mod:`._report`: tables, per-fold numbers, JSON and plots;
- :mod:`._run`: :func:`run_reproduction`, which ties them together;
- :mod:`._cross`: :func:`run_cross_set`, fit on one set and test on another.
"""

from ._cross import CROSS_RUNS, run_cross_set
from ._engine import Engine, Task
from ._evaluation import Result, evaluate, nested_best, scores, subset_indices, transfer
from ._protocol import BEST_CANDIDATES, CLIP, FEATURE_SETS, PAPER_FFNN, TUNED_FFNN, Run, make_plan
from ._report import Report, write_report
from ._run import compute_features, load_dataset, run_reproduction

__all__ = [
    "BEST_CANDIDATES", "CLIP", "CROSS_RUNS", "Engine", "FEATURE_SETS", "PAPER_FFNN", "TUNED_FFNN",
    "Report", "Result", "Task",
    "Run", "compute_features", "evaluate", "load_dataset", "make_plan", "nested_best",
    "run_cross_set", "run_reproduction", "scores", "subset_indices", "transfer", "write_report",
]

"""Where the reproduction's fits run: tasks, and the engine that places them.

The science (:mod:`._evaluation`) describes each cross-validation fold of each
model as a :class:`Task` (a function and its arguments) and never says where
it runs.  :class:`Engine` runs them:

- **on this machine** (``scheduler=None``, the default), as the reproduction
  always has: a task that trains a Keras network runs in one worker process
  (:func:`in_worker`), the others on joblib threads (``n_jobs``), and the
  worker is stopped between stages, so that TensorFlow's memory leaves with
  it (see :func:`in_worker`);
- **on a Dask cluster** (``scheduler="local:N"`` starts a ``LocalCluster`` of
  N single-threaded worker processes; any other string is a scheduler's
  address): every task of every stage is submitted at once through joblib's
  Dask backend, and they run wherever the cluster puts them.

Either way each task reports when it started and ended, on which worker, and
that worker's peak memory so far (:func:`run_task`); the numbers a task
computes do not depend on where it ran (``tests/test_reproduce.py``).
"""

from __future__ import annotations

import functools
import os
import socket
import time
import warnings
from dataclasses import dataclass, field

import joblib

from .._config import with_config

__all__ = ["Engine", "Task", "in_worker", "peak_rss_mib", "run_task", "shutdown_workers",
           "stop_joblib_workers", "stopping_workers", "trim_heap"]


@dataclass
class Task:
    """One unit of work: ``fn(*args)``, named by ``name`` (any hashable).

    ``uses_tensorflow``: it trains a Keras network (on this machine it then
    runs in the worker process of :func:`in_worker`).  ``info`` is copied
    into the task's record (row, fold, ...).
    """

    name: object
    fn: object
    args: tuple
    uses_tensorflow: bool = False
    info: dict = field(default_factory=dict)


def peak_rss_mib():
    """This process's peak resident memory so far (Linux ``VmHWM``; elsewhere
    ``ru_maxrss``), in MiB; None when neither is available."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import resource
        import sys

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024
    except (ImportError, OSError):
        return None


def run_task(task):
    """``(result, record)`` of a task, wherever it runs.

    ``record``: ``start`` and ``end`` (Unix time), ``worker``
    (``host:pid``) and ``peak_rss_mib`` (the worker process's peak resident
    memory so far, not the task's alone: a process's peak cannot be reset).
    """
    start = time.time()
    result = task.fn(*task.args)
    return result, {**task.info, "start": start, "end": time.time(),
                    "worker": f"{socket.gethostname()}:{os.getpid()}",
                    "peak_rss_mib": peak_rss_mib()}


# ------------------------------------------------- this machine's worker
_EXECUTOR: list = []
#: loky's warning when it starts a new worker with jobs pending.
_WORKER_REPLACED = "A worker stopped while some jobs were given to the executor"


def in_worker(fn, *args):
    """``fn(*args)`` in the run's worker process: for work that runs
    TensorFlow (fitting Keras networks, the CNN feature families).

    TensorFlow does not give back what it allocated: about 110 MB of every
    Adam-trained network of the paper's size stays after the network is
    deleted (``clear_session`` does not free it; tensorflow/tensorflow#61791,
    keras-team/keras#20552), and a process that has run the feature networks
    keeps about 1 GB after they are gone (measured: ``gc``, ``clear_session``
    and ``malloc_trim`` return 5 %).  A reproduction's 100-odd fits in one
    process would hold several GB.  The worker is joblib's loky executor,
    which replaces a worker whose memory has grown by 300 MB since its first
    task (it measures with psutil): the memory of the run stays flat, the
    numbers are the same, and the main process never imports TensorFlow.
    Call :func:`shutdown_workers` when done, or to drop the worker's memory
    before a stage that does not need it.  The caller's settings
    (:func:`sklearn_emotion.config_context`) travel with ``fn``.
    """
    if not _EXECUTOR:
        # a private executor, not loky's process-wide reusable one: joblib's
        # own loky backend (the feature families' image-level parallelism)
        # takes that one over and fails on an executor it did not create
        from joblib.externals.loky import ProcessPoolExecutor

        _EXECUTOR.append(ProcessPoolExecutor(max_workers=1, timeout=600))
    return _EXECUTOR[0].submit(with_config(fn), *args).result()


def stopping_workers(run):
    """Decorate a run (reproduction, cross-set) so that the worker of
    :func:`in_worker` stops when it ends, however it ends."""

    @functools.wraps(run)
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings():
            # loky's notice when it replaces the worker whose memory grew by
            # 300 MB (see in_worker): deliberate here, not a fault
            warnings.filterwarnings("ignore", message=_WORKER_REPLACED, category=UserWarning)
            try:
                return run(*args, **kwargs)
            finally:
                shutdown_workers()

    return wrapper


def shutdown_workers():
    """Stop the worker process of :func:`in_worker`, if one was started:
    before the caller's stderr filter closes (the worker writes to it), and so
    that its peak memory is counted in ``RUSAGE_CHILDREN``."""
    while _EXECUTOR:
        _EXECUTOR.pop().shutdown(wait=True)


def stop_joblib_workers():
    """Stop joblib's reusable loky workers now rather than after their 300 s
    idle timeout (joblib keeps them for the next ``Parallel`` call).

    The feature families' image-level parallelism leaves two of them, about
    180-250 MiB each, which would otherwise sit beside the CNN rows' fit
    worker.  A later ``Parallel`` call starts new ones.
    """
    from joblib.externals.loky import get_reusable_executor

    # starts no worker when none is running: loky spawns them on submit
    get_reusable_executor().shutdown(wait=True)


def trim_heap():
    """Give the C heap's free memory back to the system (glibc's
    ``malloc_trim``; nothing elsewhere).

    glibc gives each thread that allocates its own arena and keeps what is
    freed in it for reuse: after the SVR folds and the nested grid search
    ran on joblib threads, the main process of a full run held 746 MiB, 516
    of them in such arenas (measured when the CNN rows came after them).
    The reproduction fits the CNN rows first and calls this before them,
    after the features.  Returns whether the call was made.
    """
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library this process runs on
    except (OSError, AttributeError, TypeError):
        return False
    trim(0)
    return True


# ----------------------------------------------------------------- engine
class Engine:
    """Runs stages of :class:`Task` on this machine or on a Dask cluster.

    Parameters
    ----------
    scheduler : str, optional
        None: this machine (see the module docstring).  ``"local:N"``: a
        ``distributed.LocalCluster`` of N single-threaded worker processes,
        started and stopped with the engine.  Anything else: the address of
        a running Dask scheduler (``tcp://host:8786``).
    n_jobs : int, optional
        On this machine, the threads that run tasks without a network.

    Use it as a context manager (``with Engine(...) as engine``): a cluster
    and its client are closed, and this machine's worker stopped, at the end.
    """

    def __init__(self, scheduler=None, n_jobs=None):
        self.scheduler = scheduler
        self.n_jobs = n_jobs
        self._client = self._cluster = None

    def __enter__(self):
        if self.scheduler is not None:
            from distributed import Client, LocalCluster

            s = str(self.scheduler)
            if s.startswith("local:"):
                try:
                    n = int(s.split(":", 1)[1])
                except ValueError:
                    n = 0
                if n < 1:
                    raise ValueError(f"scheduler {s!r}: expected 'local:N' with N >= 1 workers")
                self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                             dashboard_address=None)
                self._client = Client(self._cluster)
            else:
                self._client = Client(s)
        return self

    def __exit__(self, *exc):
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None
        shutdown_workers()

    @property
    def workers(self):
        """How many tasks a cluster runs at once (its worker threads); None
        on this machine."""
        if self._client is None:
            return None
        return sum(self._client.nthreads().values())

    def run(self, stages, *, stop_between=True):
        """Run every task of ``stages`` (lists of tasks); yield ``(task,
        result, record)`` as each finishes.

        On this machine the stages run in order, the network tasks of each
        one at a time in the worker and the others on ``n_jobs`` threads,
        and the worker is stopped after each stage (``stop_between``).  On
        a cluster every task is submitted at once.
        """
        stages = [list(s) for s in stages]
        if self._client is None:
            for k, tasks in enumerate(stages):
                yield from self._run_here(tasks)
                if stop_between and k < len(stages) - 1:
                    shutdown_workers()
            return
        tasks = [t for s in stages for t in s]
        if not tasks:
            return
        fn = with_config(_run_numbered)
        with joblib.parallel_config(backend="dask", client=self._client):
            done = joblib.Parallel(n_jobs=-1, return_as="generator_unordered")(
                joblib.delayed(fn)(i, t) for i, t in enumerate(tasks))
            for i, result, record in done:
                yield tasks[i], result, record

    def _run_here(self, tasks):
        light = [t for t in tasks if not t.uses_tensorflow]
        for t in tasks:
            if t.uses_tensorflow:
                yield (t, *in_worker(run_task, t))
        if len(light) > 1 and joblib.effective_n_jobs(self.n_jobs) > 1:
            # threads: libsvm's fit and LAPACK release the GIL, the data is
            # shared rather than copied, and the fit worker is untouched
            fn = with_config(run_task)
            done = joblib.Parallel(n_jobs=self.n_jobs, prefer="threads", return_as="generator")(
                joblib.delayed(fn)(t) for t in light)
            for t, (result, record) in zip(light, done):
                yield t, result, record
        else:
            for t in light:
                yield (t, *run_task(t))


def _run_numbered(i, task):
    return (i, *run_task(task))

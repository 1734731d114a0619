"""Where the reproduction's fits run: tasks, and the engine that places them.

The science (:mod:`._evaluation`) describes each cross-validation fold of each
model as a :class:`Task` (a function and its arguments) and never says where
it runs.  :class:`Engine` runs them:

- **on this machine** (``scheduler=None``, the default), every task in a
  worker process, never in the caller's: a task that trains a Keras network
  in the engine's network worker (one loky process, so one network's memory
  at a time), which loky replaces once TensorFlow's per-network leak has grown
  it by 300 MB and the engine stops at the end of each stage; the others on
  ``n_jobs`` processes of joblib's loky backend, which exit once idle.  So no
  process outlives the work that grew it, and the caller's process (which
  never imports TensorFlow) stays as small as it was after the features,
  whatever order the rows come in;
- **on a Dask cluster** (``scheduler="local:N"`` starts a ``LocalCluster`` of
  N single-threaded worker processes; any other string is a scheduler's
  address): every task of every stage is submitted at once through joblib's
  Dask backend, and they run wherever the cluster puts them;
- **on Ray** (``scheduler="ray:N"`` starts Ray on this machine with N CPUs,
  ``"ray://host:10001"`` connects to a cluster): every task of a stage is
  submitted at once through Ray's joblib backend, which has no generator
  mode, so a stage's results (and checkpoints) arrive when the whole stage
  is done.

Either way each task reports when it started and ended, on which worker, and
that worker's peak memory so far (:func:`run_task`); the numbers a task
computes do not depend on where it ran (``tests/test_reproduce.py``).
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from dataclasses import dataclass, field

import joblib

from .._config import with_config

__all__ = ["Engine", "Task", "peak_rss_mib", "run_task"]


@dataclass
class Task:
    """One unit of work: ``fn(*args)``, named by ``name`` (any hashable).

    ``uses_tensorflow``: it trains a Keras network (on this machine it then
    runs in the engine's network worker).  ``info`` is copied
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


# ------------------------------------------------- this machine's workers
#: loky's warning when it starts a new worker with jobs pending.
_WORKER_REPLACED = "A worker stopped while some jobs were given to the executor"
#: Seconds an idle worker of joblib's loky backend lives (joblib's default is
#: 300): the light tasks' workers exit soon after their stage.
IDLE_WORKER_TIMEOUT = 10


def _network_worker():
    """A loky executor of one process: where a network is fitted.

    TensorFlow does not give back what it allocated: about 110 MB of every
    Adam-trained network of the paper's size stays after the network is
    deleted (``clear_session`` does not free it; tensorflow/tensorflow#61791,
    keras-team/keras#20552), and a process that has run the feature networks
    keeps about 1 GB after they are gone.  loky replaces its worker once the
    worker's memory has grown by 300 MB since its first task (it measures
    with psutil), so a stage's many fits stay flat; the engine stops it after
    each stage.  A private executor, not loky's process-wide reusable one:
    joblib's loky backend (the light tasks, the families' image-level
    parallelism) resizes that one to its own ``n_jobs``.
    """
    from joblib.externals.loky import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=1, timeout=600)


# ----------------------------------------------------------------- engine
class Engine:
    """Runs stages of :class:`Task` on this machine or on a Dask cluster.

    Parameters
    ----------
    scheduler : str, optional
        None: this machine (see the module docstring).  ``"local:N"``: a
        ``distributed.LocalCluster`` of N single-threaded worker processes,
        started and stopped with the engine.  ``"ray:N"``: Ray on this
        machine with N CPUs, started and stopped with the engine;
        ``"ray://host:port"``: a running Ray cluster (the ``[ray]`` extra).
        Anything else: the address of a running Dask scheduler
        (``tcp://host:8786``, the ``[dask]`` extra).
    n_jobs : int, optional
        On this machine, the worker processes that run tasks without a
        network (joblib's ``n_jobs``: None means 1 unless in a
        ``joblib.parallel_config``).

    Use it as a context manager (``with Engine(...) as engine``): the
    network worker, a cluster and its client are stopped at the end, however
    it ends.  loky's notice that it replaced the network worker (deliberate,
    see :func:`_network_worker`) is silenced meanwhile.
    """

    def __init__(self, scheduler=None, n_jobs=None):
        self.scheduler = scheduler
        self.n_jobs = n_jobs
        self._client = self._cluster = self._worker = None
        self._ray = False
        self._warnings = None

    def __enter__(self):
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.filterwarnings("ignore", message=_WORKER_REPLACED, category=UserWarning)
        s = None if self.scheduler is None else str(self.scheduler)
        if s is not None and (s.startswith("ray:") or s == "ray"):
            self._start_ray(s)
        elif s is not None:
            from distributed import Client, LocalCluster

            if s.startswith("local:"):
                try:
                    n = int(s.split(":", 1)[1])
                except ValueError:
                    n = 0
                if n < 1:
                    self.__exit__(None, None, None)
                    raise ValueError(f"scheduler {s!r}: expected 'local:N' with N >= 1 workers")
                self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                             dashboard_address=None)
                self._client = Client(self._cluster)
            else:
                self._client = Client(s)
        return self

    def __exit__(self, *exc):
        try:
            if self._client is not None:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
            self._client = self._cluster = None
            if self._ray:
                import ray

                ray.shutdown()
                self._ray = False
            # ended by an error or an interrupt: do not wait for a fit to finish
            self.recycle(kill=exc[0] is not None)
        finally:
            if self._warnings is not None:
                self._warnings.__exit__(*exc)
                self._warnings = None

    @property
    def workers(self):
        """How many tasks a cluster runs at once (its worker threads); None
        on this machine."""
        if self._ray:
            import ray

            return int(ray.cluster_resources().get("CPU", 0))
        if self._client is None:
            return None
        return sum(self._client.nthreads().values())

    def _start_ray(self, s):
        import ray
        from ray.util.joblib import register_ray

        if s.startswith("ray://"):
            ray.init(address=s, log_to_driver=False)
        else:
            try:
                n = int(s.split(":", 1)[1])
            except (IndexError, ValueError):
                n = 0
            if n < 1:
                self.__exit__(None, None, None)
                raise ValueError(f"scheduler {s!r}: expected 'ray:N' with N >= 1 CPUs, "
                                 "or 'ray://host:port'")
            ray.init(num_cpus=n, include_dashboard=False, log_to_driver=False)
        register_ray()
        self._ray = True

    def _cluster_config(self):
        """joblib's configuration for this engine's cluster."""
        if self._ray:
            return joblib.parallel_config(backend="ray")
        return joblib.parallel_config(backend="dask", client=self._client)

    def call(self, fn, *args):
        """``fn(*args)`` where networks run: on this machine in the network
        worker (for work that runs TensorFlow: the feature networks, a
        transfer fit); on a cluster, on one of its workers.  The caller's
        settings (:func:`sklearn_emotion.config_context`) travel with it."""
        if self._client is not None or self._ray:
            with self._cluster_config():
                return joblib.Parallel(n_jobs=-1)([joblib.delayed(with_config(fn))(*args)])[0]
        if self._worker is None:
            self._worker = _network_worker()
        return self._worker.submit(with_config(fn), *args).result()

    def processes(self):
        """A context in which joblib's loky backend (the default) keeps its
        idle workers :data:`IDLE_WORKER_TIMEOUT` seconds instead of 300: for
        the light tasks and the families' image-level parallelism, so that
        no idle worker sits beside the next stage's network.  Another
        backend chosen with ``joblib.parallel_config`` is left as it is."""
        from contextlib import nullcontext

        from joblib.parallel import LokyBackend, get_active_backend

        if not isinstance(get_active_backend()[0], LokyBackend):
            return nullcontext()
        return joblib.parallel_config(backend="loky", idle_worker_timeout=IDLE_WORKER_TIMEOUT)

    def recycle(self, kill=False):
        """Stop this machine's network worker, if one is running: its memory
        leaves with it (and is counted in ``RUSAGE_CHILDREN``).  The next
        network task starts a fresh one.  ``kill``: end it now, even in the
        middle of a task, rather than after its task."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown(wait=True, kill_workers=kill)

    def run(self, stages, *, stop_between=True):
        """Run every task of ``stages`` (lists of tasks); yield ``(task,
        result, record)`` as each finishes.

        On this machine the stages run in order: the network tasks of each
        one at a time in the network worker, which is then stopped
        (``stop_between``), and the others on ``n_jobs`` loky processes.  On
        a cluster every task is submitted at once.
        """
        stages = [list(s) for s in stages]
        if self._client is None and not self._ray:
            for tasks in stages:
                yield from self._run_here(tasks, stop_between)
            return
        fn = with_config(_run_numbered)
        # Dask: everything at once, as it finishes; Ray (no generator mode):
        # a stage at a time, when it is done
        for tasks in ([t for s in stages for t in s],) if not self._ray else stages:
            if not tasks:
                continue
            with self._cluster_config():
                done = joblib.Parallel(
                    n_jobs=-1, return_as="list" if self._ray else "generator_unordered")(
                    joblib.delayed(fn)(i, t) for i, t in enumerate(tasks))
                for i, result, record in done:
                    yield tasks[i], result, record

    def _run_here(self, tasks, stop_after_networks):
        for t in tasks:
            if t.uses_tensorflow:
                yield (t, *self.call(run_task, t))
        if stop_after_networks:
            self.recycle()
        light = [t for t in tasks if not t.uses_tensorflow]
        if not light:
            return
        # loky processes, not threads: the caller's heap does not grow with
        # the fits (glibc keeps each thread's freed arenas), and the workers
        # exit once idle, so nothing they allocated outlives the stage
        fn = with_config(_run_numbered)
        with self.processes():
            done = joblib.Parallel(n_jobs=self.n_jobs, return_as="generator_unordered")(
                joblib.delayed(fn)(i, t) for i, t in enumerate(light))
            for i, result, record in done:
                yield light[i], result, record


def _run_numbered(i, task):
    return (i, *run_task(task))

"""Claims: which process is computing what, and whether it still can.

A worker about to compute a missing entry first *claims* it (creates
``<key>.claim`` exclusively, holding :func:`process_owner`: its host,
process id and the process's start time); another worker meeting the same
image computes its other images first and then waits for the entry instead
of computing it again.  A claim older than :func:`claim_timeout` seconds
(its worker died) is taken over; so is, at once, a claim whose holder on
this machine has exited, is a zombie or is another process under a reused
id (:func:`holder_gone`), and, after two seconds, an empty or malformed
claim; a worker that waited the timeout computes the image itself, and a
wait of more than a few seconds says so.  ``data fetch``'s scratch folders
name their process the same way.
"""

from __future__ import annotations

import os
import socket

__all__ = ["claim_timeout", "holder_gone", "process_owner"]


def claim_timeout() -> float:
    """Seconds after which another worker's claim on an entry is considered
    abandoned (its worker died) and is taken over; also the longest a worker
    waits for an entry another worker claimed: the ``claim_timeout`` of
    :func:`sklearn_emotion.get_config` (default 600, or
    ``$SKLEARN_EMOTION_CLAIM_TIMEOUT``)."""
    from ._config import get_config

    return get_config()["claim_timeout"]


def _start_time(pid):
    """A process's start time as the kernel records it (psutil), or None."""
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


def _owner(token=""):
    """What a claim says of its holder: host, process id, the process's
    start time (a reused process id is another process) and ``token``."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)!r}:{token}"


def _dead_here(holder):
    """True when a claim's ``holder`` cannot be a live worker of this machine.

    That is: a malformed claim (empty, not written by this package), or one
    naming a process of this machine that has exited, that is a zombie
    (killed, not yet reaped by its parent: it still answers ``kill(pid, 0)``)
    or that started at another time than the claim records (its process id
    was reused).  A claim of another machine cannot be checked from here:
    False (its age decides, :func:`claim_timeout`)."""
    import psutil

    parts = holder.split(":", 3)
    if len(parts) < 3 or not parts[1].isdigit():
        return True
    # host:pid:start:token; an older version wrote host:pid:token
    host, pid, started = parts[0], int(parts[1]), parts[2] if len(parts) == 4 else ""
    if host != socket.gethostname():
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return True
        now = proc.create_time()
    except psutil.NoSuchProcess:
        return True
    except (psutil.Error, OSError):  # exists, but cannot be inspected (another user's)
        return False
    try:
        return abs(float(started) - now) > 0.01
    except ValueError:  # no start time recorded: the process id alone decides
        return False


def process_owner(token=""):
    """What a claim (or a fetch's scratch folder) says of the process that
    made it: host, process id, the process's start time and ``token``."""
    return _owner(token)


def holder_gone(holder):
    """Whether the process a :func:`process_owner` string names cannot be
    alive on this machine (exited, a zombie, or its id reused)."""
    return _dead_here(holder)

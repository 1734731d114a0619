"""Keep native (C++) log noise of TensorFlow, absl and LiteRT out of the output.

TensorFlow prints "Could not find cuda drivers", "failed call to cuInit",
oneDNN and CPU-feature notices, and LiteRT "Created TensorFlow Lite XNNPACK
delegate" straight to file descriptor 2, from C++, whatever Python's logging
says.  :func:`quiet_native_logs` points descriptor 2 at a pipe whose reader
drops exactly those lines and passes every other line through; Python's own
``sys.stderr`` (progress bars, warnings, error messages) keeps writing to the
real terminal directly.  The CLI uses it unless ``--verbose`` is given.

In Python (a script, a notebook, a test), the package never swaps
``sys.stderr``.  Instead every place that starts native code which prints,
``import tensorflow`` / ``import keras`` with TensorFlow's device start-up,
and building a LiteRT interpreter, runs inside :func:`filtered_stderr`, which
filters descriptor 2 only for that moment; ``TF_CPP_MIN_LOG_LEVEL`` defaults
to 2 (warnings and below hidden, errors shown) for what TensorFlow logs
later.  Set ``SKLEARN_EMOTION_VERBOSE=1`` to see every native line.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import threading

__all__ = ["NOISE", "VERBOSE_ENV", "filtered_stderr", "import_keras", "import_tensorflow",
           "quiet_native_logs"]

#: Set to 1 to let every native TensorFlow, absl and LiteRT line through.
VERBOSE_ENV = "SKLEARN_EMOTION_VERBOSE"


def _verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no")

#: Lines dropped: absl/TF log records (``I0000 00:00:...``, ``W...``,
#: ``E...``; before absl is initialised the time field is seconds since the
#: epoch, ``00:00:1795993906.530677``), absl's pre-init banner, LiteRT's delegate notice, and TF's
#: start-up notices.
NOISE = re.compile(
    r"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]"
    r"|WARNING: All log messages before absl::InitializeLog\(\)"
    r"|INFO: Created TensorFlow Lite"
    r"|.*oneDNN custom operations are on"
    r"|.*This TensorFlow binary is optimized to use available CPU instructions"
    r"|To enable the following instructions:.*rebuild TensorFlow"
    r"|.*TF-TRT Warning)"
)


def _pump(read_fd, out_fd):
    with io.open(read_fd, "rb", closefd=True) as r:
        for raw in r:
            line = raw.decode("utf-8", "replace")
            if not NOISE.match(line):
                os.write(out_fd, raw)


@contextlib.contextmanager
def quiet_native_logs(enabled: bool = True):
    """Filter TensorFlow/absl/LiteRT start-up noise from descriptor 2.

    Parameters
    ----------
    enabled : bool, default=True
        False leaves everything as it is (the CLI's ``--verbose``).
    """
    if not enabled:
        yield
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        sys.stderr.flush()
        err_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. captured in tests)
        yield
        return
    saved = os.dup(err_fd)
    read_fd, write_fd = os.pipe()
    reader = threading.Thread(target=_pump, args=(read_fd, saved), daemon=True)
    reader.start()
    old_stderr = sys.stderr
    # Python's writes go straight to the terminal; native writes to fd 2 go
    # through the filter
    sys.stderr = io.TextIOWrapper(io.FileIO(os.dup(saved), "w"), encoding=old_stderr.encoding
                                  or "utf-8", errors="backslashreplace", line_buffering=True,
                                  write_through=True)
    os.dup2(write_fd, err_fd)
    os.close(write_fd)
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
        finally:
            os.dup2(saved, err_fd)  # closes the pipe's last writer: the reader ends
            reader.join(timeout=5)
            sys.stderr.close()
            sys.stderr = old_stderr
            os.close(saved)


_fd2_lock = threading.Lock()
_fd2_state = {"depth": 0, "saved": None, "reader": None}


@contextlib.contextmanager
def filtered_stderr():
    """Drop :data:`NOISE` lines written to descriptor 2 while the block runs.

    Every other line, Python's included, passes through to the real standard
    error (the filter thread is joined on exit, so nothing is lost or
    reordered).  Re-entrant and thread-safe: the first block to enter installs
    the filter, the last to leave removes it.  A no-op with
    ``SKLEARN_EMOTION_VERBOSE=1`` or when descriptor 2 is closed.
    """
    if _verbose():
        yield
        return
    with _fd2_lock:
        if _fd2_state["depth"] == 0:
            try:
                sys.stderr.flush()
            except (AttributeError, OSError, ValueError):
                pass
            try:
                saved = os.dup(2)
            except OSError:  # no descriptor 2 at all
                saved = None
            if saved is not None:
                read_fd, write_fd = os.pipe()
                reader = threading.Thread(target=_pump, args=(read_fd, saved), daemon=True)
                reader.start()
                os.dup2(write_fd, 2)
                os.close(write_fd)
                _fd2_state.update(saved=saved, reader=reader)
        _fd2_state["depth"] += 1
    try:
        yield
    finally:
        with _fd2_lock:
            _fd2_state["depth"] -= 1
            if _fd2_state["depth"] == 0 and _fd2_state["saved"] is not None:
                try:
                    sys.stderr.flush()
                except (AttributeError, OSError, ValueError):
                    pass
                saved, reader = _fd2_state["saved"], _fd2_state["reader"]
                os.dup2(saved, 2)  # closes the pipe's last writer: the reader ends
                reader.join(timeout=10)
                os.close(saved)
                _fd2_state.update(saved=None, reader=None)


def import_tensorflow():
    """``import tensorflow`` and its device start-up, without their native noise.

    TensorFlow prints its start-up notices (and, on a machine without a GPU,
    "failed call to cuInit") from C++ before its log level applies; listing
    the devices here makes that happen inside the filter.  It changes no
    placement: TensorFlow still uses a GPU when one is present.
    """
    if not _verbose():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules and _fd2_state.get("tf_ready"):
        return sys.modules["tensorflow"]
    with filtered_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()
    _fd2_state["tf_ready"] = True
    return tf


def import_keras():
    """``import keras`` (on TensorFlow) without native start-up noise."""
    import_tensorflow()
    with filtered_stderr():
        import keras
    return keras

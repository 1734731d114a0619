"""Keep native (C++) log noise of TensorFlow, absl and LiteRT out of the CLI's output.

TensorFlow prints "Could not find cuda drivers", "failed call to cuInit",
oneDNN and CPU-feature notices, and LiteRT "Created TensorFlow Lite XNNPACK
delegate" straight to file descriptor 2, from C++, whatever Python's logging
says.  :func:`quiet_native_logs` points descriptor 2 at a pipe whose reader
drops exactly those lines and passes every other line through; Python's own
``sys.stderr`` (progress bars, warnings, error messages) keeps writing to the
real terminal directly.  The CLI uses it unless ``--verbose`` is given.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import threading

__all__ = ["NOISE", "quiet_native_logs"]

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

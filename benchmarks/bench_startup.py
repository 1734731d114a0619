"""How fast the command line answers: seconds to its first byte of output and
to exit, each command a fresh process (median of 3), and whether any native
log line (TensorFlow, absl, LiteRT) got through the filter.

Run: SKLEARN_EMOTION_DATA=../shared python -m benchmarks.bench_startup
"""

import os
import select
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks._common import emotion6_subset, write


def first_output(cmd, env):
    """(seconds to the first byte on stdout or stderr, seconds to exit, stderr)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first, err = None, b""
    streams = [p.stdout, p.stderr]
    while streams:
        ready, _, _ = select.select(streams, [], [], 0.01)
        for s in ready:
            chunk = os.read(s.fileno(), 65536)
            if not chunk:
                streams.remove(s)
                continue
            if first is None:
                first = time.perf_counter() - t0
            if s is p.stderr:
                err += chunk
    p.wait()
    return first, time.perf_counter() - t0, err.decode("utf-8", "replace")


def main():
    from sklearn_emotion._quiet import NOISE

    env = dict(os.environ)
    exe = [sys.executable, "-m", "sklearn_emotion"]
    images = [str(p) for p in emotion6_subset(20)]
    out = tempfile.mkdtemp()
    commands = {
        "--version": exe + ["--version"],
        "predict --help": exe + ["predict", "--help"],
        "predict 1 image (pretrained model)": exe + ["predict", images[0], "--output",
                                                     f"{out}/a.csv"],
        "predict 20 images (pretrained model)": exe + ["predict", *images, "--output",
                                                       f"{out}/b.csv"],
    }
    rows = {}
    for name, cmd in commands.items():
        runs = [first_output(cmd, env) for _ in range(3)]
        noise = sorted({line for *_, err in runs for line in err.splitlines()
                        if NOISE.match(line)})
        rows[name] = {"first_output_s": statistics.median(r[0] for r in runs),
                      "exit_s": statistics.median(r[1] for r in runs), "native_noise": noise}
    md = ["Each command a fresh process, median of 3; first output = first byte on stdout or "
          "stderr (a progress bar counts). Native log lines that got through the filter are "
          "listed (none expected).", "",
          "| command | first output (s) | exit (s) | native log lines shown |", "|---|---|---|---|"]
    for name, r in rows.items():
        md.append(f"| `sklearn-emotion {name}` | {r['first_output_s']:.2f} | {r['exit_s']:.2f} | "
                  f"{len(r['native_noise'])} |")
    write("startup", "SKLEARN_EMOTION_DATA=../shared python -m benchmarks.bench_startup",
          {"commands": rows}, "\n".join(md))


if __name__ == "__main__":
    main()

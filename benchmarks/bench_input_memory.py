"""Peak memory of the input path: one huge image, and `predict` over many images.

1. A 9000 x 9000 PNG (81 megapixels, a few hundred KB on disk, just under the
   pixel limit) through `ColorFeatures` and through `sklearn-emotion predict`,
   at the default working resolution and, side by side in the same run, with
   the working resolution lifted above the image (the behaviour before
   images were decoded at a bounded resolution).
2. `sklearn-emotion predict` (the pretrained model) over 200, 2,000 and
   10,000 images (Emotion6 and OASIS photos, repeated to reach 10,000): peak
   RSS should not grow with the number of images.

Each measurement runs in a fresh process; peak RSS is that process's
``VmHWM`` (not ``ru_maxrss``, which Linux carries over from the parent across
fork and exec).  A fresh process that only imports the package is measured
too, as the floor.

Run: SKLEARN_EMOTION_DATA=../shared python -m benchmarks.bench_input_memory
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import write

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
what = sys.argv[1]
if what == "import":
    import sklearn_emotion  # noqa
elif what == "color":
    from sklearn_emotion import ColorFeatures
    ColorFeatures().fit_transform([sys.argv[2]])
elif what == "predict":
    from sklearn_emotion.cli import main
    rc = main(["predict", "--quiet", "--output", sys.argv[2], "--batch-size", "32",
               *sys.argv[3:]])
    assert rc == 0, rc
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across
# fork and exec, so a child of a big parent would report the parent's peak
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
print(json.dumps({"peak_mib": int(hwm.split()[1]) / 1024, "seconds": time.perf_counter() - t0}))
"""


MAKE_PNG = r"""
import sys
import numpy as np
from PIL import Image
rng = np.random.default_rng(0)
# a smooth gradient with a little noise: compresses to a small file, like the issue's
yy, xx = np.mgrid[0:9000, 0:9000].astype(np.int32)
arr = np.stack([(xx // 36) % 256, (yy // 36) % 256, ((xx + yy) // 72) % 256], -1).astype(np.uint8)
arr[::97, ::89] = rng.integers(0, 256, arr[::97, ::89].shape, dtype=np.uint8)
Image.fromarray(arr).save(sys.argv[1])
"""


def child(args, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    out = subprocess.run([sys.executable, "-c", CHILD, *args], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    from sklearn_emotion.datasets import load_emotion6, load_oasis

    tmp = Path(tempfile.mkdtemp())
    big = tmp / "big.png"
    # made in a child, so this process stays small
    subprocess.run([sys.executable, "-c", MAKE_PNG, str(big)], check=True)
    size_kb = big.stat().st_size / 1024
    lifted = {"SKLEARN_EMOTION_WORKING_PIXELS": str(100_000_000)}
    rows = {"import only": child(["import"])}
    rows["ColorFeatures, 9000x9000 PNG, working resolution 4.2 MP (default)"] = child(["color", str(big)])
    rows["ColorFeatures, 9000x9000 PNG, working resolution lifted (full size)"] = child(
        ["color", str(big)], lifted)
    rows["predict, 9000x9000 PNG, default"] = child(["predict", str(tmp / "p.csv"), str(big)])
    rows["predict, 9000x9000 PNG, working resolution lifted"] = child(
        ["predict", str(tmp / "p.csv"), str(big)], lifted)
    pool = [str(p) for p in load_emotion6().filenames] + [str(p) for p in load_oasis().filenames]
    curve = {}
    for n in (200, 2000, 10000):
        paths = (pool * (n // len(pool) + 1))[:n]
        t0 = time.perf_counter()
        res = child(["predict", str(tmp / f"p{n}.csv"), *paths])
        res["wall"] = time.perf_counter() - t0
        curve[n] = res
    md = [f"A 9000 x 9000 PNG ({size_kb:,.0f} KB on disk); each line a fresh process "
          "(peak RSS = its VmHWM).", "",
          "| run | peak RSS (MiB) | seconds |", "|---|---|---|"]
    md += [f"| {k} | {v['peak_mib']:,.0f} | {v['seconds']:.1f} |" for k, v in rows.items()]
    md += ["", "`sklearn-emotion predict` with the pretrained model (batch size 32), Emotion6 "
           "and OASIS photos (repeated past 2,880):", "",
           "| images | peak RSS (MiB) | seconds |", "|---|---|---|"]
    md += [f"| {n:,} | {v['peak_mib']:,.0f} | {v['seconds']:.0f} |" for n, v in curve.items()]
    write("input_memory", "SKLEARN_EMOTION_DATA=../shared python -m benchmarks.bench_input_memory",
          {"big_png_kb": size_kb, "rows": rows, "predict_curve": curve}, "\n".join(md))


if __name__ == "__main__":
    main()

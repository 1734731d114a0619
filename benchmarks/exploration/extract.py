import time, numpy as np
from sklearn_emotion import PooledLayerFeatures, ObjectFeatures, ColorFeatures
from sklearn_emotion.datasets import combine_datasets
b = combine_datasets("emotion6", "oasis")
X = list(b.filenames)
for name, est in [("layers", PooledLayerFeatures(cache_dir="feature-cache", n_jobs=2)),
                  ("logits", ObjectFeatures("models/mobilenet_v2_1.0_224_quant.tflite", output="logits", cache_dir="feature-cache", n_jobs=2)),
                  ("color", ColorFeatures(cache_dir="feature-cache", n_jobs=2))]:
    t = time.time()
    F = est.fit(X).transform(X)
    np.save(f"/tmp/explore/{name}.npy", F)
    print(name, F.shape, time.time() - t, flush=True)
np.save("/tmp/explore/y.npy", b.target); np.save("/tmp/explore/groups.npy", b.groups.astype(str))

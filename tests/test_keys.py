"""The keys' family (``sklearn_emotion._keys``), against hashlib and by hand."""

import hashlib
import os

import numpy as np
import pytest

from sklearn_emotion import config_context
from sklearn_emotion import _keys


def test_file_digest_is_hashlib_of_the_bytes(tmp_path):
    p = tmp_path / "f.bin"
    data = os.urandom(3 * (1 << 20) + 17)  # more than one block
    p.write_bytes(data)
    assert _keys.file_digest(p) == hashlib.sha256(data).hexdigest()
    assert _keys.file_digest(p, "sha1", b"file:") == hashlib.sha1(b"file:" + data).hexdigest()
    assert _keys.file_sha256(p) == hashlib.sha256(data).hexdigest()
    # the memo follows the file: rewritten with another size, a new digest
    p.write_bytes(b"other")
    assert _keys.file_sha256(p) == hashlib.sha256(b"other").hexdigest()


def test_file_digest_refuses_a_fifo_and_a_folder_without_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        _keys.file_digest(fifo)  # no writer: an ordinary open would hang here
    with pytest.raises(OSError):
        _keys.file_digest(tmp_path)
    assert _keys.image_key(str(fifo)) == "unreadable:" + str(fifo)


def test_image_key_of_a_file_is_the_salted_sha1_of_its_bytes(tmp_path):
    p = tmp_path / "a.jpg"
    p.write_bytes(b"\xff\xd8 some bytes")
    assert _keys.image_key(str(p)) == hashlib.sha1(b"file:\xff\xd8 some bytes").hexdigest()
    rgb = np.zeros((2, 3, 3), np.uint8)
    want = hashlib.sha1(b"rgb:" + repr((2, 3, 3)).encode() + rgb.tobytes()).hexdigest()
    assert _keys.image_key(rgb) == want


def test_decode_token_is_empty_at_the_default_and_names_a_change():
    from sklearn_emotion._image import DEFAULT_WORKING_PIXELS

    assert _keys.decode_token() == {}
    with config_context(working_pixels=DEFAULT_WORKING_PIXELS):
        assert _keys.decode_token() == {}
    with config_context(working_pixels=123_456):
        assert _keys.decode_token() == {"working_pixels": 123_456}


def test_the_cnn_embeddings_follow_the_same_working_pixels_rule(tmp_path):
    """One rule for both stores: the CNN's embedding cache is the same folder
    at the default resolution as when nothing is said, another when it changes."""
    from sklearn_emotion._image import DEFAULT_WORKING_PIXELS
    from sklearn_emotion.models import CNNRegressor

    est = CNNRegressor("mobilenet_v2", cache_dir=tmp_path)
    base = est._embedding_cache().dir
    with config_context(working_pixels=DEFAULT_WORKING_PIXELS):
        assert est._embedding_cache().dir == base
    with config_context(working_pixels=100_000):
        assert est._embedding_cache().dir != base


def test_weights_hash_follows_the_weights():
    class Model:  # the two methods a Keras model is hashed by
        def __init__(self, ws):
            self.ws = ws

        def get_weights(self):
            return self.ws

    a = _keys.weights_hash(Model([np.zeros(3), np.ones((2, 2))]))
    assert a == _keys.weights_hash(Model([np.zeros(3), np.ones((2, 2))]))
    assert a != _keys.weights_hash(Model([np.zeros(3), np.full((2, 2), 2.0)]))

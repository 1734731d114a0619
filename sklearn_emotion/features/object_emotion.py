"""Object-emotion features: the emotion norms of the objects a CNN sees (paper Fig. 8)."""

from __future__ import annotations

import copy
import re

import numpy as np
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from .._lexicons import load_nrc_vad, load_warriner
from ._base import ImageTransformer
from .objects import ObjectFeatures, imagenet_labels

__all__ = ["ObjectEmotionFeatures", "class_emotion_table", "object_emotion"]


def _candidates(label):
    """Words to look up for an ImageNet label, most specific first."""
    out = []
    for syn in label.split(","):
        syn = syn.strip().lower()
        if not syn:
            continue
        words = re.findall(r"[a-z]+", syn.replace("'s", ""))
        if not words:
            continue
        out.append(" ".join(words))
        out.append(words[-1])  # head noun: "tiger cat" -> "cat"
    seen, uniq = set(), []
    for w in out:
        if w not in seen:
            seen.add(w)
            uniq.append(w)
    return uniq


def class_emotion_table(labels=None, lexicon="warriner+nrc", data_home=None):
    """Valence, arousal and dominance (1-9) of each ImageNet class.

    Matching rule: the label's comma-separated synonyms are tried in order;
    for each, the whole synonym, then its head noun (its last word, e.g.
    "tiger cat" → "cat", "great white shark" → "shark"); the first hit counts.
    With ``lexicon="warriner+nrc"`` every candidate is looked up in
    Warriner et al. (2013) first, and only if none matches, in NRC-VAD v1
    (rescaled from 0-1 to 1-9).

    Parameters
    ----------
    labels : list of str, optional
        Class labels; the 1,000 ImageNet ones by default.
    lexicon : {"warriner+nrc", "warriner", "nrc"}, default="warriner+nrc"
    data_home : str or path-like, optional

    Returns
    -------
    table : ndarray of shape (n_classes, 3)
        NaN rows for classes with no match.
    matched_word : list of str or None
        The word each class was matched through.
    """
    labels = imagenet_labels(data_home) if labels is None else list(labels)
    order = {"warriner+nrc": ("w", "n"), "warriner": ("w",), "nrc": ("n",)}
    if lexicon not in order:
        raise ValueError(f"lexicon must be one of {sorted(order)}, got {lexicon!r}")
    lex = {"w": load_warriner(data_home) if "w" in order[lexicon] else {},
           "n": load_nrc_vad(data_home) if "n" in order[lexicon] else {}}
    table = np.full((len(labels), 3), np.nan)
    words = []
    for i, label in enumerate(labels):
        cands = _candidates(label)
        hit = None
        for src in order[lexicon]:
            for w in cands:
                if w in lex[src]:
                    hit = (w, lex[src][w])
                    break
            if hit:
                break
        if hit:
            table[i] = hit[1]
            words.append(hit[0])
        else:
            words.append(None)
    return table, words


def object_emotion(proba, table):
    """Probability-weighted object emotion of each image.

    Parameters
    ----------
    proba : ndarray of shape (n_images, n_classes)
        Class probabilities (e.g. ``ObjectFeatures(output="proba")``).
    table : ndarray of shape (n_classes, 3)
        From :func:`class_emotion_table`; NaN rows are unmatched classes.

    Returns
    -------
    features : ndarray of shape (n_images, 4)
        Expected valence, arousal and dominance over the matched classes
        (probabilities renormalised over them; 5, the scale's midpoint, when
        no matched class has mass) and the matched probability mass.
    """
    proba = np.asarray(proba, dtype=np.float64)
    ok = ~np.isnan(table[:, 0])
    mass = proba[:, ok].sum(axis=1)
    vad = proba[:, ok] @ table[ok]
    out = np.full((len(proba), 3), 5.0)
    nz = mass > 1e-12
    out[nz] = vad[nz] / mass[nz, None]
    out = np.column_stack([out, mass])
    out[np.isnan(proba).any(axis=1)] = np.nan  # images that failed upstream
    return out


_MECHANICS = ("cache_dir", "memory", "batch_size", "n_jobs", "verbose", "on_error")


class ObjectEmotionFeatures(ImageTransformer):
    """Expected valence, arousal and dominance of the objects in an image.

    Each ImageNet class is mapped to word emotion norms
    (:func:`class_emotion_table`); the feature is the class-probability
    weighted mean (:func:`object_emotion`).  The probabilities come from an
    inner :class:`ObjectFeatures` with the same backbone and the same
    ``memory``, so with a cache nothing is recomputed next to an
    ``ObjectFeatures`` family.

    Parameters
    ----------
    backbone, weights, num_threads, data_home
        As for :class:`ObjectFeatures` (the class probabilities are used).
    lexicon : {"warriner+nrc", "warriner", "nrc"}, default="warriner+nrc"
        Word norms, see :func:`class_emotion_table`.
    cache_dir, batch_size, n_jobs, verbose, on_error, memory
        As for :class:`ObjectFeatures`.

    Attributes
    ----------
    class_table_ : ndarray of shape (1000, 3)
        V, A, D of each class (NaN when unmatched).
    matched_words_ : list
        The word each class was matched through.
    matched_fraction_ : float
        Share of classes matched.

    See Also
    --------
    ObjectFeatures
        The class probabilities it starts from.
    """

    def __init__(self, backbone="vgg16", weights="imagenet", lexicon="warriner+nrc",
                 num_threads=None, data_home=None, *, cache_dir=None, batch_size=32, n_jobs=None,
                 verbose=False, on_error="raise", memory="deprecated"):
        self.backbone = backbone
        self.weights = weights
        self.lexicon = lexicon
        self.num_threads = num_threads
        self.data_home = data_home
        self.cache_dir = cache_dir
        self.memory = memory
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error

    _parameter_constraints = {
        **ImageTransformer._parameter_constraints,
        **{k: ObjectFeatures._parameter_constraints[k] for k in ("backbone", "weights")},
        "lexicon": [StrOptions({"warriner+nrc", "warriner", "nrc"})],
    }

    def _feature_names(self):
        return ["objemo_valence", "objemo_arousal", "objemo_dominance", "objemo_matched_mass"]

    def _inner(self):
        return ObjectFeatures(self.backbone, self.weights, "proba", None, self.num_threads,
                              self.data_home, cache_dir=self.cache_dir, batch_size=self.batch_size,
                              n_jobs=self.n_jobs, verbose=self.verbose, on_error=self.on_error,
                              memory=self.memory)

    def fit(self, X, y=None):
        """Build the word-norm table and the inner :class:`ObjectFeatures`.

        The inner transformer is built here from the current parameters
        (``object_features_``), so ``set_params`` followed by ``fit`` always
        agree; ``transform`` never changes it.
        """
        super().fit(X, y)
        self.class_table_, self.matched_words_ = class_emotion_table(
            None, self.lexicon, self.data_home)
        self.matched_fraction_ = float(np.mean(~np.isnan(self.class_table_[:, 0])))
        self.object_features_ = self._inner().fit(X)
        return self

    def transform(self, X):
        """Object emotion of each image: (n_images, 4)."""
        check_is_fitted(self, "class_table_")
        from .._image import ImageBatchError

        # the mechanics parameters (cache, batching, threads, progress, error
        # policy) apply at transform time, as for every family: read them
        # through a shallow view of the fitted inner transformer, which is
        # itself never modified (its network is shared, not rebuilt)
        inner = copy.copy(self.object_features_)
        inner.set_params(**{k: getattr(self, k) for k in _MECHANICS})  # keeps the network
        try:
            proba = inner.transform(X)
        except ImageBatchError as exc:
            exc.features = object_emotion(exc.features, self.class_table_)
            raise
        finally:
            self._transform_stats = getattr(inner, "_transform_stats", None)
        return object_emotion(proba, self.class_table_)

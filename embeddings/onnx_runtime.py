"""Run a sentence-transformers model exported to ONNX with onnxruntime and tokenizers only.

This is what the `onnx` and `onnx-int8` backends use to embed. It reads the
exported folder the way sentence-transformers does — the tokenizer
(`tokenizer.json`), the maximum sequence length (`sentence_bert_config.json`,
else the tokenizer's and the model's limits), lower-casing, the pooling module
(`1_Pooling/config.json`: mean, cls or max) and an optional Normalize module —
and gives the same vectors as `SentenceTransformer(folder, backend="onnx")`
(tests/test_embeddings.py compares them). Doing it directly keeps torch and
transformers out of the process that answers questions: about 390 MB less
memory and ~3 ms less per question.

Models whose pipeline has any other module (a Dense layer, a custom one) are not
handled here: `UnsupportedModel` tells the caller to use sentence-transformers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

TRANSFORMER, POOLING, NORMALIZE = "Transformer", "Pooling", "Normalize"


class UnsupportedModel(Exception):
    """The exported model needs sentence-transformers itself to run."""


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


def _module_kind(type_name: str) -> str:
    short = type_name.rsplit(".", 1)[-1]
    if short in (TRANSFORMER, POOLING, NORMALIZE):
        return short
    raise UnsupportedModel(f"module {type_name}")


def _pooling_mode(config: dict) -> str:
    if "pooling_mode" in config:  # sentence-transformers 5
        mode = config["pooling_mode"]
    else:  # older releases: one flag per mode
        modes = [m for m in ("cls", "mean", "max") if config.get(f"pooling_mode_{m}_tokens")]
        extra = [k for k, v in config.items() if k.startswith("pooling_mode_") and v and k[13:-7] not in ("cls", "mean", "max")]
        if len(modes) != 1 or extra:
            raise UnsupportedModel(f"pooling {config}")
        mode = modes[0]
    if mode not in ("cls", "mean", "max") or config.get("include_prompt") is False:
        raise UnsupportedModel(f"pooling {mode}")
    return mode


class OnnxRunner:
    """Tokenise, run the ONNX graph, pool: an exported sentence-transformers model without torch."""

    def __init__(self, folder: Path, file_name: str, *, threads: int | None = None, one_at_a_time: bool = False):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = Path(folder)
        # Dynamically quantised graphs scale activations per run, over the whole batch
        # with its padding, so a text's vector would depend on its batch-mates. Run such
        # models one text at a time: vectors are then reproducible (a re-index embeds the
        # same text to the same vector), and on CPU it is as fast (measured: 38-54 vs
        # 36-46 passages/s of 300 characters on 2 cores).
        self.one_at_a_time = one_at_a_time
        modules = _read_json(folder / "modules.json")
        if not modules:
            raise UnsupportedModel("no modules.json")
        kinds = [_module_kind(m["type"]) for m in modules]
        if kinds[:2] != [TRANSFORMER, POOLING] or kinds[2:] not in ([], [NORMALIZE]):
            raise UnsupportedModel(" -> ".join(kinds))
        pooling = _read_json(folder / modules[1]["path"] / "config.json")
        self.pooling = _pooling_mode(pooling)
        st_config = _read_json(folder / "sentence_bert_config.json")
        tok_config = _read_json(folder / "tokenizer_config.json")
        model_config = _read_json(folder / "config.json")
        if not (folder / "tokenizer.json").is_file():
            raise UnsupportedModel("no fast tokenizer")
        self.max_length = int(
            st_config.get("max_seq_length")
            or min(int(tok_config.get("model_max_length") or 10**6), int(model_config.get("max_position_embeddings") or 512))
        )
        self.lower_case = bool(st_config.get("do_lower_case"))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        pad_token = tok_config.get("pad_token") if isinstance(tok_config.get("pad_token"), str) else "[PAD]"
        pad_id = self.tokenizer.token_to_id(pad_token)
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.enable_padding(pad_id=pad_id if pad_id is not None else 0, pad_token=pad_token)

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No busy-waiting between runs: the bot shares its cores with the event loop and the log.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(folder / file_name), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.dim = int(pooling.get("embedding_dimension") or model_config["hidden_size"])

    def run(self, texts: Sequence[str]) -> np.ndarray:
        """Pooled (not yet normalised) embeddings of one batch."""
        if self.lower_case:
            texts = [t.lower() for t in texts]
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        hidden = self.session.run(None, feed)[0]
        if self.pooling == "cls":
            return hidden[:, 0]
        if self.pooling == "max":
            return np.where(mask[..., None] > 0, hidden, -1e9).max(axis=1)
        return (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Embed in batches of similar length (as sentence-transformers does: less padding)."""
        if self.one_at_a_time:
            batch_size = 1
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        bar = _progress(len(texts)) if progress else None
        for start in range(0, len(texts), batch_size):
            picked = order[start : start + batch_size]
            out[picked] = self.run([texts[i] for i in picked])
            if bar is not None:
                bar.update(len(picked))
        if bar is not None:
            bar.close()
        return out


def _progress(total: int):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="Embedding", unit="passage")

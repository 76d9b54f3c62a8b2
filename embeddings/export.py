"""Export a sentence-transformers model to ONNX, optionally int8-quantised, into a folder.

    python -m embeddings.export MODEL_DIR TARGET_DIR onnx|onnx-int8 [avx2|avx512|avx512_vnni|arm64]

Run by `embeddings.onnx_backend.onnx_model_dir` in a child process the first time an
ONNX backend is used (this is the only place torch is needed for it). optimum
converts the PyTorch weights locally; dynamic int8 quantisation rewrites the
graph's matrix products. The folder is written under a temporary name and moved
into place, so a crash never leaves half an export behind.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from embeddings.st_model import load_sentence_transformer


def export(location: str, target: Path, backend: str, quantization: str = "avx2") -> Path:
    """Save the model at `location` as ONNX (int8 for `onnx-int8`) into `target`, atomically."""
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model = load_sentence_transformer(str(location), "cpu", backend="onnx")
    from sentence_transformers import export_dynamic_quantized_onnx_model

    model.save(str(tmp))
    config_path = tmp / "config.json"
    config = json.loads(config_path.read_text("utf-8"))
    if "model_type" not in config and "BertModel" in config.get("architectures", []):
        config["model_type"] = "bert"  # m3e-small's config names the class only; optimum needs the type
        config_path.write_text(json.dumps(config, indent=2), "utf-8")
    if backend == "onnx-int8":
        export_dynamic_quantized_onnx_model(model, quantization, str(tmp))
    try:
        os.replace(tmp, target)
    except OSError:  # another process finished the same export first: use theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def main(argv: list[str]) -> int:
    """The command line: export, never downloading anything."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if len(argv) not in (3, 4) or argv[2] not in ("onnx", "onnx-int8"):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    export(argv[0], Path(argv[1]), argv[2], *argv[3:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

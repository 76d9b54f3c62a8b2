"""The content-gap grouping's threshold and cross-language offset, calibrated: tune half and held-out half.

    .venv/bin/python bench/gaps.py [--file tests/data/gap_groups.toml] [--data DIR] [--curve] [--json]

Embeds the labelled unanswered questions with the packaged model (through the
vector cache in --data, a temporary folder by default), picks the threshold and
cross-language offset with the best adjusted Rand index on the tune half, and prints
both halves' ARI and pairwise precision / recall / F1 at them (insights/calibration.py),
and the same without the offset. `insights.gaps.THRESHOLD` and `CROSS_LANGUAGE` are
what this printed; it says so when they differ.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _line(name: str, r: dict) -> str:
    return (f"  {name:<5} ARI {r['ari']:.3f}   pairwise precision {r['precision']:.3f}  recall {r['recall']:.3f}  F1 {r['f1']:.3f}"
            f"   ({r['groups']} groups made; recall within one language {r['recall_one_language']:.3f},"
            f" across languages {r['recall_across_languages']:.3f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=ROOT / "tests" / "data" / "gap_groups.toml")
    parser.add_argument("--data", type=Path, help="data folder whose vector cache to use (default: a temporary one)")
    parser.add_argument("--curve", action="store_true", help="print the tune half's figures at every offset and threshold")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from bot.config import go_offline

    go_offline()
    from embeddings import load_encoder
    from insights.calibration import calibrate, load_groups
    from insights.gaps import GapGrouper
    from retrieval.redflag_meaning import MODEL
    from retrieval.vectorcache import VectorCache

    groups = load_groups(args.file)
    with tempfile.TemporaryDirectory() as folder:
        cache = VectorCache.in_data_dir(args.data or Path(folder))
        started = time.perf_counter()
        result = calibrate(GapGrouper(load_encoder(MODEL), cache, None), groups)
        result["seconds"] = round(time.perf_counter() - started, 1)
        cache.close()
    curve = result.pop("tune_curve")
    if args.curve:
        result["tune_curve"] = curve
    if args.json:
        print(json.dumps(result, indent=2))
        return
    sizes = result["sizes"]
    print(f"model {result['model']}; {args.file.name}: tune {sizes['tune']['groups']} groups / {sizes['tune']['questions']} questions,"
          f" held-out {sizes['held']['groups']} / {sizes['held']['questions']} ({result['seconds']} s)")
    print(f"best tune ARI at threshold {result['threshold']}, cross-language offset {result['cross_language']}:")
    print(_line("tune", result["tune"]))
    print(_line("held", result["held"]))
    plain = result["without_offset"]
    if plain:
        print(f"without the offset (best tune ARI at threshold {plain['threshold']}):")
        print(_line("tune", plain["tune"]))
        print(_line("held", plain["held"]))
    if args.curve:
        for key, r in curve.items():
            print(f"  {key}  ARI {r['ari']:.3f}  P {r['precision']:.3f}  R {r['recall']:.3f}  F1 {r['f1']:.3f}  groups {r['groups']}")
    current = result["current"]
    if (current["threshold"], current["cross_language"]) != (result["threshold"], result["cross_language"]):
        print(f"insights.gaps has THRESHOLD {current['threshold']}, CROSS_LANGUAGE {current['cross_language']}:"
              f" set them to {result['threshold']} and {result['cross_language']}.")


if __name__ == "__main__":
    main()

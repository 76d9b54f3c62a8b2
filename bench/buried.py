"""Questions buried in chatter: how often the bot still answers from the right article when
a labelled question comes at the end of a long message about something else (the weather,
the cat, a wedding), as worried people write.

    .venv/bin/python bench/buried.py [FILE] [--split tune] [--chars 0,300,1500] [--json]

Each single-turn line of FILE (default tests/data/answers.jsonl, its tune half) that names
an article and is no emergency gets chatter sentences in its own language (drawn with a
fixed seed) put in front of it until the chatter reaches the given length, and goes through
the bot's own answering path (`Service.answer`, no log). Printed per language and length:
answered from the right article, refused, flagged as an emergency. The chatter is everyday
talk that names no symptom; an emergency flag on it is a false alarm.

Nothing here asserts anything; it measures and prints.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.answers_eval import read_labelled  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.service import Service  # noqa: E402

CHATTER = {
    "zh": [
        "先说点题外话，最近天气特别热，已经连续好几天三十八度了，空调开一整天电费都吓人。",
        "我们家的猫最近也不太爱吃东西，带去宠物医院看了，说是天气热食欲下降，没什么大事。",
        "我老公说我最近脾气变差了，我自己也觉得确实是这样。",
        "周末我们本来计划带孩子去游乐园玩的，后来下雨就没去成，孩子还挺失望的。",
        "我平时饮食也比较注意，不吃辛辣的东西，也不喝酒，每天晚上尽量十一点前睡觉，但是因为工作原因经常做不到。",
        "上个月公司搬到了新的写字楼，通勤时间多了半个小时，每天早上都要六点半起床。",
        "我妈最近在学跳广场舞，每天晚上都去小区门口跳一个小时，说是身体比以前好多了。",
        "前几天去超市买菜，发现水果又涨价了，一斤葡萄要二十多块。",
        "我闺蜜下个月结婚，我是伴娘，最近一直在忙着帮她挑婚纱和准备婚礼的事情。",
        "其实我也在网上查了很多资料，但是说法五花八门，看得我越来越糊涂。",
        "我们小区楼下新开了一家奶茶店，每天排队的人特别多，我也去买过两次。",
    ],
    "en": [
        "So first some background, it has been crazy hot here this week and the AC runs all day.",
        "Our cat hasn't been eating much lately, the vet said it's the heat and nothing serious.",
        "My husband says I've been grumpy recently and honestly he's right.",
        "We planned to take the kids to the zoo on Saturday but it rained so we stayed home.",
        "My office moved to a new building last month so my commute is thirty minutes longer now.",
        "I went grocery shopping yesterday and grapes are so expensive these days.",
        "My best friend is getting married next month and I'm her maid of honour so I've been busy with dress fittings.",
        "I've read a lot online but everyone says something different and it's confusing.",
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", default=str(ROOT / "tests" / "data" / "answers.jsonl"))
    parser.add_argument("--split", default="tune")
    parser.add_argument("--chars", default="0,300,1500", help="chatter lengths, comma-separated")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    service = Service.from_config(Config.from_env())
    service.log = None
    lines = [item for item in read_labelled(Path(args.file), split=args.split or None, single_turn=True)
             if item.article and not item.emergency]  # fmt: skip
    results = []
    for lang in ("zh", "en"):
        mine = [item for item in lines if (lang == "en") == item.turns[0].isascii()]
        for chars in (int(c) for c in args.chars.split(",")):
            rng = random.Random(7)
            right = refused = flagged = 0
            for item in mine:
                pad = ""
                while len(pad) < chars:
                    pad += rng.choice(CHATTER[lang]) + (" " if lang == "en" else "")
                answer = service.answer(pad + item.turns[0], channel="bench", conversation=("bench", lang, chars, item.line)).answer
                first = answer.passages[0].hit.article if answer.passages else None
                right += first == item.article
                refused += answer.refused and not answer.emergency
                flagged += bool(answer.emergency)
            results.append({"lang": lang, "chatter_chars": chars, "lines": len(mine), "right_article": right,
                            "refused": refused, "emergency": flagged})  # fmt: skip
    service.close()
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
        return
    print("lang  chatter  lines  right article  refused  emergency flag")
    for r in results:
        print(f"{r['lang']:<5} {r['chatter_chars']:>7}  {r['lines']:>5}  {r['right_article']:>13}  {r['refused']:>7}  {r['emergency']:>14}")


if __name__ == "__main__":
    main()

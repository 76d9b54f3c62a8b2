"""The red flags pinned exactly: where each negation window ends, what clause a context
word reaches, which notice each category shows, how an operator's rules file is read,
and where the meaning layer's threshold lies. Messages and expectations are written
out by hand; the notices are those of retrieval/redflags.toml with its numbers filled in."""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.config import Config
from bot.service import open_red_flags
from embeddings.base import encode_queries
from retrieval.redflag_meaning import (
    DEFAULT_EXAMPLES,
    Examples,
    ExamplesError,
    MeaningLayer,
    for_search,
    softmax,
    train,
)
from retrieval.safety import RedFlags, RulesError, normalise
from retrieval.vectorcache import VectorCache

EN_NUMBER = "your local emergency number (120 in mainland China, 911 in the US, 112 in Europe, 999 in the UK)"
NOTICES = {
    "suicide": {
        "zh": "⚠️ 你现在的感受很重要，你并不孤单。请立即联系 全国统一心理援助热线 12356，或北京心理危机研究与干预中心 010-82951332（24小时）；"
              "如果有立即的危险，请拨打 120 或 110。也可以马上告诉一位你信任的人陪着你。",
        "en": "⚠️ What you are feeling matters, and you are not alone. Please reach out now to a crisis line: 988 in the US, "
              "116 123 (Samaritans) in the UK and Ireland, 12356 in mainland China, or your local emergency number; "
              f"if you are in immediate danger, call {EN_NUMBER}. Tell someone you trust and stay with them.",
    },
    "anaphylaxis": {
        "zh": "⚠️ 呼吸困难、喉咙发紧、嘴唇或舌头肿胀，可能是严重过敏反应（过敏性休克）：请立即拨打 120 或马上去最近的急诊；如有医生开的肾上腺素笔，请立即使用。",
        "en": "⚠️ Trouble breathing, a tight throat or swelling of the lips or tongue can be a severe allergic reaction (anaphylaxis): "
              f"call {EN_NUMBER} now or go to the nearest emergency department; use an adrenaline pen if you have one.",
    },
    "botox_spread": {
        "zh": "⚠️ 注射肉毒素后出现吞咽困难、喝水呛咳、说话含糊、眼皮下垂或看东西重影、面部以外的肌肉无力或呼吸费力，可能是毒素扩散（肉毒中毒），"
              "抗毒素越早用越有效：请立即去最近的急诊或拨打 120，并告诉医生注射的时间、部位和剂量。",
        "en": "⚠️ Trouble swallowing, choking on drinks, slurred speech, drooping eyelids or double vision, weakness beyond the face "
              "or trouble breathing after a botulinum toxin injection can mean the toxin has spread (botulism); the antitoxin works "
              f"best early: go to the nearest emergency department now or call {EN_NUMBER}, and tell them when, where and how much was injected.",
    },
    "vascular_occlusion": {
        "zh": "⚠️ 注射玻尿酸等填充剂后，注射部位周围皮肤发白、发灰、发青发紫或出现花斑，剧烈疼痛，或突然视力模糊、看不见，可能是填充剂堵塞了血管（血管栓塞），"
              "失明可能在数小时内变成永久性的：请立即回到注射的医院或去最近的急诊（眼科急症请说明是填充后），不要等待。",
        "en": "⚠️ Skin turning white, grey, blue or purple or going blotchy around a filler injection, severe pain, or sudden blurred "
              "vision or loss of sight can mean the filler has blocked a blood vessel (vascular occlusion); loss of sight can become "
              "permanent within hours: go back to the injecting clinic or to the nearest emergency department immediately and say you had filler.",
    },
    "chest_pain": {
        "zh": "⚠️ 胸痛、胸口压迫感可能是心脏急症：请立即拨打 120，停止活动，不要自己开车去医院。",
        "en": f"⚠️ Chest pain or pressure can be a heart emergency: call {EN_NUMBER} now, stop what you are doing and do not drive yourself.",
    },
    "stroke": {
        "zh": "⚠️ 突然出现一侧脸部下垂、手臂无力或说话含糊，可能是中风（脑卒中），这和面瘫不同，每一分钟都很重要：请立即拨打 120，记下症状开始的时间，不要等待症状自行好转。",
        "en": "⚠️ Sudden drooping of one side of the face, arm weakness or slurred speech can be a stroke, which is different from "
              f"facial palsy and needs help within minutes: call {EN_NUMBER} now and note when the symptoms started.",
    },
    "bleeding": {
        "zh": "⚠️ 大量出血或血止不住（伤口出血，或吐血、咳血、便血，或产后、月经大出血）：请立即拨打 120；如果是伤口出血，同时用干净的布用力按住出血处，不要松开。",
        "en": f"⚠️ Heavy bleeding that does not stop (from a wound, blood vomited, coughed up or passed, or after a birth or in a period): call {EN_NUMBER} now. If it is a wound, press firmly on it with a clean cloth without letting go.",
    },
    "unconscious": {
        "zh": "⚠️ 失去意识、叫不醒或抽搐：请立即拨打 120。让患者侧卧，保持呼吸道通畅，不要喂水或食物。",
        "en": f"⚠️ Loss of consciousness, not waking up or a seizure: call {EN_NUMBER} now. Lay the person on their side and keep "
              "the airway clear; give nothing by mouth.",
    },
    "infection": {
        "zh": "⚠️ 注射后发烧，同时注射部位又红又肿又烫、范围还在扩大、化脓或出现红线，可能是严重感染（蜂窝织炎甚至败血症）：请今天就去急诊或回注射的医院，不要等；"
              "如果高烧、发冷发抖、头晕乏力，请立即拨打 120。",
        "en": "⚠️ Fever with a hot, red, swollen area around an injection that keeps spreading, pus or red streaks can be a serious "
              "infection (cellulitis, even sepsis): go to an emergency department or the injecting clinic today, do not wait; with a "
              f"high fever, shivering or feeling faint, call {EN_NUMBER} now.",
    },
    "breathing": {
        "zh": "⚠️ 呼吸困难、喘不上气可能危及生命：请立即拨打 120 或马上去最近的急诊；保持坐姿，松开领口，不要独自一人。",
        "en": f"⚠️ Trouble breathing can be life-threatening: call {EN_NUMBER} now or go to the nearest emergency department; "
              "sit upright, loosen tight clothing and do not stay alone.",
    },
}  # fmt: skip
ADVICE_NOTICE = {
    "zh": "请注意：我不能给出针对个人的诊断、剂量或处方，以上只是文章中的一般信息。关于您自己的情况和用药用量，请咨询面诊医生。",
    "en": "Please note: I cannot give personal diagnoses, doses or prescriptions; the above is general information from the articles. "
          "Please ask a doctor who can examine you about your own situation and dose.",
}  # fmt: skip


@pytest.fixture
def rules() -> RedFlags:
    """The bundled rules alone (no meaning layer), loaded afresh for each test: reading the file
    is part of what every test checks (and mutation testing sees it run under each of them)."""
    return RedFlags.load()


def operator_rules(monkeypatch, tmp_path, text: str) -> RedFlags:
    """A rules file an operator wrote, loaded as the bot loads it: named by ARTICLEBOT_REDFLAGS
    (the meaning layer switched off with ARTICLEBOT_REDFLAG_MEANING=0)."""
    path = tmp_path / "redflags.toml"
    path.write_text(text, "utf-8")
    monkeypatch.setenv("ARTICLEBOT_REDFLAGS", str(path))
    monkeypatch.setenv("ARTICLEBOT_REDFLAG_MEANING", "0")
    return open_red_flags(Config.from_env())


# --- what the rules read ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "read"),
    [
        ("胸口劇痛，喘不上氣！", " 胸口剧痛 \n 喘不上气 "),  # traditional characters, a clause per sentence
        ("ＣＨＥＳＴ  Pain!!", " chest pain "),  # full width, upper case, repeated punctuation
        ("胸 口 痛", " 胸口痛 "),
        ("I CAN NOT breathe", " i can't breathe "),
        ("I can’t breathe", " i can't breathe "),  # a typographic apostrophe
        ("I can‘t breathe", " i can't breathe "),  # the other one, typed by mistake
        ("she said 'stroke' twice", " she said stroke twice "),  # quotes are not apostrophes
        ("chest pain (left side) -- help", " chest pain left side help "),  # other signs are spaces
        ("以前中过风现在突然说话不清楚", " 以前中过风 \n 现在突然说话不清楚 "),  # a break word starts a clause
        ("Years ago I didn't know it was a stroke", " years ago i didn't know it was a stroke "),  # "now" only as a word
        ("my dad is having a strok", " my dad is having a stroke "),  # a typo of a rule's word
        ("笑死我了", "  我了 "),  # a figure of speech reads as nothing
        ("", "  "),
        ("皮肤发白、发紫或者剧痛", " 皮肤发白 发紫或者剧痛 "),  # a list is one clause, its items statements
    ],
    ids=["traditional", "full-width", "spaced-chinese", "can-not", "right-quote", "left-quote", "quotes", "signs", "break-word", "know-not-now",
         "typo", "figure", "empty", "list"],
)
def test_the_text_the_rules_read(rules, message, read):
    assert rules.text(message) == read


def test_normalise_alone_keeps_the_punctuation_free_clauses():
    assert normalise("Chest pain. Now I can't breathe!", ("now",)) == " chest pain \n now i can't breathe "
    assert normalise("。！？") == "  "


# --- negation windows ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "category"),
    [
        # Chinese: a negation among the four characters before counts, the fifth does not
        ("没感觉到胸痛", None),  # 没 four characters before 胸痛
        ("没干活突然胸痛", "chest_pain"),  # 没 five characters before
        ("我没有发烧，胸口剧痛", "chest_pain"),  # the negation is in another clause
        ("没有胸痛，就是有点累", None),
        # a question form is no negation, and does not pull one from further back into the window
        ("我妈是不是中风了", "stroke"),
        ("我不知道是不是中风了", "stroke"),  # 不 six characters before 中风
        ("不确定是不是心梗", "chest_pain"),
        ("无论是否中风过，打针前都要告诉医生", None),  # ...but keeps its place: 无 is four characters before 中风
        # English: a negation among the three words before counts, the fourth does not
        ("I didn't have any chest pain", None),  # "didn't" three words before
        ("I didn't sleep and have chest pain", "chest_pain"),  # four words before
        ("Hello doctor. No fever. Chest pain since an hour.", "chest_pain"),  # "no" in an earlier clause
        # inside an "A ~ B" window
        ("我没有胸口剧痛", None),  # a negation just before a window's first word
        ("胸口不怎么痛", None),
        ("胸口有点痛", None),  # softened
        ("心口是不是很痛", "chest_pain"),  # a question form in the gap
        ("my chest doesn't hurt", None),
        ("I have no chest tightness", None),  # a negation just before a window's first word
        ("my chest is a little tight", None),
    ],
)
def test_negation_windows_end_exactly_where_documented(rules, message, category):
    found = rules.assess(message)
    assert found.emergency == category, message
    assert found.by == ("rules" if category else None)


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ("胸口像被针扎一样痛", "chest_pain"),  # six characters between 胸口 and 痛
        ("胸口像被针扎了一样痛", None),  # seven
        ("my chest feels like it hurts", "chest_pain"),  # three words between "chest" and "hurts"
        ("my chest feels like it really hurts", None),  # four
    ],
)
def test_a_window_reaches_six_characters_or_three_words(rules, message, category):
    assert rules.by_rules(message) == category


# --- context: the past, general questions, figures of speech ----------------------------------


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ("I had a stroke as a teenager", None),  # "as a teen*": the word goes on
        ("I had a stroke in 1998", None),  # "in 19##": a year
        ("He had a stroke at 45", None),
        ("Chest pain started at 10pm", "chest_pain"),  # "at ##" is an age, not a time
        ("What do seizures mean in kids?", None),  # "what do * mean": any one word
        ("I think it's a heart attack because my arm is numb", "chest_pain"),  # "because" is not "cause"
        ("my son has heatstroke", None),  # rule words match at a word start
        ("Years ago I didn't know it was a stroke", None),
        ("Years ago out of nowhere he had a stroke", None),  # "nowhere" starts no new clause
        ("I nearly had a heart attack when I saw the bill", None),  # a figure of speech
        ("胸口剧痛，和以前不一样，一直出冷汗", "chest_pain"),  # the history word is in another clause
        ("我妈七十岁了，以前中风过", None),  # ...and here in the same one, a later clause of the message
        ("我以前脑梗过，现在恢复得不错", None),
        ("以前中过风，现在突然说话不清楚", "stroke"),
        ("以前打过botox现在说话不清楚", "stroke"),  # a break word right after a Latin letter
        ("打瘦脸针会不会吞咽困难", None),  # a general question
        # Chinese with spaces for punctuation: a context word reaches forward, to the end of the symptom's statement
        ("打完针喘不上气 听说是副作用", "botox_spread"),  # the general word comes after: the symptom is now
        ("我爸胸口剧痛 什么原因", "chest_pain"),
        ("我妈突然说不出话了 嘴也歪了 是不是有什么风险", "stroke"),
        ("胸口剧痛 和以前不一样 一直出冷汗", "chest_pain"),  # the history word comes after
        ("我妈以前中过风 她能打瘦脸针吗", None),  # the history word is in the symptom's own statement
        ("我妈三年前 中过风 她能打瘦脸针吗", None),  # ...or before it
        ("听说 打瘦脸针会吞咽困难 是真的吗", None),
        ("胸 口 剧 痛", "chest_pain"),  # single characters spaced out are one word
        ("我爸胸口剧痛，听说是心梗 怎么办", "chest_pain"),  # a statement never reaches past its clause
    ],
)
def test_context_words_reach_their_own_clause_only(rules, message, category):
    assert rules.by_rules(message) == category


@pytest.mark.parametrize(
    ("message", "category"),
    [
        # the experiential 过 right after a symptom: it happened, it is not happening now
        ("我大学时候晕倒过一次", None),
        ("我晕倒过好几次，打针要注意什么", None),
        ("刚才他晕倒过去了", "unconscious"),  # 过去: directional, not experiential
        ("他晕倒了", "unconscious"),
        # 差点 / 险些: it nearly happened
        ("我差点晕倒", None),
        ("差点晕倒 现在胸口剧痛", "chest_pain"),  # ...and says nothing of the next statement
        # 会 / 可能 / 导致 ... 吗 around the symptom asks what might happen
        ("玻尿酸打进血管会失明吗", None),
        ("打瘦脸针有可能导致呼吸困难吗", None),
        ("玻尿酸打到血管里会失明吗 概率大不大", None),  # the question ends at a statement space
        ("打完玻尿酸鼻子发白了会失明吗", "vascular_occlusion"),  # 发白 is before 会: it is happening
        ("打完瘦脸针吞咽困难 会死吗", "botox_spread"),
        ("我不会喘不上气吧", None),  # 不会 is a negation, not the question
        # English: "what do/does ... mean / look like" around the symptom
        ("what do red streaks from an injection mean", None),
        ("what does anaphylaxis look like", None),
        ("my lips are swelling and I can't breathe, what does that mean", "anaphylaxis"),  # the symptom is outside
        # an inner "*" of a Chinese figure stands for up to three characters
        ("气得我吐血", None),
        ("气得我们全家都吐血", "bleeding"),  # four characters between
        ("丑哭了想死 哈哈哈", None),  # 想死*哈哈: a space is one of the three
        ("我想死 真的没开玩笑", "suicide"),
        # a mouth corner that droops and leaks after botox is the palsy the articles are about: drooling,
        # leaking or a mouth that will not close are that same weakness, no second sign of a stroke or a spread
        ("打完瘦脸针嘴角歪了 吃饭会漏 是面瘫吗", None),
        ("打瘦脸针两周了 嘴角有点歪 喝水从嘴角漏出来", None),
        ("我爸嘴歪了 说话也不清楚", "stroke"),  # speech is a second sign
        ("我妈嘴角歪了 右手拿不住筷子", "stroke"),
        ("打完瘦脸针三天 喝水老是呛到", "botox_spread"),  # choking is swallowing, beyond the face
        # a seizure's "fit" is a word of its own, not the start of "fitting(s)" or "fitness"
        ("I've been busy with dress fittings for my best friend's wedding", None),
        ("I do fitness for 30 minutes every day", None),
        ("my son had a fit for about 5 minutes and it's not stopping", "unconscious"),
        ("she's been fitting for 5 minutes", "unconscious"),
        # someone evasive, not slurred speech: 说不清 after 支支吾吾 (or 含糊其辞) is a figure
        ("去做了瘦脸针，前台支支吾吾说不清楚用的什么牌子，打完一周脸有点僵", None),
        ("打完瘦脸针 医生含糊其辞 现在我说话说不清楚", "botox_spread"),
        ("打完瘦脸针三天 说不清楚话了", "botox_spread"),
        # a typo of a question word is mended like a typo of a rule's word
        ("过敏性休克是啥症壮", None),
        ("过敏性休克了", "anaphylaxis"),
    ],
)
def test_past_near_misses_and_questions_about_what_might_happen(rules, message, category):
    assert rules.by_rules(message) == category


@pytest.mark.parametrize(
    ("message", "category"),
    [
        # suicide, said indirectly: affairs put in order, farewells, the means at hand, harm now
        ("在车库里 发动机开着 car engine running in the garage", "suicide"),
        ("how many of my sleeping pills would it take", "suicide"),
        ("burning myself with a lighter again", "suicide"),
        ("i burned myself on the stove", None),  # an accident, no means of harm
        # later probes: blood brought up, filler by site and brand, delayed signs of occlusion
        ("刚吐了一大口血", "bleeding"),
        ("threw up dark blood with clots", "bleeding"),
        ("injection point keeps bleeding after 30 minutes of pressure", "bleeding"),
        ("乔雅登打完鼻头发紫", "vascular_occlusion"),
        ("non surgical nose job yesterday and the tip is dusky", "vascular_occlusion"),
        ("chin filler 2 days ago, blisters and scabs and it hurts", "vascular_occlusion"),
        ("tear trough filler and my eye feels pressure and pain", "vascular_occlusion"),
        ("filler last week, a small bruise, no pain", None),
        ("this workload is going to knock me out cold", None),  # a figure
        # everyday messages with the same words stay unflagged
        ("我妈生气得厉害", None),  # 气 of 生气 is no breath
        ("I left the engine running in the car", None),
        ("cutting again this month, down 2kg already", None),  # a diet
        ("how to end it with my boyfriend nicely", None),
        ("the sale ends tonight so I booked filler", None),
        ("我爸突然嘴歪了说的话也听不懂", "stroke"),  # 说的话 is no conditional
        ("numb on the left side of my mouth after the dentist", None),
        ("我的后事都安排好了", "suicide"),
        ("工作都交代完了 明天休假", None),  # a handover is no farewell
        ("我没事了 不用担心我了", None),  # reassurance, not a farewell
        ("我不配活着", "suicide"),
        ("绳子已经准备好了 不想再拖累家里", "suicide"),
        ("跳绳买好了", None),  # a rope alone is no plan
        ("用胶带把箱子封好了", None),  # nor is tape without charcoal
        ("气得我想拿头撞墙", None),  # a figure
        ("my meds are ready for pickup", None),
        ("给医生发消息一直没回应", None),  # no reply is not "no response"
        ("烧烤的时候烫到手 红肿了", None),
        ("切菜的时候刀划到手了", None),  # nor is a knife that slipped
        ("又用刀片划了自己", "suicide"),
        ("想去另一个世界看看", "suicide"),
        ("i've been cutting myself again", "suicide"),
        ("my friend says she wants to die", "suicide"),
        ("none of this will matter after friday", "suicide"),
        ("thank you for everything, you were always kind to me. goodbye", "suicide"),
        ("thanks for everything, goodbye!", None),  # a polite sign-off is no farewell
        ("我朋友说她想一了百了", "suicide"),
        # others the probes found
        ("我妈的月经量特别多 一直头晕站不住", "bleeding"),
        ("外公突然糊涂了 不认识我", "stroke"),
        ("孩子全身抽筋 叫不应", "unconscious"),
        ("my dad is clutching his chest", "chest_pain"),
        ("打完玻尿酸那块皮肤灰白的 还很痛", "vascular_occlusion"),
        ("打完针那块红肿 冷得直哆嗦", "infection"),
        # chronic conditions under control, and general questions in their usual forms
        ("i have a seizure disorder that's well controlled, can i get botox", None),
        ("心梗的前兆都有哪些", None),
        ("心绞痛和心肌梗死是一回事吗", None),
        ("how do doctors tell strokes apart from bell's palsy", None),  # "tell * apart": one word between
        ("我爸胸口剧痛有哪些可能", "chest_pain"),  # a question about a symptom now
        ("我爸突然说话和平时不一样 嘴也歪了", "stroke"),
        ("apart from the headache my throat is closing up", "anaphylaxis"),  # "apart from" is "besides"
        # probes 10 and 11: collapse and bleeding in lay words, a railing, late signs of occlusion
        ("奶奶歪在沙发上 喊她也不应", "unconscious"),
        ("小李栽倒了 拍他半天都没动静", "unconscious"),
        ("我叫他吃饭他不应 在打游戏", None),  # ignoring a call to dinner is no collapse
        ("快递一直没动静", None),
        ("叫了外卖一直没动静", None),  # ordering a takeaway is no call to someone
        ("拍了照片发过去没动静", None),
        ("my uncle slumped over and isn't answering", "unconscious"),
        ("he's on the floor not moving or answering", "unconscious"),
        ("coughing up a lot of blood", "bleeding"),
        ("my nose has been bleeding for 40 mins and i'm on warfarin", "bleeding"),
        ("her nosebleed stopped in 5 minutes with pinching", None),  # a short nosebleed is ordinary
        ("sliced my palm with a knife, it's pouring even with pressure", "bleeding"),
        ("it's been pouring for 20 min, can i still go to my appointment", None),  # rain
        ("soaking a pad every 30 minutes since the birth, passing clots", "bleeding"),
        ("standing on the bridge railing, i'm ready to jump", "suicide"),
        ("two days after lip filler there are blisters and dark patches", "vascular_occlusion"),
        ("打完鼻子玻尿酸 眼睛看东西很blurry", "vascular_occlusion"),
        # probe12: the same signs in other words
        ("月经第二天 一小时就要换一次 头晕 脸色煞白", "bleeding"),
        ("月经量一小时换一次卫生巾正常吗", None),  # asked in general, no one faint
        ("he sliced his thigh and blood is spurting everywhere", "bleeding"),
        ("孩子抽完筋一直昏睡 捏他也不哭", "unconscious"),
        ("我用刀片在手臂上划了好几道", "suicide"),
        ("她发了告别的话 说以后不用再担心她了", "suicide"),
        ("同事离职发了告别的话 谢谢大家照顾", None),  # a colleague leaving the company
        ("he talked about jumping off the car park roof", "suicide"),
        ("kids jumping off the diving board all afternoon", None),
        ("kids jumping off the bridge into the river all summer", None),  # no one means to
        ("day 3 after restylane little blisters and scabby sores", "vascular_occlusion"),
        ("看到这个价格我都要晕倒了", None),  # about to faint is no faint
        # a list stays under the conditional or negation of its clause
        ("下周去打玻尿酸 如果打完皮肤发白、发紫怎么处理", None),
        ("打完玻尿酸皮肤发白、发紫", "vascular_occlusion"),
        ("头不晕、胸口剧痛", "chest_pain"),  # a negation stays with its own item
        # figures, a frame of fiction or a lesson, and a past told by its season
        ("看这个视频笑到吐血", None),
        ("我爸被气得心脏病发作了 快叫救护车", "chest_pain"),  # anger can bring on a real one: no figure
        ("the price gave her a heart attack lol", None),
        ("电视剧里女主打完玻尿酸后鼻子发紫", None),
        ("in a medical drama a man clutched his chest and collapsed", None),
        ("she fainted at her wedding last summer", None),
        ("我年轻的时候生孩子大出血", None),
        # probe13: late and lay signs of occlusion, a diabetic drifting off, Cantonese, farewells that arrange what is left
        ("去年打玻尿酸后鼻尖发白过 现在还能打吗", None),
        ("前天打的下巴 今天起水泡结痂了", "vascular_occlusion"),
        ("打完苹果肌填充 左眼什么都看不到了", "vascular_occlusion"),
        ("a day after cheek filler there's a purple net pattern on my cheek", "vascular_occlusion"),
        ("lip filler this morning, one side is cold and white", "vascular_occlusion"),
        ("孩子抽完一点反应都冇", "unconscious"),  # 冇: Cantonese 没有
        ("我老公打游戏 叫他一点反应都没有", None),  # no fit, faint or fall: ignoring a call
        ("我爸有糖尿病 现在说胡话 一身冷汗", "unconscious"),
        ("i'm diabetic and confused about my insulin dose", None),
        ("her mouth keeps filling up with blood after the extraction", "bleeding"),
        ("changed my pad twice in an hour and i feel faint", "bleeding"),
        ("blood is spraying out of the cut on his arm", "bleeding"),
        ("碳买好了 门窗用胶带封好了", "suicide"),  # 碳 for 炭
        ("信写好了放在桌上 不想给大家添麻烦 就这样吧", "suicide"),
        ("辞职信写好了 明天交", None),
        ("我想去陪我外婆了 她走了五年了", "suicide"),
        ("去找奶奶玩了 她在公园", None),
        ("how many sleeping pills would it take to not wake up", "suicide"),
        ("look after my dog for me, and now she's not answering her phone", "suicide"),
        ("i don't think i'll be around next week, thanks for everything", "suicide"),
        ("thanks for everything, i'll be around next week if you need me", None),
        ("看了一部电影 男主最后跳楼了", None),  # a film's lead
        ("女主人突然晕倒了 叫不醒", "unconscious"),  # the woman of the house, no drama's 女主
        ("first aid course today, they showed us how to stop heavy bleeding", None),
    ],
)
def test_indirect_statements_and_the_forms_the_probes_found(rules, message, category):
    assert rules.by_rules(message) == category


@pytest.mark.parametrize(
    ("message", "category"),
    [
        # a negation that ends a statement of its own negates nothing in the next one
        ("奶奶扶起来腿一点知觉都没有 嘴也歪了", "stroke"),
        ("没有 胸痛", None),
        # 不 that negates nothing: 不停地, 不少, 不如
        ("手指划了个口子 不停地流血", "bleeding"),
        ("流了不少血 止不住", "bleeding"),
        ("不如一了百了", "suicide"),
        # no response needs someone who fell or was called, shaken, pushed
        ("我爸倒在地上 怎么推都没有任何反应", "unconscious"),
        ("他从梯子上摔下来 眼睛闭着一动不动", "unconscious"),
        ("found him on the kitchen floor and he won't come round", "unconscious"),
        ("打了肉毒一周了 还是没有反应", None),  # the toxin has not worked yet
        ("拍了照片发过去没动静", None),
        # filler named by where it went
        ("打完泪沟右眼突然看不清了", "vascular_occlusion"),
        ("填完苹果肌 脸颊发灰 疼得厉害", "vascular_occlusion"),
        ("打完泪沟有一小块青紫的淤青 不痛", None),  # a bruise: a colour alone, at a named site, is not enough
        # bleeding told by what it looks like
        ("拉出来的像柏油一样 站起来就头晕", "bleeding"),
        ("the toilet is full of blood again and i nearly fainted", "bleeding"),
        ("跑步出汗衣服湿透了 流了好多汗", None),
        # Cantonese written as spoken
        ("我阿爸啱啱成边身郁唔到", "stroke"),
        ("打完瘦脸针三日 佢饮水会呛 讲嘢唔清楚", "botox_spread"),
        # stroke: one side that will not move; not the face after botox (the corpus's facial palsy)
        ("爷爷早上起来一边手脚不能动", "stroke"),
        ("我这是不是面瘫 打完瘦脸针一边脸动不了", None),
        # a decision, a farewell, things given away: with what makes them a goodbye
        ("我已经决定了 不用劝我 就是想说最后一句", "suicide"),
        ("我已经决定了 这周末去打瘦脸针", None),
        ("my best friend gave away her dog and said she won't need it anymore", "suicide"),
        ("gave away my old clothes to charity today", None),
        # a question to teach others, a character in a film
        ("想问一下中风的早期症状有哪些 我想给家里老人科普一下", None),
        ("看了套戏 入面个角色心脏病发", None),
        # the words that came with these fixes, in everyday messages: a face after botox, a
        # relationship, a trip, a blood test
        ("my face is frozen on one side after botox", None),
        ("I'm confused why my smile is uneven after botox", None),
        ("it would be better if i wasn't so tired", None),
        ("这段感情我不想再继续了", None),
        ("决定了 下周就走", None),
        ("衣服湿透了 去医院抽血", None),
    ],
)
def test_what_the_rules_learned_from_probe14(rules, message, category):
    assert rules.by_rules(message) == category


@pytest.mark.parametrize(
    ("message", "category"),
    [
        # it is all over now: what came before has passed, what comes after has not
        ("我妈上午晕倒了一次，现在没事了，她下周还能打玻尿酸吗", None),
        ("he collapsed at the gym, he's totally fine now, can he still get botox on friday", None),
        ("他刚才晕倒了 现在没事了 但是胸口一直剧痛", "chest_pain"),
        # only a faint ends when it is over: signs of a stroke that went away, blood vomited, are not
        ("我爸刚才嘴歪了 说话不清楚 十分钟 现在没事了", "stroke"),
        ("my dad's face drooped and his speech was slurred for ten minutes, he's fine now", "stroke"),
        ("我妈刚才吐了一大口血 现在没事了", "bleeding"),
        ("she collapsed, she's fine now but she can't move her right arm", "stroke"),
        ("wife can't lift her right arm and she's talking gibberish, she was totally fine at lunch", "stroke"),  # how it was before
        ("诊所说没事了 可是打完玻尿酸鼻子越来越紫 疼得受不了", "vascular_occlusion"),  # only said
        ("我爸突然晕倒了 叫不醒 是不是现在没事了吗", "unconscious"),  # asked
        ("is he ok now? he passed out and won't wake up", "unconscious"),
        # what might happen, asked whether it is true, or laughed about
        ("听说玻尿酸打进血管会失明 真的吗", None),
        ("打肉毒会呼吸困难吗哈哈", None),
        ("我打完玻尿酸鼻子发白了会失明吗", "vascular_occlusion"),  # the sign came first: it is there
        # a letter, the last message, pills in hand
        ("遗书写好了 以后你们就不用再为我操心了", "suicide"),
        ("this is my last message to anyone, thank you for listening", "suicide"),
        ("sitting here with the sleeping pills, i want it all to stop", "suicide"),
        ("把我的狗托付给邻居了 以后照顾不了它了 别回复我", "suicide"),
        ("把狗托付给邻居了 下个月出差", None),
        ("been cutting tonight and i can't stop", "suicide"),
        # after an allergen: swelling with breathing or faintness is anaphylaxis, not only breathing
        ("孩子吃了腰果 脸肿起来了 咳个不停 声音也哑了", "anaphylaxis"),
        ("got stung by a wasp, my arm is swollen and i feel dizzy", "anaphylaxis"),
        ("吃了虾 有点痒", None),
        # botox told by its homophone, spread told by a head that will not stay up
        ("打了肉读以后 眼皮耷拉 看东西重影", "botox_spread"),
        ("neck botox last week and now she can barely hold her head up", "botox_spread"),
        ("four days after botox i'm struggling to swallow", "botox_spread"),
        # occlusion named by the site first, and skin that stays white when pressed
        ("苹果肌刚打完 脸颊一片白 按下去不回血", "vascular_occlusion"),
        ("泪沟刚打完 有一点点淤青", None),
        # chest pain told as a heart squeezed (Cantonese too) or heavy with a grey face
        ("心口好翳 出晒冷汗", "chest_pain"),
        ("我个心好似俾人揸住咁 左手都麻埋", "chest_pain"),
        ("feels like an elephant sitting on his chest and he's gone grey", "chest_pain"),
        # figures and questions for someone else, in the future
        ("今天加班到吐血 想问问水光针", None),
        ("killing myself over this essay lol, is botox ok while breastfeeding", None),
        ("how do i recognise a stroke in my mum, just want to know what to watch for", None),
        # probe17: seizures that go on, a face that will not close with a hand gone numb, a
        # headache in dialect, a plan with a time, a farewell before tomorrow
        ("孩子全身一抽一抽的 五分钟了还没停", "unconscious"),
        ("my son has been fitting for six minutes and it isn't stopping", "unconscious"),
        ("奶奶说右边嘴角合不上 右手也麻了", "stroke"),
        ("老汉儿说脑壳痛得遭不住 眼睛也看不清了", "stroke"),
        ("he can't get a sentence out and he's dragging his leg", "stroke"),
        ("i bought a rope and picked the time, tonight", "suicide"),
        ("明天早上之前我应该就不在了 就想找个人说一声", "suicide"),
        ("明天早上之前把报告交给我", None),
        ("看到这个价格我真的吐血", None),
    ],
)
def test_what_the_rules_learned_from_probes_15_to_17(rules, message, category):
    assert rules.by_rules(message) == category


@pytest.mark.parametrize(
    ("message", "read"),
    [
        ("我妈上午晕倒了一次，现在没事了，她下周还能打玻尿酸吗", "她下周还能打玻尿酸吗"),
        ("他刚才晕倒了 现在没事了", ""),  # nothing left to read
        ("我妈突然晕倒了，叫不醒", "我妈突然晕倒了，叫不醒"),
        ("我爸刚才嘴歪了 说话不清楚 现在没事了", "我爸刚才嘴歪了 说话不清楚 现在没事了"),  # a stroke's signs: all of it
    ],
)
def test_the_meaning_layer_reads_only_what_follows_the_end_of_an_event(rules, message, read):
    assert rules.for_meaning(message) == read


@pytest.mark.parametrize(
    ("message", "read"),
    [
        ("老公说要被我美晕了", "老公说要被我 了"),  # a figure: the layer reads the message without it
        ("我打完瘦脸针后吞咽困难", "我打完瘦脸针后吞咽困难"),  # none: the message itself, so search's vector is shared
        ("看到账单我直接窒息", "看到账单我"),
        ("笑死我了", ""),  # what is left says nothing (fewer than four letters or characters): not read at all
        ("哈哈笑死我了", "哈哈 我了"),  # four are enough
    ],
)
def test_the_meaning_layer_reads_a_message_without_its_figures_of_speech(rules, message, read):
    """Measured with the figure left in: 笑死我了 0.83 suicide, 我了 alone as much; 看到账单我直接窒息 0.41."""
    assert rules.for_meaning(message) == read


# --- categories, their notices, personal advice -------------------------------------------


@pytest.mark.parametrize(
    ("category", "zh", "en"),
    [
        ("suicide", "我真的不想活了", "I want to end my life"),
        ("anaphylaxis", "吃了虾以后喉咙发紧", "my throat feels tight after eating peanuts"),
        ("botox_spread", "打完瘦脸针三天，吞咽困难", "two days after botox I have trouble swallowing"),
        ("vascular_occlusion", "刚打完玻尿酸，鼻子发白", "lip filler an hour ago and my lip is turning purple"),
        ("chest_pain", "我爸胸口剧痛，一直出冷汗", "crushing chest pain for twenty minutes"),
        ("stroke", "我妈突然嘴歪了", "my dad's speech is slurred"),
        ("bleeding", "伤口血流不止", "the cut won't stop bleeding"),
        ("unconscious", "我奶奶晕倒了，叫不醒", "my grandfather collapsed and is unresponsive"),
        ("infection", "打完针的地方又红又肿，还发烧", "fever and the injection site is red and swollen"),
        ("breathing", "突然喘不上气", "I can't breathe"),
    ],
)
def test_each_category_shows_its_own_notice(rules, category, zh, en):
    for message in (zh, en):
        found = rules.assess(message)
        assert (found.emergency, found.by, found.notices) == (category, "rules", NOTICES[category]), message
        assert (found.advice, found.advice_notices) == (False, None)


@pytest.mark.parametrize(
    ("message", "category"),
    [
        # a question that names no one and says nothing is happening now: about a condition in general
        ("女性心梗的症状跟男的不一样吗", None),
        ("胸痛去急诊挂什么科", None),
        ("do heart attack symptoms always include chest pain?", None),
        ("how do doctors tell bell's palsy apart from a stroke", None),  # " * " in English: up to three words
        ("heart attack symptoms in women?", None),  # one clause, asking
        ("怎么识别一个人有没有自杀倾向", None),
        ("what's the least painful way to die", "suicide"),  # suicide's general_phrases: asked, still a warning sign
        ("吃多少片安眠药会死", "suicide"),
        # someone named, something happening now, or a question whether this is it: an emergency
        ("我爸心梗的症状跟男的不一样吗，现在胸口剧痛", "chest_pain"),
        ("胸口剧痛出冷汗怎么办", "chest_pain"),
        ("打完玻尿酸鼻尖发白发紫 怎么回事", "vascular_occlusion"),
        ("有没有可能是心梗", "chest_pain"),
        ("打完瘦脸针吞咽困难 会死吗", "botox_spread"),
        ("is it normal to have blurry vision after filler?", "vascular_occlusion"),
        ("do heart attack symptoms include chest pain like this?", "chest_pain"),
        # English symptoms listed before a short question are someone's
        ("crushing pressure in the chest going up into the jaw, sweating buckets, heart attack?", "chest_pain"),
        ("sharp chest pain and short of breath out of nowhere, is that normal?", "chest_pain"),
        # 了解 and 为了 are no aspect particle, 了 is
        ("心梗的症状有哪些 想了解一下", None),
        ("胸口剧痛了", "chest_pain"),
    ],
)
def test_a_question_about_a_condition_in_general_raises_nothing(rules, message, category):
    assert rules.by_rules(message) == category
    assert rules.assess(message).emergency == category


def test_a_general_question_is_not_read_for_meaning_either(red_flags, monkeypatch):
    message = "伤口大出血的时候怎么按压止血"  # first aid, asked in general
    assert red_flags.for_meaning(message) == ""
    read = []
    category = red_flags.meaning.category
    monkeypatch.setattr(red_flags.meaning, "category", lambda text: read.append(text) or category(text))
    assert red_flags.assess(message).emergency is None and read == [""]
    assert red_flags.for_meaning("伤口大出血了 怎么按压止血") == "伤口大出血了 怎么按压止血"  # it is happening


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ("哮喘犯了 喷了药都不管用 越来越憋", "breathing"),  # the 不 of 不管用 ends with its statement
        ("没有 胸痛", None),  # a negation standing alone before the space still negates
        ("要是明天出车祸死掉就好了", "suicide"),  # 要是 ... 就好了: a wish, said now
        ("要是胸口剧痛该怎么办", None),  # 要是 without a wish: a hypothetical question
        ("打泪沟后一只眼睛突然看不清了 正常吗", "vascular_occlusion"),  # filler named by the site it fills
    ],
)
def test_negations_end_with_their_statement_and_a_wish_is_no_hypothesis(rules, message, category):
    assert rules.by_rules(message) == category


@pytest.mark.parametrize(
    ("message", "other"),
    [
        ("我朋友说她不想活了", True),
        ("I'm worried my son wants to kill himself", True),
        ("我闺蜜说活着没意思", True),  # the sender named only as hers
        ("我妈骂我，我不想活了", False),  # the sender's own words
        ("my boyfriend left me and I want to die", False),
        ("I want to kill myself", False),
    ],
)
def test_the_suicide_notice_speaks_to_whoever_the_message_is_about(rules, message, other):
    found = rules.assess(message)
    rule = rules.by_name["suicide"]
    assert found.emergency == "suicide"
    assert found.notices == (rule.notice_other if other else rule.notice)
    assert rule.notice_other["zh"] != rule.notice["zh"] and "12356" in rule.notice_other["zh"] and "988" in rule.notice_other["en"]


def test_a_category_without_a_notice_for_someone_else_shows_its_own(rules):
    found = rules.assess("我爸胸口剧痛，一直出冷汗")
    assert found.notices == NOTICES["chest_pain"] and rules.by_name["chest_pain"].notice_other is None


def test_the_first_category_in_file_order_is_reported(rules):
    assert rules.by_rules("I want to die and my throat is closing") == "suicide"  # suicide, then anaphylaxis
    assert rules.by_rules("胸痛，说话不清楚") == "chest_pain"  # chest pain, then stroke


def test_an_ordinary_question_raises_nothing(rules):
    for message in ("瘦脸针能维持多久", "How long does botox last?"):
        found = rules.assess(message)
        assert (found.emergency, found.by, found.notices, found.advice, found.advice_notices) == (None, None, None, False, None)


@pytest.mark.parametrize("message", ["我该打多少单位", "How many units should I get?", "Can you prescibe me something"])
def test_personal_advice_gets_the_caveat_and_no_emergency(rules, message):
    found = rules.assess(message)
    assert (found.emergency, found.advice, found.advice_notices) == (None, True, ADVICE_NOTICE)


def test_an_emergency_and_an_advice_request_in_one_message(rules):
    found = rules.assess("我是不是中风了，我该吃什么药")
    assert (found.emergency, found.notices, found.advice, found.advice_notices) == ("stroke", NOTICES["stroke"], True, ADVICE_NOTICE)


# --- an operator's rules file -------------------------------------------------------------

BURN = """
[emergency.burn]
zh_notice = "严重烧伤：请立即拨打急救电话。"
en_notice = "A severe burn: call an ambulance now."
phrases = ["烧伤|烫伤 + 大面积|起泡", "severe burn|burned all over"]
"""


def test_a_file_with_one_category_and_nothing_else_works(monkeypatch, tmp_path):
    flags = operator_rules(monkeypatch, tmp_path, BURN)  # no [numbers], [words], [context] or [advice]
    found = flags.assess("手臂大面积烫伤")
    assert (found.emergency, found.by, found.notices) == ("burn", "rules", {"zh": "严重烧伤：请立即拨打急救电话。", "en": "A severe burn: call an ambulance now."})
    assert flags.by_rules("Years ago I had a severe burn") == "burn"  # no history words: the past counts too
    assert flags.assess("我该吃什么药").advice is False
    assert flags.by_rules("起泡了") is None  # one part of two


def test_notices_take_the_files_numbers(monkeypatch, tmp_path):
    text = ('[numbers]\nzh_emergency = "119"\nen_emergency = "999"\n'
            '[emergency.burn]\nzh_notice = "请拨打 {zh_emergency}"\nen_notice = "Call {en_emergency}"\nphrases = ["大面积烧伤"]\n')  # fmt: skip
    assert operator_rules(monkeypatch, tmp_path, text).assess("大面积烧伤").notices == {"zh": "请拨打 119", "en": "Call 999"}


def test_word_lists_options_and_empty_alternatives(monkeypatch, tmp_path):
    text = """
[words]
burns = "烧伤||烫伤|"
[emergency.burn]
zh_notice = "a"
en_notice = "b"
phrases = ["@burns + 大面积 / 皮肤 ~ 发黑|脱落", "严重|| + 电击"]
"""
    flags = operator_rules(monkeypatch, tmp_path, text)
    assert flags.by_rules("烫伤了，大面积") == "burn"
    assert flags.by_rules("烧伤以后皮肤大片发黑") == "burn"  # the second option of the part
    assert flags.by_rules("烧伤以后皮肤不发黑") is None  # a negation in the window
    assert flags.by_rules("大面积") is None  # an empty alternative in a list matches nothing
    assert flags.by_rules("严重电击") == "burn"
    assert flags.by_rules("电击") is None  # ...nor one written in a phrase


def test_a_window_reads_its_longest_phrase_not_its_shortest(monkeypatch, tmp_path):
    # 走路 is listed before 走路不稳: were it tried first, 不稳 would be the gap, and 不 a negation
    text = '[emergency.fall]\nzh_notice = "a"\nen_notice = "b"\nphrases = ["走路|走路不稳 ~ 摔倒|倒地"]\n'
    flags = operator_rules(monkeypatch, tmp_path, text)
    assert flags.by_rules("我爸走路不稳摔倒了") == "fall"
    assert flags.by_rules("走路时突然倒地") == "fall"  # the short phrase, then a gap
    assert flags.by_rules("走路从来不摔倒") is None  # a negation in the gap still counts


def test_the_rules_load_where_the_locale_is_not_utf8():
    """A server or container with LANG=C: the rules and the example statements are still read as UTF-8."""
    project = Path(__file__).resolve().parents[1]
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0", "PYTHONIOENCODING": "utf-8",
           "PYTHONPATH": str(project)}  # fmt: skip
    code = ("import locale; from retrieval.safety import RedFlags; from retrieval.redflag_meaning import Examples; "
            "print(locale.getencoding(), RedFlags.load().by_rules('\\u80f8\\u53e3\\u5267\\u75db'), "  # 胸口剧痛
            "ascii(Examples.load().statements['stroke'][0]))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    encoding, category, example = done.stdout.split()
    assert encoding.lower() not in ("utf-8", "utf8")  # the locale really is not UTF-8
    assert category == RedFlags.load().by_rules("胸口剧痛") == "chest_pain"  # as read here, in UTF-8
    assert example == ascii(Examples.load().statements["stroke"][0]) == ascii("我爸突然一边脸耷拉下来，手也抬不起来")  # as read here, in UTF-8


def test_the_files_name_their_encoding(monkeypatch):
    """The same, in this process: a file opened without naming its encoding gets ASCII here, as under LANG=C."""
    default = io.text_encoding
    monkeypatch.setattr(io, "text_encoding", lambda encoding, stacklevel=2: default(encoding or "ascii", stacklevel))
    assert RedFlags.load().by_rules("胸口剧痛") == "chest_pain"
    assert Examples.load().statements["stroke"][0] == "我爸突然一边脸耷拉下来，手也抬不起来"


def test_context_words_of_the_file_are_read_in_lower_case_and_simplified(monkeypatch, tmp_path):
    text = BURN + """
[context]
history = ["YEARS AGO"]
general = ["WHAT IF"]
mild = ["A BIT"]
breaks = ["NOW"]
figures = ["笑得喘不上氣", "NEARLY HAD A HEART ATTACK"]
[emergency.breathing]
zh_notice = "c"
en_notice = "d"
phrases = ["喘不上气", "heart attack", "breath ~ short"]
"""
    flags = operator_rules(monkeypatch, tmp_path, text)
    assert flags.by_rules("Years ago I had a severe burn") is None
    assert flags.by_rules("Years ago I had a severe burn now I have a severe burn again") == "burn"
    assert flags.by_rules("what if I get a severe burn") is None
    assert flags.by_rules("my breath is a bit short") is None
    assert flags.by_rules("my breath is short") == "breathing"
    assert flags.by_rules("笑得喘不上气") is None  # the figure, written in traditional characters
    assert flags.by_rules("I nearly had a heart attack at the price") is None
    assert flags.by_rules("喘不上气") == "breathing"


def test_a_file_with_only_the_advice_rule(monkeypatch, tmp_path):
    text = '[advice]\nzh_notice = "找医生"\nen_notice = "See a doctor"\nphrases = ["开药"]\n'
    found = operator_rules(monkeypatch, tmp_path, text).assess("帮我开药")
    assert (found.emergency, found.advice, found.advice_notices) == (None, True, {"zh": "找医生", "en": "See a doctor"})


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[emergency.x]\nzh_notice = "a"\nen_notice = "b"\nphrases = ["胸痛 + "]\n', "rule 'x' in {path} has an empty part"),
        ('[emergency.x]\nzh_notice = "a"\nen_notice = "b"\nphrases = ["胸口 ~ 痛 ~ 疼"]\n', "rule 'x' in {path} has an option with two"),
        ('[emergency.x]\nzh_notice = "a"\nen_notice = "b"\nphrases = ["@nothing + 痛"]\n', "rule 'x' in {path} uses @nothing"),
        ('[emergency.x]\nzh_notice = "a"\nphrases = ["胸痛"]\n', "rule 'x' in {path} is incomplete"),
        ('[emergency.x]\nzh_notice = "a"\nen_notice = "b"\n', "rule 'x' in {path} is incomplete"),
        ('[emergency.x]\nzh_notice = "call {zh_crisis}"\nen_notice = "b"\nphrases = ["胸痛"]\n', "rule 'x' in {path} is incomplete"),
        ('[advice]\nzh_notice = "a"\nen_notice = "b"\n', "rule 'advice' in {path} is incomplete"),
        ("[emergency.x\n", "Cannot read the red-flag rules in {path}"),
        ('[context]\nhistory = 3\n[emergency.x]\nzh_notice = "a"\nen_notice = "b"\nphrases = ["胸痛"]\n', "The [context] of {path} is malformed"),
        ('[emergency.x]\nzh_notice = "a"\nen_notice = "b"\nzh_notice_other = "c"\nphrases = ["胸痛"]\n', "rule 'x' in {path} is incomplete"),
    ],
    ids=["empty-part", "two-windows", "unknown-list", "no-en-notice", "no-phrases", "unknown-number", "no-advice-phrases", "broken-toml",
         "bad-context", "one-other-notice"],
)  # fmt: skip
def test_a_malformed_rules_file_is_refused_with_a_reason(monkeypatch, tmp_path, text, says):
    with pytest.raises(RulesError, match=re.escape(says.format(path=tmp_path / "redflags.toml"))):
        operator_rules(monkeypatch, tmp_path, text)


def test_a_missing_rules_file_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("ARTICLEBOT_REDFLAGS", str(tmp_path / "nowhere.toml"))
    monkeypatch.setenv("ARTICLEBOT_REDFLAG_MEANING", "0")
    with pytest.raises(RulesError, match=re.escape(f"Cannot read the red-flag rules in {tmp_path / 'nowhere.toml'}")):
        open_red_flags(Config.from_env())


# --- the meaning layer ----------------------------------------------------------------------

# no rule matches these; their meaning does
MEANING_ONLY = [
    ("我觉得活着就是给家里添麻烦，不如消失算了", "suicide"),
    ("我爸倒在沙发上眼睛紧闭 掐人中也没用", "unconscious"),
    ("my heart feels like it's being squeezed by a fist and my left arm tingles", "chest_pain"),
    ("grandpa's talking like his mouth is full of marbles and his left hand won't grip", "stroke"),
]


@pytest.mark.parametrize(("message", "category"), MEANING_ONLY)
def test_the_meaning_layer_flags_an_emergency_no_rule_lists(rules, red_flags, message, category):
    assert rules.by_rules(message) is None and rules.assess(message).emergency is None
    found = red_flags.assess(message)
    assert (found.emergency, found.by, found.notices, found.advice) == (category, "meaning", NOTICES[category], False)
    probability, named = red_flags.meaning.score(message)
    assert named == category and red_flags.meaning.threshold <= probability <= 1.0


@pytest.mark.parametrize("message", ["瘦脸针多久见效", "How long does lip filler last?"])
def test_the_meaning_layer_leaves_ordinary_questions_alone(red_flags, message):
    found = red_flags.assess(message)
    assert (found.emergency, found.by, found.notices) == (None, None, None)
    probability, _ = red_flags.meaning.score(message)
    assert 0.0 <= probability < 0.05


def test_a_figure_of_speech_weighs_nothing_in_the_meaning_layer_either(red_flags, monkeypatch):
    message = "看到账单我直接窒息"  # "I'm speechless at the bill"; the words left say nothing alarming
    assert red_flags.for_meaning(message) == "看到账单我"
    with_figure, _ = red_flags.meaning.score(message)
    without, _ = red_flags.meaning.score(red_flags.for_meaning(message))
    assert without < 0.5 * with_figure
    read = []
    category = red_flags.meaning.category
    monkeypatch.setattr(red_flags.meaning, "category", lambda text: read.append(text) or category(text))
    assert red_flags.assess(message).emergency is None and read == ["看到账单我"]  # what assess hands the layer


def test_a_category_the_rules_file_lacks_is_not_reported(tmp_path, red_flags):
    path = tmp_path / "redflags.toml"
    path.write_text(BURN, "utf-8")
    flags = RedFlags.load(path, meaning=red_flags.meaning)  # the layer knows "suicide"; this file does not
    assert flags.assess("我觉得活着就是给家里添麻烦，不如消失算了").emergency is None


RAMBLING = ("谢谢你上次回答我玻尿酸的价格，我已经约了下个月。另外我爷爷刚才吃着饭突然从椅子上滑下去，现在躺在地上怎么拍都拍不醒。"
            "下个月打玻尿酸天气会不会太冷？")  # fmt: skip


def test_a_long_message_is_read_sentence_by_sentence(red_flags, monkeypatch):
    """The emergency is one sentence among chatter: the whole message's vector dilutes it, its
    sentence alone does not."""
    layer = red_flags.meaning
    whole, _ = layer.score_vector(layer.vector(RAMBLING))
    assert whole < layer.threshold and len(layer.sentences(RAMBLING)) == 2  # the last is too short to be read alone
    assert layer.examples.sentence_threshold == 0.85
    probability, category = layer.score(RAMBLING)
    assert probability >= layer.examples.sentence_threshold and category == "unconscious"
    assert layer.category(RAMBLING) == "unconscious" == layer.category_of_vector(layer.vector(RAMBLING), RAMBLING)
    assert layer.category_of_vector(layer.vector(RAMBLING)) is None  # without the text, only the vector is read
    sentence = max(layer.score_vector(layer.vector(s))[0] for s in layer.sentences(RAMBLING))
    configured = layer.threshold
    monkeypatch.setattr(layer, "threshold", float(np.nextafter(sentence, 1.0)))  # an operator's stricter threshold
    assert layer.category(RAMBLING) is None  # holds for the sentences too, though sentence_threshold is lower
    monkeypatch.setattr(layer, "threshold", configured)
    monkeypatch.setattr(layer.examples, "sentence_threshold", 1.0)  # switched off
    assert layer.category(RAMBLING) is None and layer.score(RAMBLING)[0] == whole


def test_a_long_message_is_read_for_meaning_within_bounds(red_flags, monkeypatch):
    """A story of hundreds of sentences: the meaning layer embeds at most MAX_SENTENCES of them
    (the first and the last) and at most MAX_MEANING_CHARS of any text (its start and end),
    so its cost is bounded; the rules still read every word."""
    from retrieval.redflag_meaning import (
        FIRST_SENTENCES,
        MAX_MEANING_CHARS,
        MAX_SENTENCES,
    )

    layer = red_flags.meaning
    story = [f"第{n}天我去了公司，和同事一起讨论了项目的进展情况，大家都很认真。" for n in range(1, 301)]
    sentences = layer.sentences("".join(story))
    assert len(sentences) == MAX_SENTENCES
    assert sentences[:FIRST_SENTENCES] == story[:FIRST_SENTENCES]
    assert sentences[FIRST_SENTENCES:] == story[-(MAX_SENTENCES - FIRST_SENTENCES):]
    embedded = []
    real = layer.encoder.encode_queries
    monkeypatch.setattr(layer, "_embed", None)
    monkeypatch.setattr(layer.encoder, "encode_queries", lambda texts: embedded.extend(texts) or real(texts))
    assert red_flags.assess("".join(story)).emergency is None
    assert 1 < len(embedded) <= MAX_SENTENCES + 1 and max(map(len, embedded)) <= MAX_MEANING_CHARS + 3
    assert embedded[0].startswith(story[0]) and embedded[0].endswith(story[-1])  # the whole, by its start and end
    assert red_flags.assess("".join(story) + "我妈刚才突然嘴歪了，说话也含糊不清").emergency == "stroke"  # rules: every word


def test_a_short_message_is_not_split():
    from retrieval.redflag_meaning import MeaningLayer

    assert MeaningLayer.sentences("我爷爷晕倒了。叫不醒") == []  # too short to be read alone
    # "I want to go again" (another botox session) would read as suicide on its own
    assert MeaningLayer.sentences("My eyelid drooped a little after botox months ago and it went away. I want to go again.") == []
    assert MeaningLayer.sentences("just one sentence here, no end") == []


def _examples_with_threshold(tmp_path, threshold: float):
    path = tmp_path / f"examples-{threshold!r}.toml"
    path.write_text(re.sub(r"(?m)^threshold = .*$", f"threshold = {threshold!r}", DEFAULT_EXAMPLES.read_text("utf-8")), "utf-8")
    return path


def test_a_message_exactly_at_the_threshold_is_flagged_and_a_hair_below_is_not(tmp_path, red_flags, e5, warm_vectors):
    message = "我爸倒在沙发上眼睛紧闭 掐人中也没用"
    probability, category = red_flags.meaning.score(message)  # the bundled examples, threshold 0.8
    assert category == "unconscious" and red_flags.meaning.threshold < probability < 1.0
    cache = VectorCache(warm_vectors)
    at = MeaningLayer(Examples.load(_examples_with_threshold(tmp_path, probability)), e5, cache)
    above = MeaningLayer(Examples.load(_examples_with_threshold(tmp_path, float(np.nextafter(probability, 1.0)))), e5, cache)
    cache.close()
    assert at.category(message) == "unconscious"
    assert above.category(message) is None


def test_the_examples_file_named_in_the_environment_sets_the_threshold(monkeypatch, tmp_path, warm_vectors):
    data = tmp_path / "data"  # ARTICLEBOT_DATA (conftest); its vector cache already holds the statements
    data.mkdir(exist_ok=True)
    shutil.copy(warm_vectors, data / "vectors.sqlite")
    monkeypatch.setenv("ARTICLEBOT_REDFLAG_EXAMPLES", str(_examples_with_threshold(tmp_path, 0.995)))
    flags = open_red_flags(Config.from_env())
    assert flags.meaning.threshold == 0.995
    assert flags.assess("我爸倒在沙发上眼睛紧闭 掐人中也没用").emergency is None  # about 0.986: under this operator's threshold
    assert flags.assess("my heart feels like it's being squeezed by a fist and my left arm tingles").emergency == "chest_pain"


class Refusing:
    """The default model's name and size, but it may not embed anything."""

    def __init__(self, model):
        self.name, self.dim, self.query_prefix = model.name, model.dim, ""

    def encode(self, texts, **_):
        raise AssertionError(f"embedded: {texts}")


def test_a_blank_message_is_neither_embedded_nor_flagged(red_flags, e5, monkeypatch):
    monkeypatch.setattr(red_flags.meaning, "encoder", Refusing(e5))
    assert red_flags.meaning.category("") is None
    assert red_flags.meaning.category("  \n ") is None
    assert red_flags.assess(" \t ").emergency is None


SMALL = ('[meaning]\nthreshold = 0.5\n[examples.stroke]\nstatements = ["我爸突然嘴歪了", "my mum suddenly cannot lift her arm"]\n'
         '[examples.not_emergency]\nstatements = ["瘦脸针多久见效", "how long does filler last"]\n')  # fmt: skip


def test_the_layer_embeds_its_examples_as_questions_and_caches_them(tmp_path, e5):
    path = tmp_path / "examples.toml"
    path.write_text(SMALL, "utf-8")
    cache = VectorCache(tmp_path / "vectors.sqlite")
    layer = MeaningLayer(Examples.load(path), e5, cache)
    questions = encode_queries(e5, ["我爸突然嘴歪了", "my mum suddenly cannot lift her arm", "瘦脸针多久见效", "how long does filler last"])
    np.testing.assert_allclose(layer.example_vectors, questions, atol=1e-5)
    again = MeaningLayer(Examples.load(path), Refusing(e5), cache)  # the vectors come from the cache
    cache.close()
    np.testing.assert_array_equal(again.example_vectors, layer.example_vectors)


def test_with_no_signal_in_the_vectors_the_layer_learns_how_common_each_category_is(tmp_path, e5):
    # scale 0.001: the vectors barely move the logits, so all the classifier can learn is that one
    # example in four is a stroke; every message then scores 1/4
    path = tmp_path / "examples.toml"
    path.write_text('[meaning]\nthreshold = 0.5\nscale = 0.001\n[examples.stroke]\nstatements = ["我爸突然嘴歪了"]\n'
                    '[examples.not_emergency]\nstatements = ["瘦脸针多久见效", "how long does filler last", "botox多少钱"]\n', "utf-8")  # fmt: skip
    cache = VectorCache(tmp_path / "vectors.sqlite")
    layer = MeaningLayer(Examples.load(path), e5, cache)
    cache.close()
    for message in ("我妈突然嘴歪了", "hello"):
        probability, category = layer.score(message)
        assert category == "stroke" and probability == pytest.approx(0.25, abs=0.001)
        assert layer.category(message) is None  # under the threshold of 0.5


def _kept_in(data, examples, model) -> None:
    """The examples' vectors are in the data folder's vector cache: a layer built from it embeds nothing."""
    cache = VectorCache.in_data_dir(data)
    MeaningLayer(Examples.load(examples), Refusing(model), cache)
    cache.close()


def test_the_layer_shares_the_search_model_and_its_question_vectors(tmp_path, bundled_data, e5, monkeypatch):
    from retrieval.index import Index
    from retrieval.search import Searcher

    searcher = Searcher(Index.load(bundled_data, e5.name), e5)
    shared = []
    encode_one = searcher.queries[0].encode_one

    def spy(text):
        shared.append(text)
        return encode_one(text)

    monkeypatch.setattr(searcher.queries[0], "encode_one", spy)
    examples = tmp_path / "examples.toml"
    examples.write_text(SMALL, "utf-8")
    layer = for_search(searcher, examples, tmp_path / "data")
    searcher.index.close()
    assert layer.encoder is e5  # no second copy of the model
    assert layer.category("我妈突然嘴歪了") == "stroke"
    assert shared == ["我妈突然嘴歪了"]  # embedded once, through the search's own batcher
    _kept_in(tmp_path / "data", examples, e5)  # the next start embeds none of the examples


def test_without_a_search_model_the_layer_has_its_own_model(tmp_path, e5):
    examples = tmp_path / "examples.toml"
    examples.write_text(SMALL, "utf-8")
    layer = for_search(path=examples)  # nothing to share, nowhere to cache: its own copy of the model
    assert layer.encoder.name == "multilingual-e5-small" and layer.encoder is not e5
    assert layer.classes == ["stroke", "not_emergency"]
    assert layer.category("我妈突然嘴歪了") == "stroke"
    assert layer.category("filler能维持多久") is None
    for_search(path=examples, data_dir=tmp_path / "data")
    _kept_in(tmp_path / "data", examples, e5)


# --- the examples file ----------------------------------------------------------------------

TWO = '[examples.stroke]\nstatements = ["我爸突然嘴歪了"]\n[examples.not_emergency]\nstatements = ["瘦脸针多久见效"]\n'


def test_an_examples_file_without_scale_or_l2_gets_the_documented_defaults(tmp_path):
    path = tmp_path / "examples.toml"
    path.write_text('[meaning]\nthreshold = 0.6\n' + TWO, "utf-8")
    examples = Examples.load(path)
    assert (examples.threshold, examples.scale, examples.l2) == (0.6, 10.0, 0.001)
    assert examples.statements == {"stroke": ["我爸突然嘴歪了"], "not_emergency": ["瘦脸针多久见效"]}
    path.write_text('[meaning]\nthreshold = 0.6\nscale = 4.0\nl2 = 0.25\n' + TWO, "utf-8")
    assert (Examples.load(path).scale, Examples.load(path).l2) == (4.0, 0.25)


def test_blank_statements_are_left_out(tmp_path):
    path = tmp_path / "examples.toml"
    path.write_text('[meaning]\nthreshold = 0.6\n[examples.stroke]\nstatements = ["我爸突然嘴歪了", "  "]\n'
                    '[examples.not_emergency]\nstatements = ["", "瘦脸针多久见效"]\n', "utf-8")  # fmt: skip
    assert Examples.load(path).statements == {"stroke": ["我爸突然嘴歪了"], "not_emergency": ["瘦脸针多久见效"]}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[meaning]\nthreshold = 0.0\n" + TWO, "between 0 and 1"),
        ("[meaning]\nthreshold = 1.0\n" + TWO, "between 0 and 1"),
        ("[meaning]\nthreshold = 1.5\n" + TWO, "between 0 and 1"),
        ("[meaning]\nthreshold = -0.1\n" + TWO, "between 0 and 1"),
        (TWO, "incomplete: KeyError('threshold')"),  # the operator is told what is missing
        ("[meaning]\nthreshold = 0.5\n[examples.stroke]\nstatements = [\"我爸突然嘴歪了\"]\n", "not_emergency"),
        ("[meaning]\nthreshold = 0.5\n[examples.stroke]\nstatements = [\"我爸突然嘴歪了\"]\n[examples.bleeding]\nstatements = [\"血流不止\"]\n",
         "not_emergency"),
        ("[meaning]\nthreshold = 0.5\n[examples.not_emergency]\nstatements = [\"瘦脸针多久见效\"]\n", "at least one emergency"),
        ("[meaning]\nthreshold = 0.5\n[examples.stroke]\nstatements = [\" \"]\n[examples.not_emergency]\nstatements = [\"瘦脸针多久见效\"]\n",
         "at least one emergency"),
        ("[meaning]\nthreshold = 0.5\n[examples.stroke]\n", "incomplete"),
        ("[meaning\n", "Cannot read"),
        ("[meaning]\nthreshold = 0.8\nsentence_threshold = 0\n" + TWO, "sentence_threshold"),
        ("[meaning]\nthreshold = 0.8\nsentence_threshold = 1.2\n" + TWO, "sentence_threshold"),
    ],
    ids=["zero", "one", "above-one", "negative", "no-threshold", "no-ordinary", "two-but-no-ordinary", "no-emergency", "blank-category", "no-statements",
         "broken-toml", "sentence-zero", "sentence-above-one"],
)  # fmt: skip
def test_a_malformed_examples_file_is_refused_with_a_reason(tmp_path, text, says):
    path = tmp_path / "examples.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(ExamplesError, match=re.escape(says)):
        Examples.load(path)


def test_thresholds_just_inside_the_open_interval_are_accepted(tmp_path):
    path = tmp_path / "examples.toml"
    for threshold in (0.001, 0.999):
        path.write_text(f"[meaning]\nthreshold = {threshold}\n" + TWO, "utf-8")
        assert Examples.load(path).threshold == threshold


# --- the classifier's arithmetic, worked by hand ------------------------------------------------


def test_one_gradient_step_from_zero_weights():
    # three examples, two classes; every probability starts at 1/2, so the gradient is p - onehot = ±1/2
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    weights, bias = train(vectors, np.array([0, 1, 1]), 2, scale=2.0, l2=0.0, steps=1)
    # weights = -0.5 * (2 * x).T @ (p - onehot) / 3 ; bias = -0.5 * mean(p - onehot)
    np.testing.assert_allclose(weights, [[1 / 6, -1 / 6], [-1 / 3, 1 / 3]], atol=1e-12)
    np.testing.assert_allclose(bias, [-1 / 12, 1 / 12], atol=1e-12)


def test_two_gradient_steps_worked_by_hand():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    weights, bias = train(vectors, np.array([0, 1, 1]), 2, scale=2.0, l2=0.3, steps=2)
    w1, b1 = np.array([[1 / 6, -1 / 6], [-1 / 3, 1 / 3]]), np.array([-1 / 12, 1 / 12])  # after the first step (above)
    # second step: the logits are (1/4, -1/4) for the first example and (-3/4, 3/4) for the others, so
    # p - onehot is (-a, a) and (b, -b) with a = sigmoid(-1/2), b = sigmoid(-3/2)
    a, b = 1 / (1 + math.exp(0.5)), 1 / (1 + math.exp(1.5))
    data_gradient = np.array([[-2 * a, 2 * a], [4 * b, -4 * b]]) / 3  # (2x).T @ (p - onehot) / 3
    np.testing.assert_allclose(weights, w1 - 0.5 * (data_gradient + 0.3 * w1), atol=1e-12)
    np.testing.assert_allclose(bias, b1 - 0.5 * np.array([-a + 2 * b, a - 2 * b]) / 3, atol=1e-12)


def test_training_separates_what_it_is_shown():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    weights, bias = train(vectors, np.array([0, 1, 1]), 2, scale=2.0, l2=0.001)
    p = softmax(vectors * 2.0 @ weights + bias)
    assert p[0, 0] > 0.9 and p[1, 1] > 0.9 and p[2, 1] > 0.9


def test_softmax_rows_and_large_logits():
    np.testing.assert_allclose(softmax(np.array([0.0, math.log(3.0)])), [0.25, 0.75])
    rows = softmax(np.array([[0.0, math.log(3.0), 0.0], [math.log(2.0), 0.0, 0.0]]))
    np.testing.assert_allclose(rows, [[0.2, 0.6, 0.2], [0.5, 0.25, 0.25]])
    np.testing.assert_allclose(softmax(np.array([[1000.0, 1000.0 + math.log(3.0)]])), [[0.25, 0.75]])  # no overflow
    # each row is shifted by its own maximum: a row far below another does not underflow to 0/0
    np.testing.assert_allclose(softmax(np.array([[0.0, math.log(3.0)], [1000.0, 1000.0 + math.log(3.0)]])), [[0.25, 0.75], [0.25, 0.75]])

"""Emotion by rules: the scale handoff rules rely on (a plain complaint about -0.4, an insult
or a threat -0.7 or less), negation and intensifiers, tone, and the look-alikes that must
stay calm, since a false "angry" hands a conversation over for nothing."""

import pytest

from ai_agent.offline.emotion import emotion_detect, emotion_trend


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("太慢了", id="zh-too-slow"),
        pytest.param("不满意", id="zh-not-satisfied"),
        pytest.param("不太满意这次的包装", id="zh-not-very-satisfied"),
        pytest.param("等了这么久", id="zh-waited-so-long"),
        pytest.param("无语", id="zh-slang-speechless"),
        pytest.param("I'm disappointed", id="en-disappointed"),
        pytest.param("I'm not happy with this", id="en-not-happy"),
        pytest.param("still waiting for my parcel", id="en-still-waiting"),
        pytest.param("That didn't help.", id="en-did-not-help"),
        pytest.param("the tracking hasn't moved for 5 days", id="en-has-not-moved"),
        pytest.param("物流信息三天没更新了", id="zh-no-update"),
        pytest.param("WHERE IS MY ORDER", id="all-caps"),
        pytest.param("到底什么时候发货？？？", id="zh-impatient-questions"),
        pytest.param("😭", id="crying-emoji"),
    ],
)
def test_plain_complaints_are_mildly_negative(text):
    emotion = emotion_detect(text)
    assert emotion.label == "negative"
    assert -0.6 < emotion.score <= -0.2, emotion
    assert emotion.cues


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("垃圾", id="zh-garbage"),
        pytest.param("你们就是骗子", id="zh-liars"),
        pytest.param("这是什么破东西", id="zh-what-junk"),
        pytest.param("坑人啊", id="zh-rip-off"),
        pytest.param("我要投诉你们", id="zh-complain"),
        pytest.param("再不处理我就打12315", id="zh-12315"),
        pytest.param("我要曝光你们", id="zh-expose"),
        pytest.param("气死我了，给差评", id="zh-bad-review"),
        pytest.param("物流太慢了，差评", id="zh-slow-then-bad-review"),
        pytest.param("垃圾产品，退货！", id="zh-angry-return"),
        pytest.param("this is a scam", id="en-scam"),
        pytest.param("absolutely useless", id="en-useless"),
        pytest.param("worst service ever", id="en-worst"),
        pytest.param("wtf is this", id="en-wtf"),
        pytest.param("I will report you", id="en-report"),
        pytest.param("cancel my account now", id="en-cancel-account"),
        pytest.param("I'll never buy from you again", id="en-never-again"),
        pytest.param("this is ridiculous!!", id="en-ridiculous-shouted"),
        pytest.param("😡😡😡", id="angry-emoji"),
        pytest.param("🤬", id="cursing-emoji"),
        pytest.param("退款！！！ridiculous", id="mixed"),
    ],
)
def test_insults_and_threats_are_angry(text):
    emotion = emotion_detect(text)
    assert emotion.label == "negative"
    assert emotion.score <= -0.7, emotion


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("你好，我想查一下订单", id="zh-plain-request"),
        pytest.param("where is my order", id="en-plain-request"),
        pytest.param("我要退货", id="zh-calm-return"),
        pytest.param("I want a refund", id="en-calm-refund"),
        pytest.param("麻烦你帮我查一下", id="zh-mafan-is-please"),
        pytest.param("不好意思，我想问一下", id="zh-excuse-me"),
        pytest.param("差不多了", id="zh-chabuduo"),
        pytest.param("这个是工商银行的卡", id="zh-icbc"),
        pytest.param("I have a question about my order", id="en-question"),
        pytest.param("no thanks", id="en-no-thanks"),
        pytest.param("OK, the DHL tracking says SMS sent", id="acronyms-not-shouting"),
        pytest.param("人工知能について教えてください", id="japanese-kanji"),
        pytest.param("🙂", id="chinese-cold-smile"),
        pytest.param("", id="empty"),
    ],
)
def test_neutral_messages_stay_neutral(text):
    emotion = emotion_detect(text)
    assert emotion.label == "neutral", emotion
    assert emotion.score > -0.2


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("不错", id="zh-not-bad-is-good"),
        pytest.param("非常满意，谢谢😊", id="zh-very-satisfied"),
        pytest.param("物美价廉，好评", id="zh-good-value"),
        pytest.param("yyds", id="zh-slang-yyds"),
        pytest.param("发货速度快，666", id="zh-slang-666"),
        pytest.param("not bad", id="en-not-bad"),
        pytest.param("no complaints, great service", id="en-no-complaints"),
        pytest.param("THANK YOU SO MUCH!!!", id="en-shouted-thanks"),
        pytest.param("It works now, thank you!", id="en-works-now"),
        pytest.param("👍👍", id="thumbs-up"),
    ],
)
def test_praise_is_positive(text):
    emotion = emotion_detect(text)
    assert emotion.label == "positive", emotion
    assert emotion.score >= 0.2


def test_asking_for_the_complaint_line_is_a_warning_not_yet_a_threat():
    emotion = emotion_detect("你们的投诉电话是多少")
    assert -0.7 < emotion.score < -0.4
    assert emotion_detect("我要投诉").score <= -0.7


def test_negation_turns_feelings_around_but_only_softens_insults():
    assert emotion_detect("满意").score > 0 > emotion_detect("不满意").score
    assert emotion_detect("good").score > 0 > emotion_detect("not good").score
    assert emotion_detect("bad").score < 0 < emotion_detect("not bad").score
    assert emotion_detect("骗").score < emotion_detect("别骗我").score < 0
    # "不过" (but) and "没想到" (did not expect) are not negations.
    assert emotion_detect("没想到这么好用").label == "positive"
    # A negation negates what follows it, not a word further on.
    assert emotion_detect("你们不发货太慢了").score == emotion_detect("太慢了").score


def test_intensifiers_strengthen():
    assert emotion_detect("生气").score > emotion_detect("非常生气").score
    assert emotion_detect("非常生气").score > emotion_detect("我真的非常非常生气").score
    assert emotion_detect("slow").score > emotion_detect("so slow").score
    assert emotion_detect("满意").score < emotion_detect("非常满意").score
    assert emotion_detect("烦").score > emotion_detect("烦死了").score


def test_a_clause_before_but_counts_half():
    assert emotion_detect("谢谢，但是太慢了").label == "negative"
    assert emotion_detect("Great product but the delivery was terrible").label == "negative"


def test_repeated_marks_and_capitals_raise_the_tone():
    assert emotion_detect("where is my order???").score < emotion_detect("where is my order?").score
    assert emotion_detect("WHERE IS MY ORDER").score < emotion_detect("where is my order").score
    assert emotion_detect("退货!!!").score < emotion_detect("退货").score == 0


def test_cues_say_what_decided():
    emotion = emotion_detect("非常不满意，垃圾！😡")
    assert emotion.cues == ("非常不满意", "垃圾", "😡")


def test_full_width_text_reads_like_half_width():
    assert emotion_detect("ＷＨＥＲＥ ＩＳ ＭＹ ＯＲＤＥＲ？？") == emotion_detect(
        "WHERE IS MY ORDER??"
    )


def test_scores_stay_within_bounds():
    furious = emotion_detect("垃圾骗子黑店!!!我要投诉12315曝光你们 傻逼 😡🤬💢 SCAM FRAUD WTF")
    delighted = emotion_detect("太好了非常满意完美好评yyds!!! 😍🥰👍 THANK YOU AMAZING PERFECT")
    assert -1.0 <= furious.score <= -0.9
    assert 0.9 <= delighted.score <= 1.0


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        pytest.param([0.0, -0.2, -0.5, -0.8], 0.81, id="worsening"),
        pytest.param([-0.8, -0.5, 0.0], -0.8, id="calming-down"),
        pytest.param([-0.5, -0.5, -0.5], 0.0, id="steady"),
        pytest.param([0.4, 0.4, 0.4, 0.4, 0.4, 0.0, -0.2, -0.4, -0.6, -0.8], 0.8, id="window"),
        pytest.param([-0.3], 0.0, id="one-turn"),
        pytest.param([], 0.0, id="none"),
    ],
)
def test_emotion_trend(scores, expected):
    assert emotion_trend(scores) == pytest.approx(expected, abs=0.01)

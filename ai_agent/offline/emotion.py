"""How the customer feels, from the words of one message, for handoff rules and the agents'
view of a conversation, with no model configured.

A lexicon of Chinese and English cues, each with a weight, adjusted by what is around it:
an intensifier before a cue (非常, 太, 真的, so, very) makes it stronger; a negation (不,
没, 别, not, never) turns a plain feeling around ("不满意" is negative, "not bad" mildly
positive) but only softens an insult or a threat ("别骗我" is still not happy); a clause
before "但是"/"but" counts half. Then the message's tone: ALL CAPS, repeated "??" or "!!"
and angry emoji.

The scale, which handoff rules rely on:
  about -0.4   a plain complaint: "太慢了", "不满意", "I'm disappointed"
  -0.7 or less an insult or a threat: "垃圾", "骗子", "我要投诉", "12315", "scam",
               "I will report you", "cancel my account"
  about +0.4   thanks or praise; "不错", "great"
The label is "negative" at -0.2 or below, "positive" at 0.2 or above, else "neutral"."""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

NEGATIVE_BELOW = -0.2
POSITIVE_ABOVE = 0.2


@dataclass(frozen=True)
class Emotion:
    score: float  # -1.0 (furious) .. 0 (neutral) .. 1.0 (delighted)
    label: str  # "negative" | "neutral" | "positive"
    cues: tuple[str, ...]


# Kinds of cue: a plain feeling flips under negation; an insult or threat only softens;
# an emoji is never negated; a "demand" (return, refund, cancel) is neutral unless the
# message is angry otherwise, when saying it angrily is a threat to leave.
FEELING, INSULT, THREAT, EMOJI, DEMAND, NONE = "feeling", "insult", "threat", "emoji", "demand", ""

# Chinese cues are matched as written (longest first, so "不错" and "不好意思" are read
# before "不" can negate anything); weight 0 entries only keep a word from being misread
# ("麻烦你" is please, not annoyance; "差不多" is about, not bad).
_ZH_LEXICON: tuple[tuple[float, str, str], ...] = (
    # praise and thanks
    (0.55, FEELING, "太好了 好棒 完美"),
    (0.5, FEELING, "棒 点赞 给力 优秀 好评 性价比高 物美价廉 爱了 绝绝子 牛逼 太牛了 真牛"),
    (0.45, FEELING, "满意 喜欢 赞 靠谱 贴心 开心 高兴 不错 五星 感动 惊喜"),
    (0.4, FEELING, "感谢 很好 真好 好用 么么哒 比心"),
    (0.35, FEELING, "谢谢 多谢 谢啦 辛苦了 耐心 热情 挺好 速度快 发货快 解决了"),
    (0.3, FEELING, "谢了 专业 推荐 放心 很快 及时"),
    (0.2, FEELING, "没问题 哈哈 嘻嘻"),
    # plain complaints and impatience
    (-0.3, FEELING, "慢 着急 到底 呵呵"),
    (-0.25, FEELING, "究竟"),
    (-0.35, FEELING, "不好 醉了 服了 烦 难受 怎么回事 多久了 破损"),
    (
        -0.35,
        FEELING,
        "还没收到 还没到 还没发货 还没退 还没回复 还没处理 还没有收到 还没有发货 一直没",
    ),
    (-0.35, FEELING, "没更新 一直没 还没发货 还没收到 没人理 没人回"),
    (-0.4, FEELING, "不好用 差 无语 郁闷 心累 拖延"),
    (-0.45, FEELING, "失望 什么鬼 等了这么久"),
    (-0.5, FEELING, "太差 很差 质量差 烂 糟糕 崩溃 生气 敷衍 搞什么"),
    (-0.55, FEELING, "差劲 态度差 离谱 火大 恼火 过分 不像话 踢皮球"),
    (-0.6, FEELING, "恶心"),
    (-0.65, FEELING, "态度恶劣 气死 受够了"),
    (-0.7, FEELING, "愤怒"),
    (-0.75, FEELING, "忍无可忍"),
    # insults and profanity
    (-0.5, INSULT, "坑"),
    (-0.6, INSULT, "骗 割韭菜 智商税 忽悠 扯淡 有病吧"),
    (-0.65, INSULT, "坑爹 耍我 耍人"),
    (-0.7, INSULT, "垃圾 辣鸡 无良 坑人 什么破 破东西"),
    (-0.75, INSULT, "骗人 欺骗 废物 不要脸 无耻 流氓"),
    (-0.8, INSULT, "骗钱 黑店 奸商 白痴 脑残 弱智 妈的 他妈 滚蛋 给我滚"),
    (-0.85, INSULT, "骗子 诈骗 欺诈"),
    (-0.9, INSULT, "傻逼 煞笔 傻b 去死"),
    # threats: escalate, expose, sue, leave
    (-0.6, THREAT, "一星 拉黑 投诉电话"),
    (-0.7, THREAT, "维权 差评 找媒体 再也不买 再也不来 再也不用"),
    (-0.75, THREAT, "投诉 消协 消费者协会 工商局 市场监管 曝光 举报 律师"),
    (-0.8, THREAT, "起诉 告你们 法院 打官司 报警"),
    # said angrily, a demand is a threat to leave; said calmly, a request
    (-0.35, DEMAND, "退货 退款 取消订单"),
    (-0.4, DEMAND, "退钱"),
    # words that only look like cues
    (0, NONE, "不好意思 麻烦 差不多 差一点 差点 差价 出差 差额 时差 误差 慢慢 赞助 工商银行"),
    (0, NONE, "没关系 不客气 坑位 骗子短信"),
)
_ZH_CUES = {word: (weight, kind) for weight, kind, words in _ZH_LEXICON for word in words.split()}

# Written with digits or Latin letters, matched on their own.
_TOKEN_CUES: tuple[tuple[str, float, str], ...] = (
    (r"(?<!\d)12315(?!\d)", -0.8, THREAT),
    (r"(?<![a-z0-9])6{3,}(?!\d)", 0.4, FEELING),
    (r"(?<![a-z])yyds(?![a-z])", 0.6, FEELING),
    (r"(?<![a-z])(?:sb|tmd|nmsl|cnm|mlgb)(?![a-z])", -0.85, INSULT),
)

# English cues are regular expressions matched on whole words, lower case, in this order
# (phrases before the words inside them).
_EN_CUES: tuple[tuple[str, float, str], ...] = (
    # words that only look like cues
    (r"no problem|no worries", 0.2, FEELING),
    (r"no complaints?", 0.35, FEELING),
    (r"no thanks?|no thank you|thanks? in advance|would love|'d love|’d love", 0, NONE),
    (r"not only", 0, NONE),
    # threats
    (r"(?:i will |i'll |gonna |going to )?report (?:you|this|your)\w*", -0.75, THREAT),
    (r"(?:i will |i'll |going to |gonna )?sue (?:you|your|them|the)\w*", -0.8, THREAT),
    (r"lawyer|attorney|lawsuit|legal action|take you to court|small claims", -0.8, THREAT),
    (r"cancel my (?:account|subscription|membership)", -0.7, THREAT),
    (r"(?:close|delete) my account", -0.6, THREAT),
    (r"never (?:buy|order|shop|use|come)\w* (?:from|with|here|again|you)\w*", -0.7, THREAT),
    (r"never again|last time i (?:buy|order|shop|use)", -0.6, THREAT),
    (r"bad review|negative review|one star|1 star|1-star|zero stars?", -0.7, THREAT),
    (r"chargeback|dispute (?:the|this) charge", -0.7, THREAT),
    (r"better business bureau|bbb|consumer protection|trading standards|ftc", -0.75, THREAT),
    (r"complain(?:t|ts|ing|ed)?", -0.7, THREAT),
    (r"expose you", -0.75, THREAT),
    # insults and profanity
    (r"scam(?:s|mer|mers|med)?|fraud(?:ulent|sters?)?|rip ?-?off", -0.8, INSULT),
    (r"liars?|lying|cheat(?:s|ed|ing|ers?)?|thie(?:f|ves)|stole|stealing", -0.75, INSULT),
    (r"f+u+c+k\w*|f\*+ck\w*|fck\w*|wtf|stfu|bullshit|shit\w*", -0.85, INSULT),
    (r"idiots?|stupid|morons?|incompetent|pathetic", -0.75, INSULT),
    (r"useless|worthless|garbage|trash|junk|crap\w*", -0.7, INSULT),
    (r"worst", -0.75, INSULT),
    (r"what the (?:hell|heck)|the hell|damn\w*|goddamn", -0.55, INSULT),
    (r"sucks?", -0.6, INSULT),
    # plain feelings
    (r"not happy", -0.4, FEELING),
    (r"terrible|horrible|awful|disgusting|disaster|nightmare", -0.65, FEELING),
    (r"ridiculous|absurd|unacceptable|outrageous|unbelievable|insane|nonsense", -0.6, FEELING),
    (r"hate", -0.65, FEELING),
    (r"furious|pissed(?: off)?|livid", -0.8, FEELING),
    (r"fed up|sick of|tired of|had enough", -0.6, FEELING),
    (r"waste of (?:time|money)", -0.6, FEELING),
    (r"angry|mad", -0.55, FEELING),
    (r"disappoint\w*|frustrat\w*|upset|unhappy", -0.45, FEELING),
    (r"annoy\w*|irritat\w*", -0.4, FEELING),
    (r"still waiting|still not|still haven't|still no", -0.4, FEELING),
    (r"(?:didn't|did not|doesn't|does not|won't) help|not helpful|no help", -0.4, FEELING),
    (r"(?:hasn't|has not|haven't|have not) (?:arrived|moved|come|shipped|changed)", -0.4, FEELING),
    (
        r"never (?:arrived|received|got|came)|nobody|no one (?:replied|answered|responded)",
        -0.45,
        FEELING,
    ),
    (r"a joke", -0.45, FEELING),
    (r"bad|poor|defective", -0.45, FEELING),
    (r"broken|damaged", -0.35, FEELING),
    (r"slow|delay(?:ed)?|late", -0.3, FEELING),
    (r"wrong", -0.25, FEELING),
    (r"thank you|thanks|thx|cheers|appreciate\w*", 0.4, FEELING),
    (r"awesome|excellent|amazing|wonderful|fantastic|brilliant|outstanding", 0.6, FEELING),
    (r"perfect|love it|love this|love you\w*|lovely", 0.55, FEELING),
    (r"great|helpful|satisfied|pleased|impressed", 0.5, FEELING),
    (r"happy|glad|like it|liked it|nice|good", 0.4, FEELING),
    (r"resolved|solved|fixed|works now|working now", 0.35, FEELING),
    (r"cool|fast|quick", 0.2, FEELING),
    # demands
    (r"refund|money back|return (?:it|this|the|my)|cancel (?:my|the) order", -0.35, DEMAND),
)

# Emoji and WeChat's bracketed emoticons. 🙂 and [微笑] are left out on purpose: in Chinese
# chats the "smile" is as often a cold one.
_EMOJI_LEXICON: tuple[tuple[float, str], ...] = (
    (-0.85, "🖕"),
    (-0.75, "🤬"),
    (-0.6, "😡 👿 💩 [发怒] [菜刀]"),
    (-0.55, "😠 💢"),
    (-0.5, "[抓狂] [鄙视] [便便]"),
    (-0.45, "👎"),
    (-0.4, "😤"),
    (-0.35, "😒 🙄 😭 😩 😫 [大哭] [白眼]"),
    (-0.3, "😞 😔 😢 ☹ 🙁 [流泪] [委屈]"),
    (0.3, "🙏 🌹 [玫瑰] [抱拳] [握手]"),
    (0.35, "😀"),
    (0.4, "😊 😄 😁 😃 😘 👍 👏 🎉 [强] [爱心]"),
    (0.45, "❤ 💕 💯"),
    (0.5, "🥰 😍"),
)
_EMOJI_CUES = {emoji: weight for weight, emojis in _EMOJI_LEXICON for emoji in emojis.split()}

_CUES = re.compile(
    "|".join(
        [f"({re.escape(word)})" for word in sorted(_ZH_CUES, key=len, reverse=True)]
        + [f"({re.escape(emoji)})" for emoji in sorted(_EMOJI_CUES, key=len, reverse=True)]
        + [f"({pattern})" for pattern, _, _ in _TOKEN_CUES]
        + [rf"(?<![a-z'’])({pattern})(?![a-z])" for pattern, _, _ in _EN_CUES]
    )
)
# What each group of _CUES means, in order: (weight, kind).
_GROUPS: list[tuple[float, str]] = (
    [_ZH_CUES[word] for word in sorted(_ZH_CUES, key=len, reverse=True)]
    + [(_EMOJI_CUES[emoji], EMOJI) for emoji in sorted(_EMOJI_CUES, key=len, reverse=True)]
    + [(weight, kind) for _, weight, kind in _TOKEN_CUES + _EN_CUES]
)

_ZH_INTENSIFIER = re.compile(
    r"非常|特别|超级|十分|极其|相当|实在|简直|真的|太|超|真|很|好|巨|贼|最(?!近|后)|更|这么|那么"
)
_ZH_NEGATOR = re.compile(r"毫不|并不|一点也不|一点都不|绝不|从不|从没|不是|不|没有|没|别|未|无法")
# A negator that is part of another word does not negate: "不过" (but), "没想到" (didn't
# expect: "没想到这么好" is praise), "别人" (others).
_NOT_NEGATING = re.compile(r"不过|不仅|不但|不管|不久|不少|不用|不得不|不然|没想到|没事|别人|别的")
# In Chinese a negation sits right before what it negates, at most with a degree word
# between ("不满意", "不太满意", "不是很满意"); "不发货太慢了" does not negate "慢".
_ZH_NEGATED_GAP = re.compile(r"(?:是|太|很|怎么|那么|够|大|算|是很|是太|太过)?")
_EN_INTENSIFIER = re.compile(
    r"\b(?:so|very|really|extremely|super|totally|absolutely|completely|utterly|incredibly|"
    r"too|most|such|truly|seriously)\b"
)
_EN_NEGATOR = re.compile(r"n't\b|n’t\b|\b(?:not|no|never|without|hardly|barely|nor|cannot)\b")
_SUFFIX_INTENSIFIER = re.compile(r"\s*(?:死了|透了|极了|爆了|到家了|死)")
_CLAUSE_END = re.compile(r"[,.;!?，。；！？、\n]")
_CONTRAST = re.compile(r"但是|可是|不过|然而|(?<!不)但|\bbut\b|\bhowever\b")
_REPEATED_QUESTION = re.compile(r"\?{2,}|!+\?|\?+!")
_REPEATED_EXCLAMATION = re.compile(r"!{2,}")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_KANA = re.compile(r"[\u3040-\u30ff]")

INTENSIFIER_FACTOR = 1.3
MAX_INTENSITY = 1.6
NEGATED_FEELING = -0.9  # "不满意" is almost as strong as "满意", the other way
NEGATED_NEGATIVE = -0.5  # "not bad" is faint praise
NEGATED_INSULT = 0.3  # "别骗我" still is not happy
BEFORE_CONTRAST = 0.5
AROUSAL_FACTOR = 1.2
SHOUTING = -0.35
IMPATIENT_PUNCTUATION = -0.3


def emotion_detect(text: str, *, language: str = "") -> Emotion:
    """The feeling in one message. Both rule sets run whatever `language` says, since
    customers mix them ("退款!! ridiculous"); Chinese cues are skipped for Japanese
    (`language="ja"` or kana in the text), which writes the same characters with other
    meanings."""
    normalized = unicodedata.normalize("NFKC", text or "")
    lowered = normalized.lower()
    japanese = language == "ja" or bool(_KANA.search(normalized))
    contrast = max((m.end() for m in _CONTRAST.finditer(lowered)), default=0)
    contributions: list[tuple[float, str, str]] = []  # (value, kind, cue as written)
    for match in _CUES.finditer(lowered):
        weight, kind = _GROUPS[match.lastindex - 1]
        if kind == NONE or (japanese and _is_han(match[match.lastindex][0])):
            continue
        start, end = match.span(match.lastindex)
        value, cue_start = _adjusted(lowered, start, end, weight, kind)
        if start < contrast:
            value *= BEFORE_CONTRAST
        contributions.append((value, kind, normalized[cue_start:end]))

    aroused = bool(_REPEATED_EXCLAMATION.search(lowered))
    if _is_shouting(normalized):
        aroused = True
        if not any(value > 0 for value, _, _ in contributions):
            contributions.append((SHOUTING, FEELING, "ALL CAPS"))
    if question := _REPEATED_QUESTION.search(lowered):
        contributions.append((IMPATIENT_PUNCTUATION, FEELING, question[0]))

    # A demand counts only when something else in the message is angry.
    angry = aroused or any(value < 0 and kind != DEMAND for value, kind, _ in contributions)
    contributions = [c for c in contributions if c[1] != DEMAND or (angry and c[0] < 0)]
    if aroused:
        dominant = sum(value for value, _, _ in contributions)
        contributions = [
            (value * AROUSAL_FACTOR if value * dominant > 0 else value, kind, cue)
            for value, kind, cue in contributions
        ]

    positive = _combine(value for value, _, _ in contributions if value > 0)
    negative = _combine(-value for value, _, _ in contributions if value < 0)
    score = round(max(-1.0, min(1.0, positive - negative)), 2)
    return Emotion(score=score, label=_label(score), cues=tuple(cue for _, _, cue in contributions))


def emotion_trend(scores: Sequence[float], *, window: int = 5) -> float:
    """How much more negative the last `window` turns got: the drop along the least-squares
    line through them, from the first of them to the last. Above 0 the customer is getting
    angrier ([0, -0.2, -0.5, -0.8] gives 0.81); one turn or none gives 0."""
    recent = list(scores)[-window:]
    count = len(recent)
    if count < 2:
        return 0.0
    mean_x = (count - 1) / 2
    mean_y = sum(recent) / count
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(recent))
    variance = sum((x - mean_x) ** 2 for x in range(count))
    drop = -covariance / variance * (count - 1)
    return round(max(-2.0, min(2.0, drop)), 2)


def _adjusted(text: str, start: int, end: int, weight: float, kind: str) -> tuple[float, int]:
    """The cue's weight after the intensifiers and negations before it in its clause, and
    where the cue, with them, starts."""
    if kind == EMOJI:
        return weight, start
    clause_start = max((m.end() for m in _CLAUSE_END.finditer(text, 0, start)), default=0)
    latin = text[start].isascii()
    if latin:
        words = list(re.finditer(r"[\w'’*]+", text[clause_start:start]))[-3:]
        window_start = clause_start + words[0].start() if words else start
        negators, intensifiers = _EN_NEGATOR, _EN_INTENSIFIER
    else:
        window_start = max(clause_start, start - 5)
        negators, intensifiers = _ZH_NEGATOR, _ZH_INTENSIFIER
    window = text[window_start:start]
    negation = None
    for found in negators.finditer(window):
        if _NOT_NEGATING.match(window, found.start()):
            continue
        if latin or _ZH_NEGATED_GAP.fullmatch(window, found.end()):
            negation = found
    intensity = 1.0
    cue_start = start
    for found in intensifiers.finditer(window):
        if negation and found.start() >= negation.start():
            continue  # "不太满意" is milder than "满意", not stronger
        intensity = min(MAX_INTENSITY, intensity * INTENSIFIER_FACTOR)
        cue_start = min(cue_start, window_start + found.start())
    if not latin and _SUFFIX_INTENSIFIER.match(text, end):
        intensity = min(MAX_INTENSITY, intensity * INTENSIFIER_FACTOR)
    value = weight * intensity
    if negation:
        cue_start = min(cue_start, window_start + negation.start())
        if kind in (INSULT, THREAT, DEMAND):
            value *= NEGATED_INSULT
        else:
            value *= NEGATED_FEELING if value > 0 else NEGATED_NEGATIVE
    return max(-1.0, min(1.0, value)), cue_start


def _label(score: float) -> str:
    if score <= NEGATIVE_BELOW:
        return "negative"
    return "positive" if score >= POSITIVE_ABOVE else "neutral"


def _is_shouting(text: str) -> bool:
    """Most of the Latin letters in capitals, over at least two words and eight letters
    (so "OK", "DHL" or "SMS" in a sentence are not shouting)."""
    words = _LATIN_WORD.findall(text)
    letters = sum(len(word) for word in words)
    capitals = sum(len(word) for word in words if word.isupper())
    return len(words) >= 2 and letters >= 8 and capitals >= 0.7 * letters


def _combine(magnitudes) -> float:
    """The strongest cue, plus half of what each further cue adds towards 1: two plain
    complaints are more than one, yet never an insult."""
    total = 0.0
    for index, magnitude in enumerate(sorted(magnitudes, reverse=True)):
        total += (1 - total) * magnitude * (1 if index == 0 else 0.5)
    return total


def _is_han(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"

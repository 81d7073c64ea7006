"""What the customer wants from one message, by rules, in Chinese and English, for the offline
engine (and as a cheap first look when a model is configured).

Precision before recall: a false "human" hands the conversation to a person for nothing, so
"human" needs a request ("转人工", "talk to a person"), and asking whether one is talking to
a bot ("你是机器人吗", "are you a real person?") is a question, not a request: the agent
answers it honestly and carries on; "不用转人工" and "I don't need an agent" are no request
either.

Then, in this order: the business intents (refund, complaint, logistics, order status,
pricing, purchase) by the weight of their cues, so "我的订单到哪了" is logistics (where is it)
rather than order status, and "垃圾!我要退货" a refund (what to do) rather than a
complaint (how it feels, which emotion_detect measures); contact details given on their
own; a general question; thanks, goodbye, greeting; else "other"."""

import re
import unicodedata
from dataclasses import dataclass

from .entities import contacts_extract, order_numbers_extract

INTENTS = (
    "greeting",
    "human",
    "question",
    "order_status",
    "logistics",
    "pricing",
    "purchase",
    "refund",
    "complaint",
    "contact_info",
    "thanks",
    "goodbye",
    "other",
)


@dataclass(frozen=True)
class Intent:
    name: str  # one of INTENTS
    confidence: float  # 0..1
    cues: tuple[str, ...]  # the words that decided it, as written, for the run log


# --- asking for a person -----------------------------------------------------------------

_HUMAN_ZH = re.compile(
    r"人工(?!智能|知能|费|成本|合成|降|养殖|种植|草|湖|岛|呼吸|授精|造|的|服务费|做|制|缝|打磨|质检)"
    r"|真人客服|有没有真人(?:客服|在|回复|接待)|真人(?:来|回复|回答|接|说话|聊)"
    r"|(?:要|找|转|换|叫|让|跟|和)个?真人(?!图|照|秀|拍|版|尺寸|视频|模特|一样|大小|比例)"
    r"|活人"
    r"|(?:找|叫|要|转|换|接|联系|让|喊)(?:一下|个|你们的?)?客服(?!问过|说过|了|都)"
    r"|客服(?:呢|在哪|出来|快来)"
    r"|(?:找|叫|让|要|喊|请)(?:你们的?)?(?:经理|主管|负责人|领导|老板|上级|店长)(?!娘|同款)"
    r"|(?:经理|主管|负责人|领导|老板|店长)(?:呢|在哪|出来)"
    r"|(?:不要|不想|别|不跟|不和|受够了|讨厌)(?:跟|和|再|用)?(?:机器人|自动回复|ai\b|智能客服)",
    re.IGNORECASE,
)
_HUMAN_EN = re.compile(
    r"\b(?:talk|speak|chat|connect|transfer|put me through|reach)\b(?:\s+[\w']+){0,5}?"
    r"\s+(?:human|humans|person|agent|representative|rep|operator|someone|somebody|manager|"
    r"supervisor|staff|team member)\b"
    r"|\b(?:get|want|need|give|request|get me|send)\b(?:\s+[\w']+){0,3}?\s+"
    r"(?:human|real person|live person|live agent|human agent|agent|representative|operator|"
    r"manager|supervisor)\b"
    r"|\b(?:real|live|actual) (?:person|human|agent)\b"
    r"|\b(?:don't|do not) want (?:to (?:talk|speak|chat) (?:to|with) )?(?:a |the |this |your )?"
    r"(?:bot|robot|machine|ai|chatbot)\b"
    r"|\bstop (?:the |this )?(?:bot|robot|chatbot)\b",
    re.IGNORECASE,
)
# The whole message is the request: "人工", "客服!", "human please", "agent".
_HUMAN_ALONE = re.compile(
    r"(?:转?人工|客服|真人|human|agent|live agent|real person|representative|operator|"
    r"customer service|customer support)(?:\s*(?:please|pls|plz|now|asap|谢谢|呢|啊|吧))?",
    re.IGNORECASE,
)
# "Are you a bot?": a question about us, not a request.
_BOT_QUESTION = re.compile(
    r"(?:请问)?(?:现在|这边|对面)?(?:你|您|这|对面)?(?:是不是|是)(?:个)?"
    r"(?:真人|机器人|人工|人|ai|智能客服|自动回复|bot)(?:吗|嘛|么|呢|啊|吧)?"
    r"(?:还是(?:个)?(?:真人|机器人|人工|人|ai|自动回复)(?:吗|呢|啊)?)?"
    r"|(?:are you|r u|is this|is it|is that|am i (?:talking|speaking|chatting) (?:to|with))\s+"
    r"(?:a |an |the )?(?:real |actual |live )?"
    r"(?:human|bot|robot|person|ai|machine|computer|automated|chatbot|agent)"
    r"(?:\s+or\s+(?:a |an )?(?:real |actual |live )?"
    r"(?:human|bot|robot|person|ai|machine|computer|chatbot|agent))?",
    re.IGNORECASE,
)
_HUMAN_NEGATION = re.compile(
    r"(?:不用|不需要|不要|不必|无需|没必要|别)(?:再|帮我)?(?:转|找|叫|要|接)?$"
    r"|\b(?:don't|do not|doesn't|no|never mind)\b(?:\s+[\w']+){0,3}\s*$",
    re.IGNORECASE,
)
_KANA = re.compile(r"[\u3040-\u30ff]")
_CLAUSES = re.compile(r"[^,.;!?，。；！？\n]+")


def wants_human(text: str, *, language: str = "") -> bool:
    """Whether the customer asks for a person. Asking whether they talk to a bot is not
    asking for a person ("你是机器人吗?" is answered, not handed over)."""
    text = unicodedata.normalize("NFKC", text or "")
    return bool(_human_cues(text, chinese=_reads_chinese(text, language)))


def _human_cues(text: str, *, chinese: bool) -> list[str]:
    cues = []
    for clause in _CLAUSES.finditer(text):
        words = clause[0].strip()
        if not words or _BOT_QUESTION.fullmatch(words):
            continue
        if _HUMAN_ALONE.fullmatch(words):
            cues.append(words)
            continue
        for pattern in (_HUMAN_ZH, _HUMAN_EN) if chinese else (_HUMAN_EN,):
            for match in pattern.finditer(words):
                before = words[: match.start()]
                # "不要机器人" asks for a person; "不用转人工" does not.
                rejects_bot = re.search(r"机器人|自动回复|智能客服|bot|ai\b", match[0], re.I)
                if rejects_bot or not _HUMAN_NEGATION.search(before):
                    cues.append(match[0])
    return cues


# --- business intents --------------------------------------------------------------------

# (pattern, weight) per intent. Weights: 2.5 says it all ("到哪了", "how much"), 2 is a
# clear cue, 1 to 1.5 a hint that needs company.
_ZH_RULES: dict[str, tuple[tuple[str, float], ...]] = {
    "refund": (
        (r"退款|退货|退钱|钱退|七天无理由|7天无理由|把钱还|(?:可以|能|怎么|如何)退", 2.0),
        (r"退回|退换|换货|申请售后|退运费|赔偿|补偿", 1.5),
        (r"售后", 1.0),
    ),
    "complaint": (
        (r"投诉|举报|12315|消协|消费者协会|工商局|市场监管", 3.0),
        (r"再也不(?:买|来|用)", 2.5),
        (r"差评|曝光|维权|报警|起诉", 2.5),
        (r"(?:态度|服务|质量)(?:太|很|真|特别|非常)?(?:差|恶劣|不好|烂)|不满意|质量问题", 2.0),
        (r"骗子|骗人|欺骗|诈骗|黑店|垃圾|坑人|什么破|不像话|太过分|失望", 1.5),
    ),
    "logistics": (
        (r"到哪了|到哪里了|到哪儿了|到哪啦|什么时候到|几天到|多久到|多久能到|什么时候能到", 2.5),
        (r"快递单号|运单|物流信息|查物流|查快递|发货了吗|发了吗|什么时候发", 2.5),
        (r"快递|物流|发货|配送|派送|送货|寄出|包裹|揽收|丢件|还没到|没到货", 2.0),
        (r"(?:货|东西|快递|包裹|宝贝)还?没有?收到", 2.0),
        (r"顺丰|中通|圆通|申通|韵达|京东快递|邮政|ems|极兔|德邦", 2.0),
        (r"几天能?收到|多久能?收到|能寄到|寄到|能送到|自提|到店取", 2.0),
        (r"签收|收货|出库|改地址|修改地址", 1.5),
    ),
    "order_status": (
        (r"订单状态|订单显示|取消订单|修改订单|改订单|订单取消|订单异常", 2.5),
        (r"付款了|已付款|支付成功|付款成功|下单成功|已经下单|下过单", 1.5),
        (r"订单|单号", 1.5),
        (r"状态", 1.0),
    ),
    "pricing": (
        (r"多少钱|怎么卖|报个价|什么价", 2.5),
        (r"价格|价钱|报价|收费|费用|批发价|会员价|单价|总价|运费", 2.0),
        (r"优惠|折扣|打折|便宜|优惠券|团购|包邮|几块|几元", 1.5),
        (r"太贵|贵|活动", 1.0),
    ),
    "purchase": (
        (r"想买|要买|怎么买|在哪买|哪里买|买一个|买两|怎么下单|想下单|要下单|帮我下单", 2.5),
        (r"购买|订购|预订|订货|有货吗|有没有货|还有货|现货|库存|批发|采购|我要这个|要这款", 2.0),
        (r"用.{0,6}(?:付款|支付|付钱)|信用卡|花呗|分期", 2.0),
        (r"定制|加购物车|付款方式|怎么付款|支付方式|试用|样品", 1.5),
        (r"下单", 1.0),
    ),
}
_EN_RULES: dict[str, tuple[tuple[str, float], ...]] = {
    "refund": (
        (
            r"refund\w*|money back|return (?:it|this|them|the item|my order|the product|an item)",
            2.0,
        ),
        (r"send (?:it|this|them) back", 2.0),
        (r"returns? policy|exchange (?:it|this|them|for)|reimburs\w*|compensat\w*", 1.5),
    ),
    "complaint": (
        (r"complain\w*|file a complaint|report you|report this", 3.0),
        (r"never (?:buy|order|shop)\w* (?:from|with|here|again)", 2.5),
        (r"(?:terrible|bad|poor|awful|horrible|worst) (?:service|support|experience)", 2.0),
        (r"unacceptable", 2.0),
        (r"not happy|unhappy|disappointed|dissatisfied|rude|worst", 2.0),
        (r"scam\w*|ridiculous|useless|fraud\w*|rip ?-?off", 1.5),
    ),
    "logistics": (
        (r"where(?:'s| is) my (?:order|package|parcel|stuff|item|delivery|shipment)", 3.0),
        (r"track(?:ing)? (?:number|my|the|info\w*)", 2.5),
        (r"when will (?:it|my \w+) (?:arrive|come|ship)", 2.5),
        (r"(?:hasn't|has not|not|not yet|never) (?:arrived|received)", 2.0),
        (r"out for delivery|in transit", 2.5),
        (r"ship(?:ped|ping|ment)?|deliver\w*|parcel|package|courier|dispatch\w*", 2.0),
        (r"ups|dhl|fedex|usps|royal mail|tracking", 2.0),
        (r"arriv\w*|change (?:my |the )?address", 1.5),
    ),
    "order_status": (
        (r"order status|status of my order|order confirmation|cancel (?:my |the )?order", 2.5),
        (r"(?:change|modify|update) (?:my |the )?order|has my order been \w+", 2.5),
        (r"my order|order (?:#|number|no|id)|orders?", 1.5),
        (r"status|confirm\w*", 1.0),
    ),
    "pricing": (
        (r"how much", 2.5),
        (r"price\w*|pricing|cost\w*|quote|fees?|shipping (?:cost|fee)s?", 2.0),
        (r"discount\w*|coupon\w*|promo code|voucher\w*|cheap\w*|expensive|deals?", 1.5),
    ),
    "purchase": (
        (r"(?:want|like|wish|need) to (?:buy|order|purchase|get)|place an order", 2.5),
        (r"how (?:do|can) i (?:buy|order|purchase|pay)|i'?d like (?:to buy|one|two)", 2.5),
        (r"buy|purchase|in stock|wholesale|bulk order", 2.0),
        (r"availability|available in|(?:is|are) (?:it|this|that|they|these) available", 2.0),
        (r"still available", 2.0),
        (
            r"add to cart|payment method\w*|pay (?:with|by)|free trial|sample\w*|sign up|subscribe",
            1.5,
        ),
    ),
}
# Declining is not asking: "不想退款了", "I don't want a refund", "no need to ship it".
_BUSINESS_NEGATION = re.compile(
    r"(?:不用|不要|不想要?|不需要|无需|没必要|不打算)(?:再|了|给我|帮我|申请)?$"
    r"|\b(?:don't|do not|doesn't) (?:want|need)(?: to)?(?: \w+){0,2}$"
    r"|\b(?:no need to|never mind|no longer (?:want|need)|not interested in)(?: \w+){0,2}$",
    re.IGNORECASE,
)
_ZH_COMPILED = {
    intent: [(re.compile(pattern, re.IGNORECASE), weight) for pattern, weight in rules]
    for intent, rules in _ZH_RULES.items()
}
# English cues are whole words: "ship" is not in "relationship".
_EN_COMPILED = {
    intent: [
        (re.compile(rf"(?<![a-z'])(?:{pattern})(?![a-z])", re.IGNORECASE), weight)
        for pattern, weight in rules
    ]
    for intent, rules in _EN_RULES.items()
}
_CLAUSE_END = re.compile(r"[,.;!?，。；！？\n]")
# Ties go to the more specific need.
_BUSINESS_ORDER = ("complaint", "refund", "logistics", "order_status", "purchase", "pricing")
BUSINESS_THRESHOLD = 1.5

# --- questions and small talk ------------------------------------------------------------

_QUESTION_ZH = re.compile(
    r"[?]|[吗呢么嘛]\s*$|怎么|如何|为什么|为啥|能不能|可不可以|可以.{0,10}吗|是否|有没有|多久|"
    r"什么时候|哪里|哪个|哪些|几点|几天|请问|咨询|问一下"
)
_QUESTION_EN = re.compile(
    r"\?|^(?:what|how|why|when|where|which|who|whom|whose|can|could|do|does|did|is|are|was|"
    r"were|will|would|should|shall|may|have|has)\b|\b(?:can i|can you|could you|i wonder|"
    r"is there|are there|do you)\b",
    re.IGNORECASE,
)
_SOCIAL: dict[str, re.Pattern] = {
    "goodbye": re.compile(
        r"再见|拜拜|回头见|下次见|先这样|没事了|没有了|就这样吧|(?<!\d)88(?:6)?(?!\d)"
        r"|\b(?:bye|goodbye|see you|see ya|talk later|that's all|that is all|have a (?:nice|good) "
        r"(?:day|one|night|evening|weekend))\b",
        re.IGNORECASE,
    ),
    "thanks": re.compile(
        r"谢谢|感谢|多谢|谢啦|谢了|辛苦了|(?<![a-z0-9])3q(?![a-z])"
        r"|\b(?:thanks|thank you|thx|ty|appreciate it|much appreciated|cheers)\b",
        re.IGNORECASE,
    ),
    "greeting": re.compile(
        r"你好吗?|您好|哈喽|嗨|在吗|在不在|有人吗|早上好|下午好|晚上好|早安|亲(?!自|测|戚|人|手)"
        r"|\b(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening)|greetings|anyone there|"
        r"is anyone there|how are you)\b",
        re.IGNORECASE,
    ),
}
# Small talk decides only a short message: "你好" is a greeting, "你好!我的快递呢" is not.
SOCIAL_MAX_CHARS = 40


def intent_detect(text: str, *, language: str = "") -> Intent:
    """The one thing the customer most wants from this message. Both rule sets run, since
    customers mix them ("我要refund"); only Japanese (`language="ja"`, an ISO 639-1 code, or
    kana in the text) turns the Chinese rules off."""
    normalized = unicodedata.normalize("NFKC", text or "").strip()
    chinese = _reads_chinese(normalized, language)
    if human := _human_cues(normalized, chinese=chinese):
        return Intent("human", 0.95, tuple(human))

    rule_sets = [_ZH_COMPILED, _EN_COMPILED] if chinese else [_EN_COMPILED]
    scores: dict[str, tuple[float, list[str]]] = {}
    for intent in _BUSINESS_ORDER:
        weights, cues = [], []
        for rules in rule_sets:
            for pattern, weight in rules[intent]:
                for match in _business_matches(pattern, normalized):
                    weights.append(weight)
                    cues.append(match)
        if intent == "order_status" and (numbers := order_numbers_extract(normalized)):
            weights.append(1.0)
            cues.extend(numbers)
        if weights:
            weights.sort(reverse=True)
            scores[intent] = (weights[0] + 0.25 * sum(weights[1:]), cues)
    ranked = sorted(scores, key=lambda name: (-scores[name][0], _BUSINESS_ORDER.index(name)))
    if ranked and scores[ranked[0]][0] >= BUSINESS_THRESHOLD:
        best, runner_up = scores[ranked[0]][0], scores[ranked[1]][0] if len(ranked) > 1 else 0.0
        confidence = min(0.95, 0.5 + 0.15 * best) - (0.15 if runner_up >= 0.8 * best else 0.0)
        return Intent(ranked[0], round(confidence, 2), tuple(_unique(scores[ranked[0]][1])))

    social = {
        name: [m[0] for m in pattern.finditer(normalized)] for name, pattern in _SOCIAL.items()
    }
    # Small talk that happens to end in "吗" ("在吗", "how are you?") is not a question.
    rest = normalized
    for matches in social.values():
        for cue in matches:
            rest = rest.replace(cue, " ")
    rest = rest.strip()
    question = _unique(
        match[0]
        for pattern in (_QUESTION_ZH, _QUESTION_EN, _BOT_QUESTION)
        if (match := pattern.search(rest))
    )

    if not question and not (contacts := contacts_extract(normalized)).is_empty():
        given = [
            *contacts.phones,
            *contacts.emails,
            *contacts.wechat_ids,
            contacts.name,
            contacts.company,
        ]
        return Intent("contact_info", 0.8, tuple(value for value in given if value))
    if question:
        return Intent("question", 0.55, tuple(question))
    if len(normalized) <= SOCIAL_MAX_CHARS:
        for name in ("goodbye", "thanks", "greeting"):
            if social[name]:
                return Intent(name, 0.85, tuple(_unique(social[name])))
    return Intent("other", 0.3, ())


def _business_matches(pattern: re.Pattern, text: str) -> list[str]:
    """The matches of one rule that the customer does not decline."""
    found = []
    for match in pattern.finditer(text):
        clause_start = max(
            (m.end() for m in _CLAUSE_END.finditer(text, 0, match.start())), default=0
        )
        if not _BUSINESS_NEGATION.search(text[clause_start : match.start()].rstrip()):
            found.append(match[0])
    return found


def _reads_chinese(text: str, language: str) -> bool:
    """Whether the Chinese rules apply: not to Japanese, which writes the same characters
    with other meanings (人工知能 is artificial intelligence)."""
    return language != "ja" and not _KANA.search(text)


def _unique(values) -> list[str]:
    return list(dict.fromkeys(values))

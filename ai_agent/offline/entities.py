"""Contact details and order numbers in a customer's message, for lead capture and order
look-ups when no model is configured (and as a cross-check when one is).

Rules, in Chinese and English. They aim for precision: a wrong name on a lead or a phone
number that is really an order number costs more than a detail left for the agent to ask.
Phones and e-mail addresses come from `compliance.pii`, so both apps agree on what a phone
number is; the rest is introduced by the customer ("我叫…", "my name is …", "微信 …")."""

import re
import unicodedata
from dataclasses import dataclass

from compliance.pii import phone_e164, pii_find


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass(frozen=True)
class ContactDetails:
    phones: tuple[str, ...] = ()  # E.164
    emails: tuple[str, ...] = ()  # domain lower-cased
    wechat_ids: tuple[str, ...] = ()
    name: str = ""
    company: str = ""

    def is_empty(self) -> bool:
        return not (self.phones or self.emails or self.wechat_ids or self.name or self.company)


def contacts_extract(text: str, *, default_region: str = "") -> ContactDetails:
    """The contact details a customer gives in `text`. National phone numbers are read in
    `default_region`; a mainland mobile (1[3-9] and 11 digits) is +86 without one."""
    text = unicodedata.normalize("NFKC", text)
    order_spans = [span for span, _ in _order_number_matches(text)]
    phones = []
    emails = []
    for match in pii_find(text, default_region=default_region):
        if match.kind == "email":
            local, _, domain = match.value.rpartition("@")
            emails.append(f"{local}@{domain.lower()}")
        elif match.kind == "phone" and not any(
            match.start < end and match.end > start for start, end in order_spans
        ):
            phones.append(phone_e164(match.value, default_region=default_region))
    company, company_span = _company(text)
    return ContactDetails(
        phones=_unique(phone for phone in phones if phone),
        emails=_unique(emails),
        wechat_ids=_unique(_wechat_ids(text)),
        name=_name(text, company_span),
        company=company,
    )


def order_numbers_extract(text: str) -> tuple[str, ...]:
    """Order numbers the customer introduces as such ("订单号 202611220001", "order #A12345",
    "order number: SO-99812", and a list after one: "订单 1001、1002"). A bare digit run
    is not taken: it is as likely a phone number, a price or a date."""
    return _unique(value for _, value in _order_number_matches(unicodedata.normalize("NFKC", text)))


# --- order numbers -----------------------------------------------------------------------

# "单号" alone is also a parcel's tracking number (快递单号, 运单号): that is not an order.
_ORDER_KEYWORD = re.compile(
    r"(?<!快递)(?<!物流)(?<!运)(?P<zh>订单(?P<zh_marker>编号|号码|号)?|单号)"
    r"|\border(?:s)?(?![a-z])(?P<en_marker>\s*(?:number|num|no\b\.?|nr\b\.?|id\b|#))?",
    re.IGNORECASE,
)
_ORDER_GAP = re.compile(r"\s*(?:(?:[:=#]|is\b|是|为)\s*)*", re.IGNORECASE)
_ORDER_ID = re.compile(r"(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9_-]{3,39}(?![A-Za-z0-9_-])")
_ORDER_LIST_JOIN = re.compile(r"\s*(?:[,/&、]|和|及|或|and\b|or\b)\s*#?", re.IGNORECASE)
_PRICE_OR_DATE_AFTER = re.compile(
    r"\s*(?:元|块|年|月|日|号(?!码)|rmb\b|yuan\b|usd\b|dollars?\b)", re.I
)
_DATE_LIKE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}-\d{1,2}-\d{2,4}")
_YEAR = re.compile(r"(?:19|20)\d\d")
_MOBILE = re.compile(r"1[3-9]\d{9}")


def _order_number_matches(text: str) -> list[tuple[tuple[int, int], str]]:
    found = []
    for keyword in _ORDER_KEYWORD.finditer(text):
        explicit = bool(
            keyword["zh_marker"]
            or keyword["en_marker"]
            or "#" in text[keyword.end() : keyword.end() + 3]
        )
        position = _ORDER_GAP.match(text, keyword.end()).end()
        while (candidate := _ORDER_ID.match(text, position)) and _looks_like_order_number(
            candidate[0], explicit=explicit, after=text[candidate.end() :]
        ):
            found.append((candidate.span(), candidate[0]))
            joined = _ORDER_LIST_JOIN.match(text, candidate.end())
            if not joined:
                break
            position = joined.end()
    return found


def _looks_like_order_number(value: str, *, explicit: bool, after: str) -> bool:
    """Not a price ("订单 1299元"), a date or year ("order 2024"), nor, unless the customer
    said "order number", a mobile number."""
    if _PRICE_OR_DATE_AFTER.match(after) or _DATE_LIKE.fullmatch(value):
        return False
    return explicit or not (_YEAR.fullmatch(value) or _MOBILE.fullmatch(value))


# --- WeChat ------------------------------------------------------------------------------

_WECHAT = re.compile(
    r"(?:微信|威信|薇信|[vV]信|(?<![A-Za-z])(?:vx|wx|weixin|wechat)(?![A-Za-z]))"
    r"(?P<intro>\s*(?:号码|号|账号|id\b)?\s*(?:[:=]|就是|是|为|is\b)?\s*)"
    r"(?P<id>[A-Za-z][A-Za-z0-9_-]{5,19})(?![A-Za-z0-9_-])",
    re.IGNORECASE,
)
# An id of letters only is an English word as often as an id ("my WeChat is blocked"):
# it is taken only after an explicit "微信号", "WeChat ID", "是" or a colon.
_WECHAT_EXPLICIT = re.compile(r"[:=]|号|id|是|为", re.IGNORECASE)


def _wechat_ids(text: str) -> list[str]:
    ids = []
    for match in _WECHAT.finditer(text):
        letters_only = match["id"].isalpha()
        if not letters_only or _WECHAT_EXPLICIT.search(match["intro"]):
            ids.append(match["id"])
    return ids


# --- names -------------------------------------------------------------------------------

# Common surnames that are not also everyday words at the start of a phrase ("来", "和",
# "都", "新" are left out, so "我是来问退款的" is not a name).
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关"
    "兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂苗谷盛曲翁冉骆蓝路游辛靳柴蒙鲍华喻祁蒲"
    "房滕屈饶解牟艾尤阳穆农卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂佟臧闵"
    "苟邬边卞姬师仇栾隋刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟邝封谈匡鞠惠荆冀郁胥班储栗燕楚"
)
_COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "慕容",
    "令狐",
    "司徒",
    "公孙",
)
_HONORIFIC = re.compile(r"先生|女士|小姐|老师|经理|总监|主管|老板|总|姐|哥")
# Characters that end a given name: particles and the verbs that follow an introduction.
_NOT_IN_GIVEN_NAME = frozenset(
    "的了想要问来在和跟是有请找刚就也都还这那个们买卖吗呢吧啊呀哦嘛啦哈给把被从说让对用去过着会能可不没很太真已"
)
# Words that start with a surname but are not names ("我是顾客", "我是周末买的").
_NOT_NAMES = re.compile(
    r"顾客|周[一二三四五六日天末]|余额|程序员|金卡|黄金|白金|马上|车主|房东|房主|司机|高中|高级|"
    r"江苏|江西|安徽|云南|海南|甘肃|宁夏|宁波|杭州|温州|常州|苏州|武汉|南京|郑州|石家庄|兰州|包头|"
    r"金华|贵阳|柳州|桂林|黄山|江门|华为|苏宁|钱包|单身|方便|包邮|包装|安全|季度|戴尔|"
    r"高兴|常客|龙华"
)
_ZH_NAME_LABEL = re.compile(r"(?:姓名|名字|联系人|称呼)\s*(?:[:=]|是|叫)\s*")
_ZH_NAME_STRONG = re.compile(r"(?:我叫|本人叫|我的名字是|我的名字叫|我名字叫|我姓名是)\s*")
_ZH_NAME_WEAK = re.compile(r"(?:我是|这里是|这边是|我这边是|本人是)\s*")
# After "我是X" a name is followed by a pause or by what people say next ("我是李娜",
# "我是李娜想问一下"); "我是刘德华的粉丝" does not make the customer 刘德华.
_AFTER_WEAK_NAME = re.compile(
    r"$|[\s,.!?;:~、，。！？；：…()（）]|[啊呀哈呢吧哦嘛啦噢]|想|要|请|问|找|来|之前|刚|这边|在|和|跟"
)

_EN_NAME_WORD = r"[A-Z][a-z]+(?:['’-][A-Z]?[a-z]+)*"
_EN_NAME_EXPLICIT = re.compile(
    r"\b(?:my name is|my name's|my name’s|i am called|i'm called|you can call me"
    r"|(?<![A-Za-z] )(?<![A-Za-z])name\s*[:=-])"
    r"\s*(?P<rest>.*)",
    re.IGNORECASE,
)
_EN_NAME_INTRO = re.compile(
    rf"(?i:\b(?:i'm|i’m|i am|this is))\s+(?P<name>{_EN_NAME_WORD}(?:\s+{_EN_NAME_WORD}){{0,2}})"
    r"(?![\w'’])"
)
# Capitalised words that follow "I'm" or "This is" without being a name.
_EN_NOT_NAMES = _words(
    "Not So Very Really Just Still Here There Sorry Fine Good Great Okay Happy Glad Sad Angry "
    "Upset Mad Sure Afraid New Back Done Waiting Writing Calling Trying Going Looking Having "
    "Interested Disappointed Frustrated Confused Ridiculous Unacceptable Terrible Crazy Insane "
    "Absurd Awful Urgent Important Regarding About From In At On With The A An Your Our Their "
    "It This That What Why How When Also Currently Always Never Totally Extremely Completely "
    "Amazing Awesome Perfect Wrong Right Correct Useless Pathetic Outrageous Annoyed Tired Sick "
    "Done Ready Unable Able Hoping Following Contacting Reaching Asking Wondering Thinking "
    "Customer Client Buyer Seller Member User Manager Owner Student"
)
_EN_STOP_WORDS = _words(
    "and from i im i'm my please with at of the a an but so here calling writing "
    "thanks thank regarding about for in on to is am was"
)


def _name(text: str, company_span: tuple[int, int] | None) -> str:
    for match in _ZH_NAME_LABEL.finditer(text):
        if name := _han_name(text, match.end(), need_surname=False) or _latin_name(
            text[match.end() :]
        ):
            return name
    for match in _ZH_NAME_STRONG.finditer(text):
        if name := _han_name(text, match.end(), need_surname=True):
            return name
    for match in _ZH_NAME_WEAK.finditer(text):
        if company_span and company_span[0] <= match.end() < company_span[1]:
            continue  # "我是华为公司的" introduces a company
        name = _han_name(text, match.end(), need_surname=True)
        if name and _AFTER_WEAK_NAME.match(text, match.end() + len(name)):
            return name
    if company_span:  # "我是华为公司的张伟"
        after = re.match(r"的\s*", text[company_span[1] :])
        if after and (name := _han_name(text, company_span[1] + after.end(), need_surname=True)):
            return name
    for match in _EN_NAME_EXPLICIT.finditer(text):
        if name := _latin_name(match["rest"]):
            return name
    for match in _EN_NAME_INTRO.finditer(text):
        words = match["name"].split()
        if words[0] not in _EN_NOT_NAMES:
            return " ".join(word for word in _until_not_name(words))
    return ""


def _han_name(text: str, start: int, *, need_surname: bool) -> str:
    """A Chinese name starting at `start`: a surname (single or compound) and one or two
    given-name characters, or a surname and an honorific ("陈先生"), or "小/老" and a
    surname ("小王")."""
    rest = text[start : start + 6]
    if need_surname:
        surname = next((s for s in _COMPOUND_SURNAMES if rest.startswith(s)), "")
        if not surname and rest[:1] in _SURNAMES:
            surname = rest[:1]
        if not surname:
            if len(rest) >= 2 and rest[0] in "小老阿" and rest[1] in _SURNAMES:
                after = rest[2:3]
                if not after or not _is_han(after) or after in _NOT_IN_GIVEN_NAME:
                    return rest[:2]
            return ""
    else:
        surname = next((s for s in _COMPOUND_SURNAMES if rest.startswith(s)), rest[:1])
        if not _is_han(surname[:1]):
            return ""
    if honorific := _HONORIFIC.match(rest, len(surname)):
        return surname + honorific[0]
    given = ""
    for char in rest[len(surname) : len(surname) + 2]:
        if not _is_han(char) or char in _NOT_IN_GIVEN_NAME:
            break
        given += char
    name = surname + given
    if not given or _NOT_NAMES.match(name) or re.match(r"[人省市县区]", rest[len(name) :]):
        return ""
    return name


def _latin_name(rest: str) -> str:
    """Up to three words of a name written after "my name is": as typed, lower case too."""
    words = []
    for word in re.findall(r"[^\W\d_][\w'’-]*|\S", rest.strip())[:4]:
        if not re.fullmatch(r"[^\W\d_][\w'’-]*", word) or word.lower() in _EN_STOP_WORDS:
            break
        words.append(word)
        if len(words) == 3:
            break
    return " ".join(words)


def _until_not_name(words: list[str]) -> list[str]:
    kept = []
    for word in words:
        if word in _EN_NOT_NAMES:
            break
        kept.append(word)
    return kept


def _is_han(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


# --- companies ---------------------------------------------------------------------------

_ZH_COMPANY_SUFFIX = (
    r"(?:有限责任公司|股份有限公司|有限公司|公司|集团|工作室|事务所|研究院|研究所|医院|大学|学院"
    r"|银行|商行|工厂|厂)"
)
_ZH_COMPANY = re.compile(
    r"(?:我是|我们是|本人是|我这边是|这边是|我来自|来自|我司是|我们公司是)\s*"
    rf"(?P<company>[\u4e00-\u9fffA-Za-z0-9&·()]{{1,30}}?{_ZH_COMPANY_SUFFIX})"
    r"|我在\s*(?P<workplace>[\u4e00-\u9fffA-Za-z0-9&·()]{1,30}?"
    rf"{_ZH_COMPANY_SUFFIX})\s*(?:上班|工作|任职)"
)
_ZH_COMPANY_LABEL = re.compile(
    r"(?:公司名称|公司名|公司|单位|企业名称|企业)\s*[:=]\s*(?P<company>[^\s,，。;；!！?？、]{2,40})"
)
# "你们公司", "这家公司", "想问一下你们公司": the customer speaking about us, or a phrase
# that runs into a suffix, not their employer's name.
_NOT_IN_COMPANY = re.compile(r"[你您我他她它们的了吗呢吧啊想问要买在是这那哪什某]")

_EN_COMPANY_NAME = r"[A-Z0-9][\w&'’.-]*(?:\s+(?:[A-Z0-9][\w&'’.-]*|&|of))*"
_EN_COMPANY_SUFFIX = re.compile(
    r"\b(?:Inc|Ltd|LLC|LLP|Corp|Corporation|GmbH|Co|Company|Group|Technologies|Tech|Labs|"
    r"Limited|plc|AG|BV|SA|Pty)\.?$"
)
_EN_COMPANY_LABEL = re.compile(
    r"\b(?:company|company name|organisation|organization|employer)\s*[:=-]\s*"
    r"(?P<company>[^,;\n.!?]{2,60})",
    re.IGNORECASE,
)
_EN_WORKPLACE = re.compile(
    r"(?i:\bI(?: work| am working|'m working|’m working) (?:at|for))\s+"
    rf"(?P<company>{_EN_COMPANY_NAME})"
)
_EN_FROM = re.compile(
    rf"(?P<intro>(?i:\b(?:I'm|I’m|I am|this is|my name is))\s+{_EN_NAME_WORD}"
    rf"(?:\s+{_EN_NAME_WORD})?\s+)?\b(?:from|at|with|on behalf of)\s+"
    rf"(?P<company>{_EN_COMPANY_NAME})"
)

# "I'm Li from China": where people are from, not where they work.
_EN_PLACES = _words(
    "China Beijing Shanghai Shenzhen Guangzhou Hong Kong Taiwan Singapore Malaysia Japan Korea "
    "India USA US America UK England London Canada Australia Germany France Spain Italy "
    "Brazil Mexico Europe Asia Africa"
) | {"Hong Kong", "New York"}


def _company(text: str) -> tuple[str, tuple[int, int] | None]:
    """The customer's company and where it was found, or ("", None)."""
    for pattern in (_ZH_COMPANY_LABEL, _ZH_COMPANY):
        for match in pattern.finditer(text):
            group = "company" if match["company"] else "workplace"
            if not _NOT_IN_COMPANY.search(match[group]):
                return match[group], match.span(group)
    for match in _EN_COMPANY_LABEL.finditer(text):
        return match["company"].strip(), match.span("company")
    for match in _EN_WORKPLACE.finditer(text):
        return _trim_company(match["company"]), match.span("company")
    for match in _EN_FROM.finditer(text):
        company = _trim_company(match["company"])
        if company in _EN_PLACES:
            continue
        if company and (match["intro"] or _EN_COMPANY_SUFFIX.search(company)):
            return company, match.span("company")
    return "", None


def _trim_company(name: str) -> str:
    words = name.split()
    while words and words[-1] in ("&", "of"):
        words.pop()
    return " ".join(words).rstrip(".'’-")


def _unique(values) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))

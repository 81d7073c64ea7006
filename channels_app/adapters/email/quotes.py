"""Cut the quoted history off a plain-text reply, so the conversation shows what is new.

A reply is cut at the first quote header that has the customer's own text above it:
"On <date>, <name> wrote:" (and its translations, including the Chinese "在 … 写道"), Outlook's
"-----Original Message-----" or a "From: … / Sent: …" block (also "发件人: … / 发送时间: …"),
QQ's and 163's "原始邮件" separators; and otherwise at a trailing block of "> " lines. A
forwarded message is never cut: its content is what the customer wants us to read.
"""

from __future__ import annotations

import re

# "On Tue, 2 Jan 2024 at 10:00, Ann <ann@example.com> wrote:" and translations; Gmail wraps
# long ones over two lines, so a header is tried on one line and on two joined lines.
WROTE = re.compile(
    r"^(?:"
    r"On\b.{0,200}\bwrote:"
    r"|Am\b.{0,200}\bschrieb\b.{0,100}:"
    r"|Le\b.{0,200}\ba écrit\s?:"
    r"|El\b.{0,200}\bescribió:"
    r"|Il\b.{0,200}\bha scritto:"
    r"|Op\b.{0,200}\bschreef\b.{0,100}:"
    r"|Em\b.{0,200}\bescreveu:"
    r"|在.{0,200}写道[：:]"
    r"|於.{0,200}寫道[：:]"
    r"|.{0,200}\d{4}年\d{1,2}月\d{1,2}日.{0,120}(?:写道|寫道|wrote)[：:]"
    r")\s*$",
    re.I,
)
SEPARATOR = re.compile(
    r"^\s*(?:-{2,}|_{2,}|={2,})?\s*(?:"
    r"Original Message|Original message|Ursprüngliche Nachricht|Message d'origine"
    r"|Mensaje original|Messaggio originale|原始邮件|原始郵件|回复的原邮件|原邮件"
    r")\s*(?:-{2,}|_{2,}|={2,})?\s*$",
    re.I,
)
# Outlook puts the original's headers, unquoted, under a line of underscores.
FROM_LINE = re.compile(r"^\s*\*?(?:From|发件人|寄件者|Von|De|Da|Van)\s*\*?\s*[:：]", re.I)
SENT_LINE = re.compile(
    r"^\s*\*?(?:Sent|Date|发送时间|日期|時間|寄件日期|Gesendet|Datum|Envoyé|Enviado|Inviato)"
    r"\s*\*?\s*[:：]",
    re.I,
)
RULE = re.compile(r"^\s*_{10,}\s*$")
FORWARD = re.compile(
    r"^\s*-*\s*(?:Forwarded message|Begin forwarded message|转发的邮件|轉寄的郵件)", re.I
)


def _header_at(lines: list[str], index: int) -> bool:
    line = lines[index].strip()
    if not line:
        return False
    if SEPARATOR.match(line) or WROTE.match(line):
        return True
    if index + 1 < len(lines) and WROTE.match(f"{line} {lines[index + 1].strip()}"):
        return True
    if FROM_LINE.match(line):
        following = [entry for entry in lines[index + 1 : index + 5] if entry.strip()]
        return any(SENT_LINE.match(entry) for entry in following[:3])
    return False


def quote_split(text: str) -> tuple[str, str]:
    """(new text, quoted history). When nothing is recognised, the quote is ""."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for index, line in enumerate(lines):
        if FORWARD.match(line):
            break  # anything below a forward marker belongs to the customer's message
        if _header_at(lines, index):
            start = index - 1 if index > 0 and RULE.match(lines[index - 1]) else index
            above = "\n".join(lines[:start]).strip()
            if above:
                return above, "\n".join(lines[start:]).strip()
            break
    # A trailing block of "> " lines (and the blank lines inside it).
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    start = end
    while start and (lines[start - 1].lstrip().startswith(">") or not lines[start - 1].strip()):
        start -= 1
    while start < end and not lines[start].strip():
        start += 1
    if start < end:
        # A quote header ("On … wrote:") just above the block belongs to the quote.
        header = start - 1
        while header >= 0 and not lines[header].strip():
            header -= 1
        if header >= 0 and _header_at(lines, header):
            start = header
        elif header >= 1 and WROTE.match(f"{lines[header - 1].strip()} {lines[header].strip()}"):
            start = header - 1
        above = "\n".join(lines[:start]).strip()
        if above:
            return above, "\n".join(lines[start:end]).strip()
    return text.strip(), ""

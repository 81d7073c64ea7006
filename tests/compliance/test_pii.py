"""PII detection and masking: what must be found, what must not (order numbers, timestamps,
dates and prices are long digit runs too), and the round trip through a model's reply."""

import itertools

import pytest

from compliance.pii import (
    bank_card_is_valid,
    id_card_is_valid,
    phone_e164,
    pii_find,
    pii_mask,
    pii_unmask,
)


def found(text: str, **kwargs) -> list[tuple[str, str]]:
    return [(match.kind, match.value) for match in pii_find(text, **kwargs)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("我的手机是13800138000，有事打我", [("phone", "13800138000")], id="zh-mobile"),
        pytest.param(
            "电话 138 0013 8000 或 139-1234-5678",
            [("phone", "138 0013 8000"), ("phone", "139-1234-5678")],
            id="zh-mobile-grouped",
        ),
        pytest.param(
            "手机：１３８００１３８０００",
            [("phone", "１３８００１３８０００")],
            id="full-width-mobile",
        ),
        pytest.param(
            "call me on +1 (415) 555-0100", [("phone", "+1 (415) 555-0100")], id="us-intl"
        ),
        pytest.param(
            "+44 20 7946 0958 is my office", [("phone", "+44 20 7946 0958")], id="uk-intl"
        ),
        pytest.param("0086 13800138000", [("phone", "0086 13800138000")], id="zh-00-prefix"),
        pytest.param(
            "邮箱 Zhang.Wei@Example.COM 谢谢", [("email", "Zhang.Wei@Example.COM")], id="email"
        ),
        pytest.param(
            "my mail: anna＠acme.co.uk.", [("email", "anna＠acme.co.uk")], id="full-width-at"
        ),
        pytest.param(
            "身份证号11010519491231002X，麻烦核实",
            [("id_card", "11010519491231002X")],
            id="id-card-x",
        ),
        pytest.param(
            "ID 440308 19900307 1235", [("id_card", "440308 19900307 1235")], id="id-card-spaced"
        ),
        pytest.param(
            "卡号 6222 0212 3456 7890 128 工行",
            [("bank_card", "6222 0212 3456 7890 128")],
            id="unionpay-grouped",
        ),
        pytest.param(
            "visa 4111111111111111 exp 12/28", [("bank_card", "4111111111111111")], id="visa"
        ),
        pytest.param(
            "amex 3782-822463-10005", [("bank_card", "3782-822463-10005")], id="amex-dashes"
        ),
        pytest.param("from 192.168.1.10 at 12:30:45", [("ip", "192.168.1.10")], id="ipv4-not-time"),
        pytest.param(
            "server 2001:db8::8a2e:370:7334 down", [("ip", "2001:db8::8a2e:370:7334")], id="ipv6"
        ),
        pytest.param(
            "13800138000@qq.com", [("email", "13800138000@qq.com")], id="qq-mail-is-one-email"
        ),
    ],
)
def test_finds_personal_data(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("订单号 202611220001 还没发货", id="order-number"),
        pytest.param("order #A12345 / SO-99812", id="order-codes"),
        pytest.param("单号 2026112200010006", id="luhn-passing-date-led-order"),
        pytest.param("ts=1732000000007", id="luhn-passing-ms-timestamp"),
        pytest.param("身份证 110105194912310028", id="id-card-wrong-check-digit"),
        pytest.param("身份证 110105199913310024", id="id-card-impossible-date"),
        pytest.param("4111111111111112", id="card-failing-luhn"),
        pytest.param("2024-11-22 10:30 买的，¥1,299.00", id="date-time-price"),
        pytest.param("version 1.2.3 and 999.1.1.1", id="not-ips"),
        pytest.param("12345678901", id="eleven-digits-not-mobile"),
        pytest.param("(415) 555-0100", id="national-number-without-region"),
        pytest.param("SF1234567890123", id="tracking-number"),
        pytest.param("user@localhost", id="email-without-domain"),
    ],
)
def test_leaves_other_numbers_alone(text):
    assert found(text) == []


def test_a_region_reads_national_numbers():
    assert found("call (415) 555-0100", default_region="US") == [("phone", "(415) 555-0100")]
    assert found("座机 010-12345678", default_region="CN") == [("phone", "010-12345678")]
    assert found("call 555-0100", default_region="US") == []  # too short to be valid


def test_matches_are_ordered_without_overlap_and_point_into_the_original_text():
    text = "Ｍａｉｌ ａ@ｂ.ｃｏｍ, 电话１３８００１３８０００ 卡 4111 1111 1111 1111"
    matches = pii_find(text)
    assert [match.kind for match in matches] == ["email", "phone", "bank_card"]
    for match in matches:
        assert text[match.start : match.end] == match.value
    assert all(a.end <= b.start for a, b in itertools.pairwise(matches))


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        pytest.param("138 0013 8000", "", "+8613800138000", id="mainland-mobile-no-region"),
        pytest.param("１３８００１３８０００", "US", "+8613800138000", id="full-width-mobile-us"),
        pytest.param("(415) 555-0100", "us", "+14155550100", id="national-us"),
        pytest.param("0044 20 7946 0958", "", "+442079460958", id="double-zero"),
        pytest.param("(415) 555-0100", "", "", id="national-without-region"),
        pytest.param("12345678901", "", "", id="invalid"),
    ],
)
def test_phone_e164(raw, region, expected):
    assert phone_e164(raw, default_region=region) == expected


def test_id_card_and_bank_card_checks():
    assert id_card_is_valid("11010519491231002x")
    assert id_card_is_valid("510107200002290010")  # 29 February 2000
    assert not id_card_is_valid("510107200102290015")  # no 29 February in 2001
    assert not id_card_is_valid("991234199001011234")  # no such province
    assert bank_card_is_valid("6217000012345678907")
    assert not bank_card_is_valid("6217000012345678908")
    assert not bank_card_is_valid("2026112200010006")  # passes Luhn, but no card starts 2026


def test_mask_gives_one_placeholder_per_value_and_unmask_restores_it():
    text = "我叫张伟，手机13800138000，备用 138 0013 8000，邮箱 zw@example.com，再打13912345678"
    masked, mapping = pii_mask(text)

    assert masked == "我叫张伟，手机[PHONE_1]，备用 [PHONE_1]，邮箱 [EMAIL_1]，再打[PHONE_2]"
    assert mapping == {
        "[PHONE_1]": "13800138000",
        "[EMAIL_1]": "zw@example.com",
        "[PHONE_2]": "13912345678",
    }
    reply = "我们会打 [PHONE_1]，发邮件到【EMAIL_1】，[phone_2] 作备用，[PHONE_9] 不认识"
    assert pii_unmask(reply, mapping) == (
        "我们会打 13800138000，发邮件到zw@example.com，13912345678 作备用，[PHONE_9] 不认识"
    )


def test_mask_only_the_kinds_asked_for():
    text = "mail a@b.com, card 4111111111111111, ip 10.0.0.1"
    masked, mapping = pii_mask(text, kinds=["bank_card", "ip"])
    assert masked == "mail a@b.com, card [BANK_CARD_1], ip [IP_1]"
    assert pii_unmask(masked, mapping) == text
    with pytest.raises(ValueError, match="passport"):
        pii_mask(text, kinds=["passport"])


def test_mask_continues_a_conversations_mapping():
    _, first = pii_mask("my email is a@b.com")
    masked, mapping = pii_mask("again: A@B.COM, and c@d.com", mapping=first)
    assert masked == "again: [EMAIL_1], and [EMAIL_2]"
    assert mapping == {"[EMAIL_1]": "a@b.com", "[EMAIL_2]": "c@d.com"}


def test_a_placeholder_the_customer_typed_is_not_reused():
    text = "what is [PHONE_1]? my number is 13800138000"
    masked, mapping = pii_mask(text)
    assert masked == "what is [PHONE_1]? my number is [PHONE_2]"
    assert mapping == {"[PHONE_2]": "13800138000"}


def test_text_without_pii_is_unchanged():
    text = "<b>你好</b>，我想问一下退款 & shipping"
    assert pii_mask(text) == (text, {})
    assert pii_unmask(text, {}) == text

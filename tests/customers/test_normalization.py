import pytest

from customers.enums import IdentityKind
from customers.normalization import (
    InvalidIdentity,
    email_normalize,
    identity_normalize,
    phone_normalize,
    phone_region,
)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        # China: mobile with and without the country code, spaces, dashes, 00 prefix
        ("13800138000", "CN", "+8613800138000"),
        ("138 0013 8000", "CN", "+8613800138000"),
        ("+86 138-0013-8000", None, "+8613800138000"),
        ("008613800138000", None, "+8613800138000"),
        ("+86 (0)10 6552 9988", None, "+861065529988"),
        # United States: the same number written five ways
        ("(650) 253-0000", "US", "+16502530000"),
        ("650.253.0000", "US", "+16502530000"),
        ("+1 650 253 0000", "GB", "+16502530000"),
        ("1-650-253-0000", "US", "+16502530000"),
        ("  +16502530000  ", None, "+16502530000"),
        # United Kingdom: the trunk 0 is dropped
        ("07911 123456", "GB", "+447911123456"),
        ("+44 7911 123456", None, "+447911123456"),
        # Germany, India, Brazil, Japan, Indonesia
        ("030 123456", "DE", "+4930123456"),
        ("+91 98765 43210", None, "+919876543210"),
        ("(11) 96123-4567", "BR", "+5511961234567"),
        ("090-1234-5678", "JP", "+819012345678"),
        ("0812-3456-7890", "ID", "+6281234567890"),
        # Region given in lower case
        ("13800138000", "cn", "+8613800138000"),
    ],
)
def test_phones_in_many_formats_become_e164(raw, region, expected):
    assert phone_normalize(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("12345", "CN"),  # too short
        ("not a number", "US"),
        ("+999 123 456", None),  # no such country code
        ("", "GB"),
        ("13800138000", None),  # no country code and no region to read it in
    ],
)
def test_invalid_phones_are_refused_with_a_message(raw, region, settings):
    settings.PHONE_DEFAULT_REGION = ""
    with pytest.raises(InvalidIdentity) as error:
        phone_normalize(raw, region)
    assert "phone number" in str(error.value)


def test_the_default_region_comes_from_settings_when_the_channel_has_none(settings):
    settings.PHONE_DEFAULT_REGION = "CN"
    assert phone_normalize("13800138000") == "+8613800138000"
    # the channel's region wins over the setting
    assert phone_normalize("07911 123456", "GB") == "+447911123456"


def test_a_number_without_region_says_to_add_the_country_code(settings):
    settings.PHONE_DEFAULT_REGION = ""
    with pytest.raises(InvalidIdentity, match="country code"):
        phone_normalize("13800138000")


def test_phone_region():
    assert phone_region("+8613800138000") == "CN"
    assert phone_region("+442079460958") == "GB"
    assert phone_region("garbage") == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Alice@Example.COM", "alice@example.com"),
        ("  bob@example.com\n", "bob@example.com"),
        ("Zhang.San+shop@QQ.com", "zhang.san+shop@qq.com"),
        ("Li.Lei@例子.中国", "li.lei@例子.中国"),
    ],
)
def test_emails_are_trimmed_and_lower_cased(raw, expected):
    assert email_normalize(raw) == expected


@pytest.mark.parametrize("raw", ["alice", "alice@", "@example.com", "a b@example.com", ""])
def test_invalid_emails_are_refused(raw):
    with pytest.raises(InvalidIdentity, match="email"):
        email_normalize(raw)


def test_whatsapp_ids_are_digits():
    assert identity_normalize(IdentityKind.WHATSAPP, "+86 138 0013 8000") == "8613800138000"
    with pytest.raises(InvalidIdentity):
        identity_normalize(IdentityKind.WHATSAPP, "12")


def test_other_kinds_are_trimmed_and_bounded():
    assert identity_normalize(IdentityKind.TELEGRAM, " 123456 ") == "123456"
    with pytest.raises(InvalidIdentity):
        identity_normalize(IdentityKind.LINE, "   ")
    with pytest.raises(InvalidIdentity):
        identity_normalize(IdentityKind.LINE, "x" * 256)
    with pytest.raises(InvalidIdentity, match="Unknown identity kind"):
        identity_normalize("fax", "123")


def test_a_whatsapp_business_scoped_user_id_is_kept_as_given():
    from customers.normalization import identity_normalize

    assert identity_normalize("whatsapp", " US.13491208655302741918 ") == "US.13491208655302741918"
    assert identity_normalize("whatsapp", "+1 650-555-1234") == "16505551234"

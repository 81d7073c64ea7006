"""Contact details and order numbers from customers' own words, in Chinese and English, with
the look-alikes that must not be taken (a verb after 我是, an order number, a year)."""

import pytest

from ai_agent.offline.entities import ContactDetails, contacts_extract, order_numbers_extract


@pytest.mark.parametrize(
    ("text", "region", "phones"),
    [
        pytest.param("我的手机13800138000", "", ("+8613800138000",), id="zh-mobile-no-region"),
        pytest.param("电话：138 0013 8000，微信同号", "", ("+8613800138000",), id="zh-grouped"),
        pytest.param("手机号１３９１２３４５６７８谢谢", "", ("+8613912345678",), id="full-width"),
        pytest.param("+86 139-1234-5678 / 13912345678", "", ("+8613912345678",), id="same-twice"),
        pytest.param("call me at +1 (415) 555-0100", "", ("+14155550100",), id="us-intl"),
        pytest.param("call me at (415) 555-0100", "US", ("+14155550100",), id="us-national"),
        pytest.param("call me at (415) 555-0100", "", (), id="national-needs-region"),
        pytest.param("座机 010-12345678 转 8001", "CN", ("+861012345678",), id="zh-landline"),
        pytest.param("订单号 13800138000 还没到", "", (), id="order-number-shaped-like-phone"),
        pytest.param("订单号 202611220001", "CN", (), id="order-number"),
        pytest.param("my number is 555-1234", "US", (), id="invalid-number"),
    ],
)
def test_phones(text, region, phones):
    assert contacts_extract(text, default_region=region).phones == phones


@pytest.mark.parametrize(
    ("text", "emails"),
    [
        pytest.param("邮箱 Zhang.Wei@Example.COM", ("Zhang.Wei@example.com",), id="domain-lowered"),
        pytest.param(
            "mail: anna＠ACME.io, or anna@acme.io", ("anna@acme.io",), id="full-width-dedupe"
        ),
        pytest.param("我的QQ邮箱12345678@qq.com谢谢", ("12345678@qq.com",), id="qq-mail"),
        pytest.param("email me at john at gmail dot com", (), id="spelled-out-not-taken"),
    ],
)
def test_emails(text, emails):
    assert contacts_extract(text).emails == emails


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        pytest.param("加我微信 abc_123", ("abc_123",), id="zh-wechat"),
        pytest.param("微信号：zhangwei", ("zhangwei",), id="zh-wechat-number-letters"),
        pytest.param("vx: abc123，wx号 Li-Na_88", ("abc123", "Li-Na_88"), id="vx-wx"),
        pytest.param("My WeChat ID is john_smith88", ("john_smith88",), id="en-wechat-id"),
        pytest.param("WeChat: annawang", ("annawang",), id="en-wechat-colon"),
        pytest.param("微信同号", (), id="same-as-phone"),
        pytest.param("my wechat is blocked", (), id="english-word-after-is"),
        pytest.param("can I pay with wechat payment", (), id="wechat-pay"),
        pytest.param("微信 12345678", (), id="must-start-with-letter"),
        pytest.param("微信 ab1", (), id="too-short"),
        pytest.param("abc_123", (), id="not-introduced"),
    ],
)
def test_wechat_ids(text, ids):
    assert contacts_extract(text).wechat_ids == ids


@pytest.mark.parametrize(
    ("text", "name"),
    [
        pytest.param("我叫张伟，想咨询一下", "张伟", id="wo-jiao"),
        pytest.param("你好我是李娜想问一下退款", "李娜", id="wo-shi-then-verb"),
        pytest.param("我是欧阳娜娜。", "欧阳娜娜", id="compound-surname"),
        pytest.param("我是陈先生", "陈先生", id="surname-honorific"),
        pytest.param("我是小王呀", "小王", id="xiao-surname"),
        pytest.param("姓名：王小明 电话13800138000", "王小明", id="label"),
        pytest.param("联系人: John Smith", "John Smith", id="label-latin"),
        pytest.param("my name is John Smith and I ordered twice", "John Smith", id="my-name-is"),
        pytest.param("my name is anna", "anna", id="lower-case"),
        pytest.param("Hi, this is Anna from Acme Corp", "Anna", id="this-is"),
        pytest.param("I'm Li Wei, calling about my order", "Li Wei", id="i-am"),
        pytest.param("我是来问退款的", "", id="came-to-ask"),
        pytest.param("我是想问一下运费", "", id="want-to-ask"),
        pytest.param("我是顾客", "", id="customer"),
        pytest.param("我是老客户了", "", id="old-customer"),
        pytest.param("我是周末买的", "", id="weekend"),
        pytest.param("我是江苏的", "", id="province"),
        pytest.param("我是刘德华的粉丝", "", id="someone-elses-name"),
        pytest.param("我是在你们店买的", "", id="bought-at"),
        pytest.param("I'm not happy with this", "", id="im-not"),
        pytest.param("This is Ridiculous!", "", id="this-is-adjective"),
        pytest.param("Company name: Acme", "", id="company-name-label"),
    ],
)
def test_names(text, name):
    assert contacts_extract(text).name == name


@pytest.mark.parametrize(
    ("text", "company"),
    [
        pytest.param("我是华为公司的，想采购一批", "华为公司", id="wo-shi-company"),
        pytest.param(
            "我在深圳市腾讯计算机系统有限公司上班", "深圳市腾讯计算机系统有限公司", id="work-at"
        ),
        pytest.param("公司：字节跳动", "字节跳动", id="label"),
        pytest.param("This is Anna from Acme Corp.", "Acme Corp", id="from-after-name"),
        pytest.param("I work at Globex Corporation", "Globex Corporation", id="work-at-en"),
        pytest.param("we are buying on behalf of Initech LLC", "Initech LLC", id="suffix"),
        pytest.param("company: Wayne Enterprises, 20 units", "Wayne Enterprises", id="label-en"),
        pytest.param("我是想问一下你们公司的产品", "", id="your-company"),
        pytest.param("我是你们公司的老客户", "", id="your-company-customer"),
        pytest.param("I'm Li from China", "", id="from-a-country"),
        pytest.param("I bought it from Amazon", "", id="bought-from"),
        pytest.param("I work at a bank", "", id="lower-case-workplace"),
    ],
)
def test_companies(text, company):
    assert contacts_extract(text).company == company


def test_name_and_company_together():
    details = contacts_extract("我是华为公司的张伟，电话13800138000，邮箱 zw@huawei.com")
    assert details == ContactDetails(
        phones=("+8613800138000",),
        emails=("zw@huawei.com",),
        wechat_ids=(),
        name="张伟",
        company="华为公司",
    )
    assert not details.is_empty()


@pytest.mark.parametrize(
    "text",
    ["你好，我的快递到哪了？", "Where is my order #A12345?", "", "😡😡😡", "订单号 202611220001"],
)
def test_nothing_to_contact(text):
    assert contacts_extract(text).is_empty()


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        pytest.param("订单号 202611220001 还没发货", ("202611220001",), id="zh-order-number"),
        pytest.param("订单号：２０２６１１２２０００１", ("202611220001",), id="full-width"),
        pytest.param("我的订单202611220001还没到", ("202611220001",), id="zh-glued"),
        pytest.param("订单编号是SO-99812吗", ("SO-99812",), id="zh-code"),
        pytest.param("order #A12345 hasn't shipped", ("A12345",), id="en-hash"),
        pytest.param("Order number: SO-99812", ("SO-99812",), id="en-number"),
        pytest.param("order no. 77881 please", ("77881",), id="en-no"),
        pytest.param("my order 12345678 is late", ("12345678",), id="en-bare"),
        pytest.param("orders 1001, 1002 and 1003", ("1001", "1002", "1003"), id="en-list"),
        pytest.param("订单 1001、1002", ("1001", "1002"), id="zh-list"),
        pytest.param("订单号 13800138000", ("13800138000",), id="said-order-number"),
        pytest.param("订单 1299元", (), id="price"),
        pytest.param("订单 2024-11-22 下的", (), id="date"),
        pytest.param("my order 2024 was fine", (), id="year"),
        pytest.param("我的订单有问题，电话 13800138000", (), id="phone-elsewhere"),
        pytest.param("订单 13800138000 是我的电话", (), id="mobile-without-number-word"),
        pytest.param("快递单号 YT123456789", (), id="tracking-number"),
        pytest.param("运单号 SF1234567890", (), id="waybill"),
        pytest.param("I ordered 12345 items", (), id="ordered"),
        pytest.param("the order is late, 12345", (), id="not-introduced"),
        pytest.param("order 2 boxes", (), id="quantity"),
    ],
)
def test_order_numbers(text, numbers):
    assert order_numbers_extract(text) == numbers

"""Intent by rules, in Chinese, English and both mixed. A false "human" hands a conversation
to a person for nothing, so the look-alikes get as many cases as the requests."""

import pytest

from ai_agent.offline.intent import INTENTS, intent_detect, wants_human


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("人工", id="zh-rengong"),
        pytest.param("转人工！！", id="zh-zhuan-rengong"),
        pytest.param("我要人工客服", id="zh-rengong-kefu"),
        pytest.param("人工在吗", id="zh-rengong-there"),
        pytest.param("客服", id="zh-kefu-alone"),
        pytest.param("客服呢？？", id="zh-where-is-kefu"),
        pytest.param("帮我找一下客服", id="zh-find-kefu"),
        pytest.param("不要机器人，给我找个真人", id="zh-no-robot-real-person"),
        pytest.param("我要找你们经理", id="zh-manager"),
        pytest.param("叫你们领导出来", id="zh-boss"),
        pytest.param("有活人吗", id="zh-slang-living-person"),
        pytest.param("你是机器人吗？我要人工", id="zh-bot-question-then-request"),
        pytest.param("talk to a human", id="en-talk-to-human"),
        pytest.param("Can I speak to someone?", id="en-speak-to-someone"),
        pytest.param("I want to speak to your manager", id="en-manager"),
        pytest.param("connect me with a live agent please", id="en-live-agent"),
        pytest.param("Is there a real person I can talk to?", id="en-real-person"),
        pytest.param("Are you able to connect me to a human?", id="en-are-you-able"),
        pytest.param("human please", id="en-human-please"),
        pytest.param("Operator!", id="en-operator"),
        pytest.param("I don't want to talk to a bot", id="en-no-bot"),
        pytest.param("stop the bot, get me a representative", id="en-representative"),
        pytest.param("ｈｕｍａｎ　ｐｌｅａｓｅ", id="full-width"),
        pytest.param("please 转人工 thx", id="mixed"),
    ],
)
def test_asking_for_a_person(text):
    assert wants_human(text)
    intent = intent_detect(text)
    assert intent.name == "human"
    assert intent.confidence >= 0.9
    assert intent.cues


@pytest.mark.parametrize(
    "text",
    [
        # Asking whether it is a bot is a question we answer, not a request for a person.
        pytest.param("你是机器人吗？", id="zh-are-you-a-bot"),
        pytest.param("你是真人还是机器人", id="zh-person-or-bot"),
        pytest.param("现在是人工吗", id="zh-is-this-human"),
        pytest.param("are you a bot?", id="en-are-you-a-bot"),
        pytest.param("Am I talking to a real person?", id="en-am-i-talking-to"),
        pytest.param("Are you a real person or a bot?", id="en-person-or-bot"),
        # Declining.
        pytest.param("不用转人工了，谢谢", id="zh-no-need"),
        pytest.param("不需要人工", id="zh-not-needed"),
        pytest.param("I don't need an agent", id="en-dont-need"),
        pytest.param("No need for an agent, thanks", id="en-no-need"),
        # The words, meaning something else.
        pytest.param("人工智能是什么", id="zh-artificial-intelligence"),
        pytest.param("人工费怎么算", id="zh-labour-cost"),
        pytest.param("有没有真人图片", id="zh-real-photos"),
        pytest.param("客服在吗", id="zh-kefu-zaima-is-hello"),
        pytest.param("你们客服态度太差了", id="zh-complaint-about-kefu"),
        pytest.param("我找客服问过了", id="zh-asked-before"),
        pytest.param("有人吗", id="zh-anyone-is-hello"),
        pytest.param("my travel agent booked it", id="en-travel-agent"),
        pytest.param("I am a sales representative at Acme", id="en-i-am-a-rep"),
        pytest.param("the human body", id="en-human-body"),
        pytest.param("人工知能について", id="japanese-kanji"),
    ],
)
def test_not_asking_for_a_person(text):
    assert not wants_human(text)
    assert intent_detect(text).name != "human"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("我的快递到哪了", "logistics", id="zh-where-is-parcel"),
        pytest.param("我今天下单的话大概几天能收到？", "logistics", id="zh-how-many-days"),
        pytest.param("能寄到美国吗？", "logistics", id="zh-ship-abroad"),
        pytest.param("可以到店自提吗？", "logistics", id="zh-pick-up"),
        pytest.param("买的台灯不喜欢，可以退吗？", "refund", id="zh-can-i-return"),
        pytest.param("那怎么退呢？", "refund", id="zh-how-to-return"),
        pytest.param("And how do I actually send it back?", "refund", id="en-send-back"),
        pytest.param("可以用信用卡付款吗？", "purchase", id="zh-pay-by-card"),
        pytest.param("什么时候发货啊", "logistics", id="zh-when-ship"),
        pytest.param("订单什么时候发货", "logistics", id="zh-order-ship"),
        pytest.param("帮我查下物流", "logistics", id="zh-check-logistics"),
        pytest.param("东西还没收到", "logistics", id="zh-not-received"),
        pytest.param("where is my order?", "logistics", id="en-where-is-my-order"),
        pytest.param("what's the tracking number", "logistics", id="en-tracking"),
        pytest.param("my package hasn't arrived", "logistics", id="en-not-arrived"),
        pytest.param("订单状态怎么查", "order_status", id="zh-order-status"),
        pytest.param("订单号 202611220001 显示已取消", "order_status", id="zh-order-number"),
        pytest.param("我付款了但是订单显示未付款", "order_status", id="zh-paid"),
        pytest.param("order #A12345 status", "order_status", id="en-order-status"),
        pytest.param("can I cancel my order?", "order_status", id="en-cancel-order"),
        pytest.param("这个多少钱", "pricing", id="zh-how-much"),
        pytest.param("有优惠券吗", "pricing", id="zh-coupon"),
        pytest.param("运费怎么算", "pricing", id="zh-shipping-fee"),
        pytest.param("how much is it?", "pricing", id="en-how-much"),
        pytest.param("do you offer a discount for students", "pricing", id="en-discount"),
        pytest.param("我想买两个", "purchase", id="zh-want-to-buy"),
        pytest.param("还有货吗", "purchase", id="zh-in-stock"),
        pytest.param("我们公司想批发一批", "purchase", id="zh-wholesale"),
        pytest.param("I want to buy 3 of these", "purchase", id="en-buy"),
        pytest.param("is it available in red?", "purchase", id="en-available"),
        pytest.param("我要退款", "refund", id="zh-refund"),
        pytest.param("怎么申请退货", "refund", id="zh-return"),
        pytest.param("没收到退款", "refund", id="zh-refund-not-received"),
        pytest.param("垃圾，我要退货", "refund", id="zh-angry-return"),
        pytest.param("I want my money back", "refund", id="en-money-back"),
        pytest.param("I have not received my refund", "refund", id="en-refund-not-received"),
        pytest.param("我要refund", "refund", id="mixed"),
        pytest.param("我要投诉你们", "complaint", id="zh-complain"),
        pytest.param("我要投诉，退款一直不到", "complaint", id="zh-complain-and-refund"),
        pytest.param("你们客服态度太差了", "complaint", id="zh-bad-attitude"),
        pytest.param("你们是骗子吧", "complaint", id="zh-liars"),
        pytest.param("this is unacceptable, terrible service", "complaint", id="en-terrible"),
        pytest.param("I will never buy from you again", "complaint", id="en-never-again"),
        pytest.param("我的电话是13800138000", "contact_info", id="zh-phone"),
        pytest.param("你好，我是张伟，微信 zw_2024", "contact_info", id="zh-name-wechat"),
        pytest.param("my email is anna@acme.io", "contact_info", id="en-email"),
        pytest.param("你们几点上班？", "question", id="zh-hours"),
        pytest.param("可以开发票吗", "question", id="zh-invoice"),
        pytest.param("what are your opening hours", "question", id="en-hours"),
        pytest.param("你是机器人吗？", "question", id="zh-bot-question"),
        pytest.param("你是真人还是机器人", "question", id="zh-bot-question-no-mark"),
        pytest.param("你好", "greeting", id="zh-hello"),
        pytest.param("在吗", "greeting", id="zh-zaima"),
        pytest.param("Hi there!", "greeting", id="en-hi"),
        pytest.param("谢谢", "thanks", id="zh-thanks"),
        pytest.param("thx a lot 👍", "thanks", id="en-thanks"),
        pytest.param("好的谢谢，再见", "goodbye", id="zh-thanks-bye"),
        pytest.param("拜拜", "goodbye", id="zh-bye"),
        pytest.param("ok bye, have a nice day", "goodbye", id="en-bye"),
        pytest.param("好的", "other", id="zh-ok"),
        pytest.param("嗯嗯", "other", id="zh-mm"),
        pytest.param("😂😂", "other", id="emoji"),
        pytest.param("", "other", id="empty"),
    ],
)
def test_intents(text, expected):
    intent = intent_detect(text)
    assert intent.name == expected, intent
    assert intent.name in INTENTS
    assert 0 < intent.confidence <= 1


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("不想退款了", id="zh-no-longer"),
        pytest.param("不用给我退款，换一个就行", id="zh-no-refund-exchange"),
        pytest.param("I don't want a refund anymore", id="en-dont-want"),
    ],
)
def test_declining_is_not_asking(text):
    assert intent_detect(text).name != "refund"


def test_a_greeting_does_not_hide_the_request():
    assert intent_detect("你好，我想问一下退款").name == "refund"
    assert intent_detect("Hello, where is my package?").name == "logistics"
    assert intent_detect("你好，我叫张伟，13800138000，我要退货").name == "refund"


def test_cues_say_what_decided():
    intent = intent_detect("订单号 202611220001 还没发货")
    assert intent.name == "logistics"
    assert "发货" in intent.cues
    assert intent_detect("订单号 202611220001 的状态").cues[-1] == "202611220001"


def test_a_clear_cue_is_surer_than_a_close_call():
    clear = intent_detect("我的快递到哪了")
    close = intent_detect("我昨天下的订单202611220001还没发货")
    assert clear.name == close.name == "logistics"
    assert clear.confidence > close.confidence


def test_japanese_turns_the_chinese_rules_off():
    assert intent_detect("退款", language="ja").name != "refund"
    assert intent_detect("退款", language="zh").name == "refund"
    assert intent_detect("退款", language="en").name == "refund"  # detectors err on short text

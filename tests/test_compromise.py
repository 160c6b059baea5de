"""SPEC 2: plain-language signs of account compromise make a message `security`."""

from __future__ import annotations

import pytest

from router.text import normalize, to_simplified
from router.understand.compromise import find


def signal(text: str) -> str | None:
    """Fold the text exactly as the pipeline does before calling find()."""
    return find(to_simplified(normalize(text)).lower())


POSITIVE_EN = [
    "My account was hacked yesterday",
    "I've been hacked!",
    "HELP, I HAVE BEEN HACKED",
    "Someone logged into my account from an IP in another country",
    "Somebody changed my email address and phone number",
    "someone else withdrew all my USDT",
    "There was an unauthorized withdrawal of 2 BTC",
    "Unauthorised login from a new device",
    "Unauthorized access to my account",
    "I did not make this withdrawal",
    "I didn't authorize this transfer",
    "I never requested this withdrawal",
    "I never made any of these withdrawals",
    "This trade was not authorized by me",
    "my account has been compromised",
    "my account got taken over",
    "My phone was stolen and it had my 2FA",
    "I lost my phone with Google Authenticator on it",
    "I was a victim of a SIM swap",
    "I received a phishing email pretending to be you",
    "My API key was leaked on GitHub",
    "I think my private key is compromised",
    "my funds were stolen",
    "A hacker drained my wallet",
    "Please help me protect my funds from the hacker who stole my password",
    "I need to protect my account because it was hacked",
    "I found an XSS vulnerability on your site",
]

POSITIVE_ZH = [
    "我的账户被盗了",
    "账号被黑客攻击了",
    "有人异地登录了我的账户",
    "这笔提现不是我本人操作的",
    "我的资金被转走了",
    "收到假客服的电话，让我转账",
    "我的私钥泄露了",
    "我的手机丢了，谷歌验证器也在上面",
    "SIM卡被人补办了",
    "未经我同意转账了5000USDT",
    "有一笔未经授权的提现",
    "我发现了一个安全漏洞",
    "账户是不是被盗了？资产都没了",
    "我的账户被盗了，如何防止再次被盗",
]

POSITIVE_HANT = [
    "我的帳戶被盜了",
    "帳號被駭了",
    "有人異地登錄了我的賬戶",
    "這筆提現不是我本人操作的",
    "我的資金被轉走了",
    "我的私鑰洩露了",
    "我的助記詞洩露了",
    "我的手機丟了，谷歌驗證器也在上面",
    "有一筆未經授權的提現",
]


@pytest.mark.parametrize("text", POSITIVE_EN + POSITIVE_ZH + POSITIVE_HANT)
def test_signs_of_compromise(text: str) -> None:
    hit = signal(text)
    assert hit, text
    # the phrase returned is a piece of the (folded) text, for the reason line
    assert hit in to_simplified(normalize(text)).lower()


NEGATIVE_EN = [
    "I forgot my password",
    "I lost my password, how do I reset it?",
    "How do I reset my password?",
    "How do I enable 2FA?",
    "I want to change my phone number",
    "My withdrawal has been pending for 3 days",
    "Please unfreeze my account",
    "my deposit is not credited",
    "Why was my account frozen? I did not make any suspicious transaction",
    "I didn't do anything and my account was frozen",
    "The withdrawal was not authorized by the compliance team yet",
    "I get 401 Unauthorized from the API",
    "unauthorized to access the API? I get 401 error",
    "How to prevent unauthorized withdrawals? Can I set a whitelist?",
    "My account is not compromised, I just cannot log in",
    "I have never been hacked and I want to keep it that way",
]

NEGATIVE_ZH = [
    "我忘记密码了",
    "密码忘了怎么办",
    "提现一直没到账",
    "充值未到账",
    "请问如何开启谷歌验证",
    "我的账户被冻结了，请帮忙解冻",
    "我没有操作过，账户就被冻结了",
    "API返回未授权错误401",
    "如何防止账户被盗？",
    "为防止被盗，我已经改了密码",
    "我的账户没有被盗，只是被冻结了",
]

NEGATIVE_HANT = [
    "我忘記密碼了",
    "請問如何開啟谷歌驗證",
    "我的帳戶被凍結了",
    "如何防止帳戶被盜？",
]


@pytest.mark.parametrize("text", NEGATIVE_EN + NEGATIVE_ZH + NEGATIVE_HANT)
def test_not_compromise(text: str) -> None:
    assert signal(text) is None


# "How do I protect my account from hackers?" is decided NOT compromise: SPEC 2
# asks for a *sign* of compromise, and a question about prevention shows none.
# Sending it to the security team would make every how-to about 2FA a security
# case.  The same holds in Chinese.  A prevention question that also reports
# an incident still counts (see the positives "I need to protect my account
# because it was hacked" and "...如何防止再次被盗").
@pytest.mark.parametrize(
    "text",
    [
        "how do I protect my account from hackers",
        "How do I keep my account safe from hackers?",
        "怎样保护账户不被黑客攻击",
        "如何保護帳戶免受黑客攻擊",
    ],
)
def test_prevention_questions_are_not_compromise(text: str) -> None:
    assert signal(text) is None


def test_a_later_real_sign_is_found_after_a_prevention_phrase() -> None:
    text = "How do I protect my account from hackers? Someone logged into my account last night."
    assert signal(text) == "someone logged in"


def test_empty_text() -> None:
    assert signal("") is None


@pytest.mark.parametrize("text", ["API returns 401 unauthorized api key error", "error 403: unauthorized access"])
def test_http_status_is_not_an_incident(text: str) -> None:
    assert signal(text) is None


# --- issue 12: account-takeover signals, also buried in another request -------

from router.understand.compromise import signals  # noqa: E402


def kinds(text: str) -> list[str]:
    return [s.kind for s in signals(to_simplified(normalize(text)).lower())]


BURIED = [
    ("Hi, general question about staking rewards: when are they paid? Also, unrelated, yesterday I got an email about "
     "a new-device login from Moscow which I did not make. Anyway, what's the APY on ETH?", "unrecognised_login"),
    ("Please unfreeze my account, I need the funds for rent this week. I attached my ID. I remember now that on Saturday, "
     "while I was watching a film, I got an SMS about a login, but I ignored it.", "unrecognised_login"),
    ("How do I reset 2FA? My phone with Google Authenticator fell into the sea last week.", "lost_authenticator"),
    ("Quick question about fees for USDT on TRC20. By the way my phone suddenly had no service on Friday night.", "sim_swap"),
    ("My carrier says my number was ported out to another provider yesterday.", "sim_swap"),
    ("Can you check my withdrawal from Tuesday? Also I got an email that my phone number was changed, but that was not me.",
     "account_changed"),
    ("My e-mail address was changed yesterday and I did not do it.", "account_changed"),
    ("There is a new whitelist address in my account that I never added.", "account_changed"),
    ("Someone reset my fund password last night.", "account_changed"),
    ("I received your email saying 2FA was disabled. I didn't disable anything!", "account_changed"),
    ("A WeChat 'agent' asked me for the SMS code and I gave it to him.", "credentials_given"),
    ("I entered my password on a fake site that looked exactly like yours.", "credentials_given"),
    ("The admin of the signal group offered to manage my account and I gave him my password.", "credentials_given"),
    ("Someone tried to log in to my account 14 times tonight, all failed.", "unrecognised_login"),
    ("请问理财收益什么时候发？另外昨天收到一条新设备登录提醒，不是我本人登录的。", "unrecognised_login"),
    ("我的账户被冻结了，请尽快解冻。对了，周六我在看电影的时候收到过一条登录短信。", "unrecognised_login"),
    ("请问怎么重置谷歌验证？我的手机上周掉进水里坏了，谷歌验证器在上面。", "lost_authenticator"),
    ("我的手机号被人改了，现在收不到验证码", "account_changed"),
    ("白名单里多了一个地址，我从来没有添加过", "account_changed"),
    ("手机突然没有信号了，然后就收到提币通知", "sim_swap"),
    ("微信上的客服让我把短信验证码发给他，我就发了", "credentials_given"),
    ("我的手機號碼被人改了", "account_changed"),
    ("請問手續費多少？順便說一下，昨天收到新裝置登入通知，但不是我本人登入的。", "unrecognised_login"),
    ("我在假網站輸入了密碼，怎麼辦", "credentials_given"),
    ("我的資金密碼被修改了，我沒有修改過", "account_changed"),
    # a disowning said in passing, in the next sentence (issue 12: buried signals)
    ("What are the futures fees? My payout address in the affiliate page is a TRC20 one now. I never set that.", "account_changed"),
    ("Two API keys are listed in my account. None of us created the second one, it has withdrawal permission.", "account_changed"),
    ("I keep getting password reset emails that I did not request, three since Monday.", "account_changed"),
    ("there was a withdrawal of 900 USDT on the 3rd that I don't remember making", "compromise"),
    ("A man called me from your 'hotline' and I read out the code from the SMS to him.", "credentials_given"),
    ("I clicked the link in the text message and entered my login details before I noticed.", "credentials_given"),
    ("My old iPhone with the authenticator app on it was stolen at the station.", "lost_authenticator"),
    ("The carrier told me someone ported it out with a fake ID.", "sim_swap"),
    ("You froze me because I was logged into from Brazil? I have never been to Brazil.", "unrecognised_login"),
    ("请问手续费怎么算？另外白名单里有个地址不是我加的。", "account_changed"),
    ("安全中心显示绑定邮箱变成了一个陌生的邮箱，我自己从来没改过。", "account_changed"),
    ("上周那笔提币我完全没有印象，钱到了一个陌生地址。", "compromise"),
    ("我没有申请过，但手机一直收到登录验证码。", "account_changed"),
    ("点开短信里的链接以后，我输入了账号和密码，后来觉得网址不对。", "credentials_given"),
    ("我將手機收到的驗證碼畀咗佢，佢自稱係客服。", "credentials_given"),
]


@pytest.mark.parametrize(("text", "kind"), BURIED)
def test_account_takeover_signals(text: str, kind: str) -> None:
    found = signals(to_simplified(normalize(text)).lower())
    assert kind in [s.kind for s in found], (text, found)
    signal_of_kind = next(s for s in found if s.kind == kind)
    assert signal_of_kind.phrase in signal_of_kind.reason
    assert signal(text)  # find() reports it too, so the decision becomes security


HOW_TO = [
    "How do I change my phone number?",
    "How can I update my email address on the account?",
    "I want to add a new withdrawal whitelist address, where is the setting?",
    "I changed my phone number last month, do I need to update 2FA as well?",
    "How do I move Google Authenticator to my new phone?",
    "What happens if my phone is stolen? How would I recover 2FA?",
    "I got a new-device login alert, it was me on my new laptop.",
    "Is a login from a new device always confirmed by e-mail?",
    "I have not changed my password, device or email recently, so I don't think this is a security matter.",
    "Where do I enter the SMS code when I withdraw?",
    "如何修改绑定的手机号？",
    "怎么更换邮箱？",
    "我想添加提币白名单地址，在哪里设置？",
    "如果手机丢了，谷歌验证器怎么办？",
    "新设备登录需要验证吗？",
    "收到新设备登录提醒，是我本人登录的，请问会影响提现吗？",
    "請問如何更換綁定的手機號碼？",
    "我沒有被盜號，只是帳戶被限制了",
    "我一度以为账户被盗，后来发现是跟单系统下的单。",
    "我不是说账户被盗，只是想知道资料给了哪些第三方。",
    "请问防钓鱼码在哪里设置？",
    "What is the anti-phishing code for?",
    "I'm not reporting any unauthorised activity, I just want my limit raised.",
    "I changed my email last week myself, now I cannot find the verification mail, where is it?",
    "How do I add a second API key? I never set one up before.",
    "我想改成邮箱验证，我没有开谷歌验证器，短信验证码也经常收不到。",
    "白名单地址是我自己加的，请问为什么还要等24小时？",
]


@pytest.mark.parametrize("text", HOW_TO)
def test_how_to_questions_and_taken_back_fears_are_not_signals(text: str) -> None:
    assert kinds(text) == [], text
    assert signal(text) is None


def test_signals_are_in_text_order_one_per_kind() -> None:
    text = "I lost my phone with Google Authenticator on it. Then someone changed my email address without my consent."
    found = kinds(text)
    assert found[0] == "lost_authenticator"
    assert "account_changed" in found
    assert len(found) == len(set(found))


def test_hostile_text_stays_fast() -> None:
    import time

    text = ("phone authenticator someone changed " * 2000 + "if ") * 3
    start = time.perf_counter()
    signals(text)
    assert time.perf_counter() - start < 2.0

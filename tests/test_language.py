"""Language and script of a message: zh (hans/hant), en, other."""

from __future__ import annotations

import base64

import pytest

from router.understand.language import customer_text, detail, detect


@pytest.mark.parametrize(
    "text",
    [
        "我的账户被冻结了，请帮忙处理。",
        "您好，我昨天提现的USDT一直没有到账，麻烦查一下。",
        "账户冻结申诉-UID12345678",
        "提现",
        "感谢你们的帮助，问题已经解决了",
    ],
)
def test_simplified_chinese(text: str) -> None:
    assert detect(text) == ("zh", "hans")


@pytest.mark.parametrize(
    "text",
    [
        "我的帳戶被凍結了，請幫忙處理。",
        "您好，我昨天提現的USDT一直沒有到賬，麻煩查一下。",
        "台灣的用戶，帳號無法登入",
        "感謝您的幫助，我的賬戶已經恢復了",
        "帳戶凍結申訴－ＵＩＤ１２３４５６７８",
    ],
)
def test_traditional_chinese(text: str) -> None:
    assert detect(text) == ("zh", "hant")


@pytest.mark.parametrize(
    "text",
    [
        "My account is frozen, please help.",
        "Hello, my withdrawal has been pending for three days. Could you check it?",
        "Account Freeze Appeal - UID 123456789",
        "Hi",
        "I can't log in",
        "I can\u2019t log in",
        "Dear support team,\n\nI would like to ask about the fees for withdrawals to the TRC20 network.\n\nThanks",
    ],
)
def test_english(text: str) -> None:
    assert detect(text) == ("en", None)


@pytest.mark.parametrize(
    "text",
    [
        # Japanese: kanji with kana is not Chinese
        "私のアカウントが凍結されました。助けてください。",
        "アカウントを確認してください",
        "口座凍結の解除をお願いします。",
        # Korean
        "내 계정이 동결되었습니다. 도와주세요.",
        # Russian
        "Мой аккаунт заблокирован, помогите пожалуйста.",
        # French, Spanish, German, Italian, Portuguese: Latin script, not English
        "Bonjour, mon compte est bloqué, aidez-moi s'il vous plaît.",
        "Bonjour, je n'ai pas reçu mon dépôt, on m'a dit d'attendre",
        "Hola, no puedo acceder a mi cuenta desde ayer, me pueden ayudar?",
        "Hallo, ich kann mich nicht in mein Konto einloggen, bitte helfen Sie mir.",
        "Ciao, non riesco a prelevare i miei fondi, è urgente",
        "Olá, não consigo fazer o saque do meu saldo, o valor do saque está pendente",
    ],
)
def test_other_languages(text: str) -> None:
    assert detect(text) == ("other", None)


@pytest.mark.parametrize(
    "text",
    [
        "我的account被frozen了，请帮我看看KYC的问题",
        "我的USDT withdrawal 一直pending，TxID是0xabc123，请尽快处理",
        "您好，我的Google Authenticator丢了，无法登录",
    ],
)
def test_chinese_with_english_words_is_chinese(text: str) -> None:
    assert detect(text) == ("zh", "hans")


def test_traditional_chinese_with_english_words_is_hant() -> None:
    assert detect("我的account被凍結了，請幫我看看KYC的問題") == ("zh", "hant")


@pytest.mark.parametrize(
    "text",
    [
        "Hello, my name is 王小明 and my account is frozen.",
        "Dear support, I am 李明. My withdrawal of 5000 USDT has been pending for three days.",
        "账户冻结申诉-UID12345678\nHello, my account was frozen yesterday and I cannot withdraw. "
        "I attached my passport and a selfie, please help.",
    ],
)
def test_english_with_a_chinese_name_is_english(text: str) -> None:
    assert detect(text) == ("en", None)


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "12345678", "UID12345678 ---", "!!!"])
def test_empty_or_letterless_text_is_other(text: str) -> None:
    assert detect(text) == ("other", None)


def test_only_the_beginning_is_read() -> None:
    # a long English mail with a quoted Chinese tail is still English
    text = "Hello, please help me with my account. " * 200 + "我的账户被冻结了" * 50
    assert detect(text) == ("en", None)


# --- issue 12: the customer's text, and which other language ------------------

DISCLAIMER_EN = (
    "CONFIDENTIALITY NOTICE: This email and any attachments are confidential and intended solely for the use of "
    "the individual or entity to whom they are addressed. If you have received this email in error please notify "
    "the sender immediately and delete it from your system. Any views or opinions presented in this email are "
    "solely those of the author and do not necessarily represent those of the company. The company accepts no "
    "liability for any damage caused by any virus transmitted by this email. " * 2
)
DISCLAIMER_ZH = "本邮件及其附件含有保密信息，仅限于发送给上面地址中列出的个人或群组。禁止任何其他人以任何形式使用本邮件中的信息。" * 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Hola, no puedo retirar mis fondos desde ayer. ¿Pueden ayudarme?\n\nSaludos,\nJuan Pérez\n\n{DISCLAIMER_EN}", "es"),
        (f"您好，我的提现一直没有到账，请帮忙查一下。\n\n{DISCLAIMER_EN}", "zh-Hans"),
        (f"您好，我的提現一直沒有到帳，請幫忙查一下。\n此致\n敬禮\n\n{DISCLAIMER_EN}", "zh-Hant"),
        (f"Hi, my withdrawal has been pending since Monday, please check.\n\nBest regards,\nTom\n\n{DISCLAIMER_ZH}", "en"),
        (f"Bonjour, je ne peux pas retirer mes fonds depuis hier.\n\nSent from my iPhone\n\n{DISCLAIMER_EN}", "fr"),
    ],
)
def test_language_is_judged_on_the_text_before_a_disclaimer(text: str, expected: str) -> None:
    assert detail(text) == expected
    assert detect(text)[0] == {"zh-Hans": "zh", "zh-Hant": "zh", "en": "en"}.get(expected, "other")


def test_disclaimer_at_the_top_does_not_cut_the_body() -> None:
    text = "CONFIDENTIAL\nHi, my withdrawal has been pending since Monday, please check it for me."
    assert customer_text(text) == text
    assert detect(text) == ("en", None)


def test_a_question_about_confidentiality_is_not_a_disclaimer() -> None:
    text = "Hello, I have a question. Is this message confidential? I want to report a stolen phone and my account."
    assert customer_text(text) == text


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Hola, no puedo acceder a mi cuenta, me robaron el teléfono ayer.", "es"),
        ("Olá, não consigo sacar meus fundos desde ontem, podem ajudar?", "pt"),
        ("Bonjour, mon compte est bloqué depuis hier, pouvez-vous m'aider ?", "fr"),
        ("Hallo, ich kann mich seit gestern nicht mehr in mein Konto einloggen.", "de"),
        ("Здравствуйте, мой аккаунт взломали, кто-то вывел все деньги.", "ru"),
        ("Xin chào, tôi không thể rút tiền từ tài khoản của mình.", "vi"),
        ("안녕하세요, 제 계정이 해킹당한 것 같습니다. 도와주세요.", "ko"),
        ("こんにちは、口座にログインできません。助けてください。", "ja"),
        ("Merhaba, hesabıma giriş yapamıyorum, yardım eder misiniz?", "tr"),
        ("Halo, saya tidak bisa menarik dana dari akun saya sejak kemarin.", "id"),
        ("مرحبا، لا أستطيع سحب أموالي من حسابي منذ أمس", "ar"),
        ("สวัสดีครับ ผมไม่สามารถถอนเงินได้", "th"),
    ],
)
def test_detail_names_other_languages(text: str, code: str) -> None:
    assert detect(text) == ("other", None)
    assert detail(text) == code


@pytest.mark.parametrize("text", ["", "12345 678", "!!!"])
def test_detail_of_letterless_text_is_und(text: str) -> None:
    assert detail(text) == "und"


def test_decision_record_carries_language_detail() -> None:
    from router import config, pipeline

    raw = (
        "From: a@example.com\r\nTo: support@exchange.example\r\nSubject: =?utf-8?b?" + base64.b64encode("출금 문의".encode()).decode()
        + "?=\r\nMessage-ID: <ko1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + "안녕하세요, 어제 출금한 USDT가 아직 도착하지 않았습니다. 확인 부탁드립니다.\r\n"
    ).encode()
    _mail, decision = pipeline.triage(raw, config.load(search=False), None)
    record = decision.to_record()
    assert (record["language"], record["language_detail"]) == ("other", "ko")


def test_preload_loads_the_language_model_once() -> None:
    from router.understand import language

    language.preload()
    assert language._identifier.cache_info().currsize == 1
    assert detail("Hallo, ich kann mich seit gestern nicht mehr einloggen.") == "de"

"""Language and script of a message: zh (hans/hant), en, other."""

from __future__ import annotations

import pytest

from router.understand.language import detect


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

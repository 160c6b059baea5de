"""Tests for router.understand.secrets (SPEC 5).

Why so many near-misses: every hit turns a mail into a security case, so the
things that look like secrets but are not (tx hashes, order numbers, UIDs,
addresses, dates, phone numbers, prose) matter as much as the hits.
"""

from __future__ import annotations

import json
import random

import pytest

from secretkit import b58check
from mnemonic import Mnemonic

from router.records import SecretHit
from router.understand.secrets import KINDS, find_secrets, redact, secret_kinds

EN = Mnemonic("english")
ZH_S = Mnemonic("chinese_simplified")
ZH_T = Mnemonic("chinese_traditional")

HEX_KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
TX_HASH = "5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"
API_SECRET = "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY"


def _values(text: str) -> list[tuple[str, str]]:
    return [(h.kind, text[h.start : h.end]) for h in find_secrets(text)]




def _bad_checksum(phrase: str, lang: Mnemonic) -> str:
    """The phrase with its last word swapped so the BIP-39 checksum fails."""
    words = phrase.split()
    for candidate in lang.wordlist:
        trial = " ".join(words[:-1] + [candidate])
        if not lang.check(trial):
            return trial
    raise AssertionError("no invalid variant found")


# --- passwords -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("password: Hunter2!x", "Hunter2!x"),
        ("Hi, my pwd is abc12345 please help", "abc12345"),
        ("pass = s3cr3t!!", "s3cr3t!!"),
        ("Password：Qq112233.", "Qq112233"),
        ('my password is "Tr0ub4dor&3"', "Tr0ub4dor&3"),
        ("密码是 abc123456", "abc123456"),
        ("登录密码：Qq112233。请帮我看看", "Qq112233"),
        ("我的密码是abc123456请帮我登录", "abc123456"),
        ("密碼: Abc12345", "Abc12345"),
        ("登入密碼是 Zz998877，謝謝", "Zz998877"),
    ],
)
def test_password_detected(text: str, value: str) -> None:
    assert _values(text) == [("password", value)]


@pytest.mark.parametrize(
    "text",
    [
        "I forgot my password",
        "password reset",
        "Please change my password, I think it leaked.",
        "my password is wrong",
        "Password: ******",
        "Password: Username:",
        "密码错误",
        "密码忘了怎么办",
        "我的密码是什么？",
        "密碼被改了",
        "password: [REDACTED:password]",
        # the subject convention's UID after a type that ends in "password" (SPEC 3)
        "忘记密码-UID12345678",
        "重置資金密碼－UID 12345678",
        "Re: password-UID12345678",
        "Password_UID:87654321 locked",
    ],
)
def test_password_word_without_value_not_flagged(text: str) -> None:
    assert find_secrets(text) == []


# --- one-time codes --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("My verification code is 123456", "123456"),
        ("Google Authenticator code: 482913", "482913"),
        ("2FA code: 482 913", "482 913"),
        ("OTP 7731", "7731"),
        ("SMS code 90210 just arrived", "90210"),
        ("one-time password: 556677", "556677"),
        ("验证码 123456", "123456"),
        ("谷歌验证码是 482 913", "482 913"),
        ("短信验证码：661234，请尽快处理", "661234"),
        ("驗證碼：654321", "654321"),
        ("動態密碼 13572468", "13572468"),
    ],
)
def test_otp_detected(text: str, value: str) -> None:
    assert _values(text) == [("otp", value)]


@pytest.mark.parametrize(
    "text",
    [
        "验证码收不到",
        "驗證碼一直收不到，我的 UID 是 12345678",
        "I never receive the verification code on +86 138 0013 8000",
        "verification code sent to 13800138000",
        "工單號 2FA-0320-5531",
        "I enabled 2FA on 2023-11-25 at 14:30",
        "2FA 10000 USDT withdrawn",
    ],
)
def test_otp_near_misses_not_flagged(text: str) -> None:
    assert find_secrets(text) == []


# --- private keys ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"my private key: 0x{HEX_KEY}",
        f"Here it is {HEX_KEY} please restore my wallet",
        f"私钥：{HEX_KEY}",
        f"這是我的私鑰 0x{HEX_KEY.upper()}",
    ],
)
def test_hex_private_key_detected(text: str) -> None:
    hits = find_secrets(text)
    assert [h.kind for h in hits] == ["private_key"]
    assert text[hits[0].start : hits[0].end].lower().removeprefix("0x") == HEX_KEY


def test_wif_and_xprv_detected() -> None:
    wif = b58check(b"\x80" + bytes(range(1, 33)) + b"\x01")
    assert wif[0] in "KL" and len(wif) == 52
    assert _values(f"please import {wif} into the app") == [("private_key", wif)]
    uncompressed = b58check(b"\x80" + bytes(range(1, 33)))
    assert _values(f"私鑰 {uncompressed}") == [("private_key", uncompressed)]
    xprv = EN.to_hd_master_key(EN.to_seed(EN.to_mnemonic(bytes(range(16)))))
    assert _values(f"backup: {xprv}") == [("private_key", xprv)]


def test_wif_shape_with_bad_checksum_needs_label() -> None:
    wif = b58check(b"\x80" + bytes(range(1, 33)) + b"\x01")
    broken = wif[:-1] + ("z" if wif[-1] != "z" else "y")
    assert find_secrets(f"reference {broken}") == []
    assert _values(f"private key: {broken}") == [("private_key", broken)]


@pytest.mark.parametrize(
    "text",
    [
        f"TxID: {TX_HASH}",
        f"txid {TX_HASH}",
        f"tx hash: 0x{TX_HASH}",
        f"Transaction ID 0x{TX_HASH}",
        f"Transaction: 0x{TX_HASH}.",
        f"hash: {TX_HASH}",
        f"交易哈希：0x{TX_HASH}",
        f"哈希 {TX_HASH}",
        f"交易ID：{TX_HASH}",
        f"https://etherscan.io/tx/0x{TX_HASH}",
        f"区块链浏览器链接 https://tronscan.org/#/transaction/{TX_HASH}",
        f"My deposit has not arrived, 0x{TX_HASH}",
        f"TxIDs:\n{TX_HASH}\n{HEX_KEY}\n{TX_HASH}",
    ],
)
def test_tx_hashes_not_flagged(text: str) -> None:
    assert find_secrets(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "send to 0x52908400098527886E0F7030069857D2E4169EE7 please",
        "my ETH address is 0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae",
        "BTC address 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        "P2SH 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        "提币地址：TQm7x2KcV9pLr4eZ8nWb3YdH6sJf1GtUaA",
    ],
)
def test_addresses_not_flagged(text: str) -> None:
    assert find_secrets(text) == []


# --- seed phrases ----------------------------------------------------------


@pytest.mark.parametrize("entropy", [bytes(range(16)), bytes(range(32)), bytes(range(100, 124))])
def test_valid_english_mnemonic_detected_unlabelled(entropy: bytes) -> None:
    phrase = EN.to_mnemonic(entropy)
    text = f"Hi, can you check this for me?\n{phrase}\nThanks"
    assert _values(text) == [("seed_phrase", phrase)]


def test_numbered_and_comma_separated_mnemonic() -> None:
    words = EN.to_mnemonic(bytes(range(16))).split()
    numbered = "\n".join(f"{i}. {w}" for i, w in enumerate(words, 1))
    hits = find_secrets("Words:\n" + numbered)
    assert [h.kind for h in hits] == ["seed_phrase"]
    assert redact(numbered).count("[REDACTED:seed_phrase]") == 1
    assert not any(w in redact(numbered) for w in words)
    comma = ", ".join(w.capitalize() for w in words)
    assert _values(comma) == [("seed_phrase", comma)]


def test_chinese_mnemonics_detected() -> None:
    simplified = ZH_S.to_mnemonic(bytes(range(16)))  # space separated
    assert _values(f"请帮我看看：\n{simplified}\n谢谢") == [("seed_phrase", simplified)]
    packed = simplified.replace(" ", "")
    assert _values(f"我的助记词是{packed}，请帮我找回") == [("seed_phrase", packed)]
    assert _values(f"{packed}\n") == [("seed_phrase", packed)]  # alone on its line
    traditional = ZH_T.to_mnemonic(bytes(range(16, 48)))  # 24 words
    assert _values(f"助記詞：{traditional.replace(' ', '')}") == [
        ("seed_phrase", traditional.replace(" ", ""))
    ]
    assert _values(traditional) == [("seed_phrase", traditional)]


def test_checksum_invalid_needs_label() -> None:
    bad = _bad_checksum(EN.to_mnemonic(bytes(range(16))), EN)
    assert find_secrets(f"Thanks\n{bad}\n") == []
    assert _values(f"My seed phrase: {bad}") == [("seed_phrase", bad)]
    assert _values(f"recovery phrase is {bad}.") == [("seed_phrase", bad)]
    bad_zh = _bad_checksum(ZH_S.to_mnemonic(bytes(range(16))), ZH_S).replace(" ", "")
    assert find_secrets(f"{bad_zh}\n") == []
    assert _values(f"助记词：{bad_zh}") == [("seed_phrase", bad_zh)]


def test_english_prose_not_flagged() -> None:
    paragraph = (
        "Hello support team, I tried to withdraw my funds yesterday but the transaction "
        "has been pending for many hours and I cannot see it anywhere. Please check my "
        "account and help me as soon as possible because I need the money for rent."
    )
    assert len(paragraph.split()) >= 40
    assert find_secrets(paragraph) == []
    # many BIP-39 words, but prose: other words and punctuation break the run
    listy = (
        "Please help, my account is frozen and I cannot access my wallet or trade any "
        "token since last week; the app shows an error every time I open it, again and "
        "again, which is really annoying and unfair to a loyal customer like me."
    )
    assert find_secrets(listy) == []


def test_chinese_prose_not_flagged() -> None:
    text = (
        "您好，我昨天提现了一笔USDT，到现在还没有到账，请帮我查一下是什么原因，谢谢！"
        "我的账户是正常的，没有被盗。请勿在邮件中发送任何密码、验证码或私钥。"
        "根据相关规定，现请贵平台协助调取该账户的以下信息。"
    )
    assert find_secrets(text * 20) == []


# --- API secrets -----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"API secret: {API_SECRET}",
        f"secretKey={API_SECRET}",
        f'{{"apiKey": "x", "secret": "{API_SECRET}"}}',
        f"My API key {API_SECRET} stopped working",
        f"API密钥：{API_SECRET}",
        f"Secret Key：{API_SECRET}",
        f"API金鑰: {API_SECRET}",
    ],
)
def test_api_secret_detected(text: str) -> None:
    assert _values(text) == [("api_secret", API_SECRET)]


@pytest.mark.parametrize(
    "text",
    [
        "How do I create an API key?",
        "API key permissions: read only",
        "我的API密钥被删除了",
        "the secret is that I never logged in",
    ],
)
def test_api_words_without_value_not_flagged(text: str) -> None:
    assert find_secrets(text) == []


# --- other near-misses -----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "订单号 2023112512345678",
        "Order #88231931",
        "UID 12345678",
        "UID：58213390 提现 4,820 USDT",
        "amount 1234.5678 BTC, fee 0.0005",
        "2023-11-25 14:30:00 UTC",
        "2023年11月25日 03:12",
        "call me at +1 (415) 555-0132 or 13800138000",
    ],
)
def test_numbers_not_flagged(text: str) -> None:
    assert find_secrets(text) == []


# --- redaction and API -----------------------------------------------------


def test_redact_exact() -> None:
    assert redact("My password: Hunter2!x and 验证码 123456") == (
        "My password: [REDACTED:password] and 验证码 [REDACTED:otp]"
    )
    assert redact(f"私钥：0x{HEX_KEY}\nTxID: {TX_HASH}") == (
        f"私钥：[REDACTED:private_key]\nTxID: {TX_HASH}"
    )
    assert redact(f"API Secret = {API_SECRET};") == "API Secret = [REDACTED:api_secret];"
    phrase = EN.to_mnemonic(bytes(range(16)))
    assert redact(f"seed: {phrase}.") == "seed: [REDACTED:seed_phrase]."


def test_redact_removes_values_and_is_idempotent() -> None:
    phrase = EN.to_mnemonic(bytes(range(32)))
    text = (
        f"pwd is Qwerty123!, 2FA 654321, key {HEX_KEY}, "
        f"api secret: {API_SECRET}\nseed phrase:\n{phrase}\n"
    )
    out = redact(text)
    for value in ("Qwerty123!", "654321", HEX_KEY, API_SECRET, phrase.split()[0] + " "):
        assert value not in out
    assert redact(out) == out
    assert find_secrets(out) == []
    assert secret_kinds(find_secrets(text)) == list(KINDS)


def test_redact_keeps_json_log_lines_valid() -> None:
    """logs.py redacts JSON-dumped lines; values end where JSON strings do."""
    phrase = EN.to_mnemonic(bytes(range(16)))
    record = {
        "msg": 'password: "Hunter2!x" ok',
        "pwd": "pwd is Abc12345\nbye",
        "seed": phrase.replace(" ", "\n"),
    }
    line = json.dumps(record, ensure_ascii=False)
    out = redact(line)
    assert json.loads(out) == {
        "msg": 'password: "[REDACTED:password]" ok',
        "pwd": "pwd is [REDACTED:password]\nbye",
        "seed": "[REDACTED:seed_phrase]",
    }


def test_redact_with_given_hits_clamps_overlaps() -> None:
    text = "abcdefghij"
    hits = [SecretHit("otp", 6, 20), SecretHit("password", 2, 5), SecretHit("api_secret", 4, 8)]
    assert redact(text, hits) == "ab[REDACTED:password][REDACTED:api_secret][REDACTED:otp]"
    assert redact(text, []) == text


def test_hits_sorted_non_overlapping_value_only() -> None:
    text = (
        f"验证码 123456，密码：Abc12345，私钥 {HEX_KEY}，"
        f"one-time password: 777888, API key: {API_SECRET}"
    )
    hits = find_secrets(text)
    assert [h.kind for h in hits] == ["otp", "password", "private_key", "otp", "api_secret"]
    assert all(a.end <= b.start for a, b in zip(hits, hits[1:]))
    assert [text[h.start : h.end] for h in hits] == [
        "123456",
        "Abc12345",
        HEX_KEY,
        "777888",
        API_SECRET,
    ]


def test_secret_kinds_order_and_uniqueness() -> None:
    hits = [SecretHit("api_secret", 0, 1), SecretHit("otp", 2, 3), SecretHit("otp", 4, 5)]
    assert secret_kinds(hits) == ["otp", "api_secret"]
    assert secret_kinds([]) == []
    assert find_secrets("") == []


def test_big_text() -> None:
    rng = random.Random(7)
    words = EN.wordlist
    parts = [
        "Hello, my withdrawal is stuck. 订单号 2023112512345678，请帮忙。",
        " ".join(rng.choice(words) for _ in range(30)),
        "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动",
        "ab" * 40,
        "password: ",
        "验证码",
        "\n",
    ]
    chunks: list[str] = []
    size = 0
    while size < 200_000:
        chunk = rng.choice(parts)
        chunks.append(chunk)
        size += len(chunk)
    text = "".join(chunks)[:200_000]
    phrase = EN.to_mnemonic(bytes(range(16)))
    text = text[:100_000] + f"\nseed phrase: {phrase}\n" + text[100_000:]
    hits = find_secrets(text)
    assert any(text[h.start : h.end] == phrase for h in hits)
    assert phrase not in redact(text, hits)


# --- issue 12: transaction-hash labels in any language, authenticator labels ---


@pytest.mark.parametrize(
    "label",
    ["TxID:", "TXID", "txid=", "TxId -", "tx hash:", "Tx-Hash:", "TxHash:", "交易哈希：", "交易雜湊：", "哈希值：",
     "交易哈希值为", "Transaction ID:", "Transaktions-Hash:", "Transaktions-ID:", "hash de la transacción:",
     "ID de transacción:", "hash da transação:", "ID transazione:", "хеш транзакции:", "ID транзакции:",
     "トランザクションハッシュ:", "トランザクションID：", "取引ID：", "트랜잭션 해시:", "거래 해시:", "mã giao dịch:",
     "hash giao dịch:", "işlem hash:"],
)
@pytest.mark.parametrize("case", [str.lower, str.upper])
def test_labelled_tx_hash_is_not_a_private_key(label: str, case: object) -> None:
    value = case(TX_HASH)  # type: ignore[operator]
    assert find_secrets(f"{label} {value}") == []
    assert find_secrets(f"Hello,\n{label}\n0x{value}\nthanks") == []


def test_tx_label_far_back_in_the_same_sentence() -> None:
    text = ("The TxID that my wallet app showed after I pressed send yesterday evening at about nine o'clock, "
            f"and which still has not arrived in my account here after six hours, is: {TX_HASH}")
    assert find_secrets(text) == []


def test_tx_label_in_an_earlier_sentence_does_not_cover_an_unlabelled_key() -> None:
    text = ("I checked the TxID on the explorer. " + "Nothing else to add. " * 8 + f"\n\n{HEX_KEY}")
    assert secret_kinds(find_secrets(text)) == ["private_key"]


def test_private_key_label_still_wins_over_an_earlier_tx_label() -> None:
    assert secret_kinds(find_secrets(f"TxID is above; my wallet private key: {HEX_KEY}")) == ["private_key"]


@pytest.mark.parametrize(
    "text",
    ["Google Authenticator code: 123456", "google authenticator: 123 456", "Authenticator App code - 123456",
     "Google Authenticator shows 123456", "2FA: 123456", "GA code 123456", "谷歌验证码：123456", "谷歌驗證碼 123456",
     "驗證碼：123456", "谷歌验证器上显示的是123456", "código de verificación: 123456", "код подтверждения: 123456",
     "認証コード：123456", "인증번호: 123456", "mã xác minh: 123456", "Bestätigungscode: 123456",
     "code de vérification : 123456"],
)
def test_authenticator_style_labels_are_otps(text: str) -> None:
    assert secret_kinds(find_secrets(text)) == ["otp"]
    assert "123" not in redact(text)


@pytest.mark.parametrize(
    "text",
    ["Google Authenticator shows 30 seconds left", "my 2FA code expired after 60 seconds", "認証コードが届きません",
     "código de verificación no llega", "谷歌验证器显示2024-05-01的记录"],
)
def test_authenticator_talk_without_a_code_is_not_an_otp(text: str) -> None:
    assert find_secrets(text) == []

"""Entities (issue 13): checksummed addresses, tx hashes, amounts, UIDs, orders, dates, case ids.

Valid values are made with the libraries (tests/chainkit.py) or are published
examples; each invalid one is a valid one with one character changed.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import chainkit as ck
import pytest

from router.understand import entities as ent
from router.understand.secrets import find_secrets

# Published examples: the Bitcoin genesis address, BIP-173's P2WPKH vector,
# EIP-55's first test vector, the XRP Ledger genesis account, TRON's USDT contract.
GENESIS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
BIP173 = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
EIP55 = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
XRP_GENESIS = "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh"
TRON_USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


def kinds(text: str, kind: str, **kw: object) -> list[str]:
    return [e.value for e in ent.find(text, **kw) if e.kind == kind]  # type: ignore[arg-type]


def chains(text: str, kind: str) -> list[str | None]:
    return [e.chain for e in ent.find(text) if e.kind == kind]


ADDRESSES = [
    ("bitcoin", GENESIS), ("bitcoin", ck.btc_p2pkh("a")), ("bitcoin", ck.btc_p2sh("a")), ("bitcoin", BIP173),
    ("bitcoin", ck.btc_bech32("a")), ("bitcoin", ck.btc_taproot("a")), ("bitcoin", ck.btc_bech32("b").upper()),
    ("tron", TRON_USDT), ("tron", ck.tron("a")), ("xrp", XRP_GENESIS), ("xrp", ck.xrp("a")),
    ("solana", ck.solana("a")), (None, EIP55), (None, ck.eth("a")),
]
TEMPLATES = {
    "zh-Hans": "我的提币地址是 {v}，请帮我查一下。",
    "zh-Hant": "我的提幣地址是：{v}，請幫我查詢。",
    "en": "Please check my withdrawal address {v} thanks.",
}


@pytest.mark.parametrize("lang", TEMPLATES)
@pytest.mark.parametrize(("chain", "addr"), ADDRESSES)
def test_valid_address_is_found_with_its_chain(lang: str, chain: str | None, addr: str) -> None:
    text = TEMPLATES[lang].format(v=addr)
    assert kinds(text, "address") == [addr]
    assert chains(text, "address") == [chain]


@pytest.mark.parametrize("lang", TEMPLATES)
@pytest.mark.parametrize(("chain", "addr"), [a for a in ADDRESSES if a[0] != "solana"])
def test_address_with_one_character_changed_is_rejected(lang: str, chain: str | None, addr: str) -> None:
    bad = ck.mutate(addr)
    assert bad != addr
    assert kinds(TEMPLATES[lang].format(v=bad), "address") == []


def test_checksum_functions_agree_with_published_examples() -> None:
    assert ent.is_btc_base58(GENESIS) and ent.is_bech32(BIP173) and ent.is_tron(TRON_USDT) and ent.is_xrp(XRP_GENESIS)
    assert ent.eip55(EIP55.lower()) == EIP55
    assert not ent.is_tron(GENESIS) and not ent.is_btc_base58(TRON_USDT)
    # a v0 program written with the bech32m checksum is invalid (BIP-350)
    assert not ent.is_bech32("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh")


def test_ethereum_case_rules() -> None:
    lower, upper = EIP55.lower(), "0x" + EIP55[2:].upper()
    found = ent.find(f"send to {lower} on ERC20")
    assert [(e.value, e.checked, e.chain) for e in found] == [(lower, False, "ethereum")]
    assert [e.checked for e in ent.find(f"to {upper}")] == [False]
    wrong_case = EIP55[:-1] + EIP55[-1].swapcase()
    assert kinds(f"to {wrong_case}", "address") == []
    assert ent.to_record(found)["address"] == [{"value": lower, "chain": "ethereum", "checked": False}]


def test_solana_needs_32_bytes() -> None:
    sol = ck.solana("b")
    assert kinds(f"SOL address {sol}", "address") == [sol]
    assert kinds(f"SOL address {sol[:-4]}", "address") == []  # too short to be 32 bytes


@pytest.mark.parametrize(("text", "chain"), [
    ("以太坊交易哈希：{h0x}", "ethereum"),
    ("BSC 鏈上的交易雜湊 {h0x}", "bsc"),
    ("Tx hash: {h0x}", None),
    ("TRC20 充值的交易哈希 {h}", "tron"),
    ("比特幣提現 TxID {h}", "bitcoin"),
    ("The BTC deposit txid is {h}", "bitcoin"),
])
def test_tx_hashes_by_family(text: str, chain: str | None) -> None:
    h = ck.hex64("t")
    t = text.format(h=h, h0x="0x" + h)
    assert kinds(t, "txid") == [("0x" + h) if "{h0x}" in text else h]
    assert chains(t, "txid") == [chain]


def test_solana_signature_is_a_txid() -> None:
    sig = ck.solana_sig("s")
    found = [e for e in ent.find(f"Solana deposit, signature: {sig}") if e.kind == "txid"]
    assert [(e.value, e.chain) for e in found] == [(sig, "solana")]


@pytest.mark.parametrize("label", ["private key: ", "私钥：", "私鑰是 ", "my wallet secret key is "])
def test_64_hex_labelled_as_key_is_not_an_entity(label: str) -> None:
    key = ck.hex64("k")
    assert ent.find(label + key) == []
    assert ent.find(label + "0x" + key) == []


@pytest.mark.parametrize("label", ["tx hash: ", "交易哈希：", "交易雜湊 ", "TxID "])
def test_64_hex_labelled_as_hash_is_an_entity_and_not_a_secret(label: str) -> None:
    h = ck.hex64("h")
    text = f"充值未到账 / deposit missing. {label}{h}"
    assert kinds(text, "txid") == [h]
    assert not [s for s in find_secrets(text) if s.kind == "private_key"]


def test_unlabelled_64_hex_without_transaction_words_is_not_taken() -> None:
    assert kinds(f"here it is {ck.hex64('u')}", "txid") == []


def test_redacted_spans_and_strings_are_excluded() -> None:
    key = ck.hex64("k2")
    text = f"私钥 {key} 交易哈希 {ck.hex64('h2')}"
    spans = [(h.start, h.end) for h in find_secrets(text)]
    assert spans, "the secrets check must see the labelled key"
    assert kinds(text, "txid", redacted=spans) == [ck.hex64("h2")]
    h = ck.hex64("h3")
    assert kinds(f"TxID {h}", "txid", redacted=[h]) == []


@pytest.mark.parametrize(("text", "value", "currency"), [
    ("被转走了4,820 USDT", "4820", "USDT"),
    ("I sent 0.5 BTC yesterday", "0.5", "BTC"),
    ("付了¥20,000", "20000", "CNY"),
    ("充了2万U", "20000", "USDT"),
    ("充了 1.5萬 USDT", "15000", "USDT"),
    ("大概5千U", "5000", "USDT"),
    ("NT$30,000 的", "30000", "TWD"),
    ("USDT 500 missing", "500", "USDT"),
    ("paid $1,200.50 by card", "1200.5", "USD"),
    ("3万元", "30000", "CNY"),
    ("提現 800 USDT", "800", "USDT"),
    ("about 2.4 eth", "2.4", "ETH"),
    ("50k USDT", "50000", "USDT"),
    ("收到通知，0.9 ETH 被转走", "0.9", "ETH"),  # after a full-width comma
    ("TRC-20 USDT 共 300U", "300", "USDT"),  # the 20 of TRC-20 is not an amount
])
def test_amounts_are_normalised(text: str, value: str, currency: str) -> None:
    found = [e for e in ent.find(text) if e.kind == "amount"]
    assert [(e.value, e.currency) for e in found] == [(value, currency)]


def test_uid_after_a_label_and_subject_first() -> None:
    found = ent.extract("账户冻结申诉-UID12345678", ["我的另一个账号 UID：987654321", "用戶ID 55556666"])
    assert [e.value for e in found if e.kind == "uid"] == ["12345678", "987654321", "55556666"]
    assert kinds("Call me at 13800138000", "uid") == []
    assert kinds("UID：１２３４５６７８", "uid") == ["12345678"]  # full-width digits
    assert kinds("UID 1234", "uid", uid_pattern="[0-9]{4}") == ["1234"]


@pytest.mark.parametrize(("text", "kind", "value"), [
    ("订单号：A20261204001", "order_id", "A20261204001"),
    ("訂單號 WD8830127765", "order_id", "WD8830127765"),
    ("Order ID: 99812034551", "order_id", "99812034551"),
    ("工单 #H4TQ2Z8N 没回复", "case_id", "H4TQ2Z8N"),
    ("Re: [Case #7K3M9QX2]", "case_id", "7K3M9QX2"),
    ("時間 2026年12月4日 02:41 左右", "date", "2026年12月4日 02:41"),
    ("在12月3日晚上9点", "date", "12月3日晚上9点"),
    ("on Dec 2, 2026 at 18:40 UTC.", "date", "Dec 2, 2026 at 18:40 UTC"),
])
def test_orders_case_ids_and_dates_as_written(text: str, kind: str, value: str) -> None:
    assert kinds(text, kind) == [value]


def test_record_and_forward_block_with_explorer_links() -> None:
    h = "0x" + ck.hex64("r")
    found = ent.extract("Unauthorized Transfer - UID 28461937", [f"ERC20 tx hash {h}, 4,820 USDT to {EIP55}"])
    rec = ent.to_record(found)
    assert rec == {"uid": ["28461937"], "txid": [{"value": h, "chain": "ethereum"}],
                   "amount": [{"value": "4820", "currency": "USDT"}],
                   "address": [{"value": EIP55, "chain": "ethereum"}]}
    templates = {"ethereum": {"tx": "https://etherscan.io/tx/{value}", "address": "https://etherscan.io/address/{value}"}}
    block = ent.forward_block(found, templates)
    assert f"https://etherscan.io/tx/{h}" in block and f"https://etherscan.io/address/{EIP55}" in block
    assert block.splitlines()[0] == "UID: 28461937"


def test_evaluation_set_meets_the_targets() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    teams = importlib.import_module("teams")

    mails = teams.load(teams.ROOT / "evaluation" / "teams" / "mails.jsonl")
    assert len(mails) >= 60
    m = teams.evaluate(mails)
    p, r = teams._prf(*m["all"])
    assert p >= 0.98 and r >= 0.95
    assert m["flags"]["phishing"][2] == 0


def test_header_value_is_ascii_json_that_round_trips_through_a_message() -> None:
    import json
    from email.message import EmailMessage
    from email.policy import SMTP

    found = ent.extract("账户被盗-UID28461937", [f"被转走 2万U 到 {TRON_USDT}，订单号：A20261204001"])
    value = ent.header_value(found)
    assert value.isascii()
    msg = EmailMessage(policy=SMTP)
    msg[ent.HEADER] = value
    parsed = json.loads(str(msg[ent.HEADER]))
    assert parsed == ent.to_record(found)
    assert parsed["amount"] == [{"value": "20000", "currency": "USDT"}]


def test_scan_finds_what_finditer_finds() -> None:
    """The first-character scan (a speed-up) must not change which dates and amounts are found."""
    texts = [
        "On Dec 4, 2026 at 3:15 PM I sent 1,000 USDT; 12/04 2026-12-04 03:12 UTC+8 12345 1.5BTC 2万U",
        "2026年12月4日 下午3点半 转了 ¥20,000 和 4，820 USDT，订单号 A20261204001，3:15:20am",
        "Sept 3rd, 4 Sep 2025, 10:30, x1:20, 99:99:99, abc123 2.0.1 1-2-3 May 5th 5th May",
    ]
    for text in texts:
        assert [m.span() for m in ent._DATE.finditer(text)] == [m.span() for m in ent._scan(ent._DATE, ent._DATE_STARTS, text)]
        assert ([m.span() for m in ent._AMOUNT_AFTER.finditer(text)]
                == [m.span() for m in ent._scan(ent._AMOUNT_AFTER, ent._DIGIT_RUN, text)])

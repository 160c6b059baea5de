"""SPEC 3: the subject convention `<issue type>-UID<digits>`."""

from __future__ import annotations

import pytest

from router import config
from router.config import IssueType
from router.understand.subject import parse_subject, strip_prefixes

SETTINGS = config.load(None, search=False)
TYPES = SETTINGS.issue_types
UID_PATTERN = SETTINGS.uid_pattern


def parse(subject: str, uid_pattern: str = UID_PATTERN, types: tuple[IssueType, ...] = TYPES):
    return parse_subject(subject, types, uid_pattern)


def assert_ok(subject: str, type_id: str = "account_freeze_appeal", uid: str = "12345678") -> None:
    info = parse(subject)
    assert (info.status, info.type, info.uid) == ("ok", type_id, uid), (subject, info)


# --- reply and forward prefixes -------------------------------------------

PREFIXES = ["Re", "RE", "Fwd", "FW", "回复", "答复", "转发", "回覆"]
COLONS = [":", "："]


@pytest.mark.parametrize("colon", COLONS, ids=["ascii", "fullwidth"])
@pytest.mark.parametrize("prefix", PREFIXES)
def test_prefix_is_stripped(prefix: str, colon: str) -> None:
    assert strip_prefixes(f"{prefix}{colon} 账户冻结申诉-UID12345678") == "账户冻结申诉-UID12345678"
    assert_ok(f"{prefix}{colon} 账户冻结申诉-UID12345678")


@pytest.mark.parametrize("colon", COLONS, ids=["ascii", "fullwidth"])
@pytest.mark.parametrize("prefix", PREFIXES)
def test_prefix_without_space_after_colon(prefix: str, colon: str) -> None:
    assert strip_prefixes(f"{prefix}{colon}Account Freeze Appeal - UID 123456789") == (
        "Account Freeze Appeal - UID 123456789"
    )


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Re: 账户冻结申诉-UID12345678",
        "RE: FW: Fwd: 账户冻结申诉-UID12345678",
        "回复：转发：答复：回覆：账户冻结申诉-UID12345678",
        "Re：回复: FW：Re: 账户冻结申诉-UID12345678",
        "Re[2]: Fwd: 账户冻结申诉-UID12345678",
        "  re :  fwd : 账户冻结申诉-UID12345678",
    ],
)
def test_repeated_prefixes(subject: str) -> None:
    assert strip_prefixes(subject) == "账户冻结申诉-UID12345678"
    assert_ok(subject)


@pytest.mark.parametrize("prefix", ["答覆", "轉寄", "轉發", "转寄", "回復"])
def test_traditional_prefixes_are_stripped_too(prefix: str) -> None:
    assert strip_prefixes(f"{prefix}：帳戶凍結申訴-UID12345678") == "帳戶凍結申訴-UID12345678"


@pytest.mark.parametrize("subject", ["Reply: x", "Regarding: x", "Refund: x", "Frozen: x", "回复一下: x"])
def test_words_that_only_look_like_prefixes_are_kept(subject: str) -> None:
    assert strip_prefixes(subject) == subject


# --- separators and the UID keyword ---------------------------------------

SEPARATORS = ["-", "－", "—", "–", "_", ":", "：", " ", "  ", " - ", "\u3000"]


@pytest.mark.parametrize("sep", SEPARATORS, ids=[f"U+{ord(s[0]):04X}x{len(s)}" for s in SEPARATORS])
def test_separator_between_type_and_uid(sep: str) -> None:
    assert_ok(f"账户冻结申诉{sep}UID12345678")
    assert_ok(f"Account Freeze Appeal{sep}UID12345678")


@pytest.mark.parametrize("sep", ["-", "_", "  ", "－"])
def test_separator_inside_english_alias(sep: str) -> None:
    assert_ok(f"Account{sep}Freeze{sep}Appeal - UID12345678")


def test_no_separator_at_all() -> None:
    assert_ok("账户冻结申诉UID12345678")
    assert_ok("提现失败UID12345678", "withdrawal_failed")
    assert_ok("Withdrawal FailedUID12345678", "withdrawal_failed")


@pytest.mark.parametrize("keyword", ["UID", "uid", "Uid", "uId", "UId", "ＵＩＤ"])
def test_uid_keyword_any_case(keyword: str) -> None:
    assert_ok(f"账户冻结申诉-{keyword}12345678")


@pytest.mark.parametrize("after", [":", "：", "#", " ", "  ", ": ", " # ", "：　", "-", "_"])
def test_uid_keyword_followed_by(after: str) -> None:
    assert_ok(f"账户冻结申诉-UID{after}12345678")


def test_uid_needs_the_keyword_as_a_word() -> None:
    for subject in ("账户冻结申诉 fluid 12345678", "账户冻结申诉 GUID12345678", "账户冻结申诉 12345678"):
        info = parse(subject)
        assert (info.status, info.uid) == ("missing_uid", None), subject


def test_full_width_digits_are_normalised() -> None:
    assert_ok("账户冻结申诉-UID１２３４５６７８")
    assert_ok("帳戶凍結申訴－ＵＩＤ：１２３４５６７８")


# --- UID length ----------------------------------------------------------------


@pytest.mark.parametrize(
    "digits, valid",
    [("1234567", False), ("12345678", True), ("123456789", True), ("1234567890", True), ("12345678901", False)],
    ids=["7", "8", "9", "10", "11"],
)
def test_uid_length(digits: str, valid: bool) -> None:
    info = parse(f"账户冻结申诉-UID{digits}")
    if valid:
        assert (info.status, info.uid) == ("ok", digits)
    else:
        assert (info.status, info.uid) == ("missing_uid", None)


def test_uid_length_in_full_width_digits() -> None:
    assert parse("账户冻结申诉-UID１２３４５６７").status == "missing_uid"
    assert parse("账户冻结申诉-UID１２３４５６７８９０１").status == "missing_uid"


def test_a_later_valid_uid_is_found_after_an_invalid_one() -> None:
    info = parse("账户冻结申诉 UID123 UID87654321")
    assert (info.status, info.uid) == ("ok", "87654321")


# --- every shipped issue type: Chinese, English, Traditional ------------------

SHIPPED = {
    # type id: (Simplified name, English name, Traditional form)
    "account_freeze_appeal": ("账户冻结申诉", "Account Freeze Appeal", "帳戶凍結申訴"),
    "account_compromised": ("账户被盗", "Account Compromised", "賬戶被盜"),
    "unauthorized_transfer": ("资金异常转移", "Unauthorized Transfer", "資金異常轉移"),
    "security_vulnerability": ("安全漏洞", "Security Vulnerability", "漏洞報告"),
    "large_withdrawal_request": ("大额提现申请", "Large Withdrawal Request", "大額提現申請"),
    "identity_verification": ("身份认证", "Identity Verification", "身份認證"),
    "legal_compliance_inquiry": ("法律合规咨询", "Legal or Compliance Inquiry", "法律合規諮詢"),
    "withdrawal_failed": ("提现失败", "Withdrawal Failed", "提現失敗"),
    "deposit_not_credited": ("充值未到账", "Deposit Not Credited", "充值未到賬"),
    "general_inquiry": ("一般咨询", "General Inquiry", "一般諮詢"),
}
NAMES = [(tid, form, name) for tid, names in SHIPPED.items() for form, name in zip(("zh", "en", "hant"), names)]


def test_the_test_table_covers_the_shipped_table() -> None:
    assert {it.id for it in TYPES} == set(SHIPPED)


@pytest.mark.parametrize("type_id, form, name", NAMES, ids=[f"{t}-{f}" for t, f, _ in NAMES])
def test_every_issue_type_by_every_name(type_id: str, form: str, name: str) -> None:
    assert_ok(f"{name}-UID12345678", type_id)
    assert_ok(f"Re: {name} - UID 1234567890", type_id, "1234567890")
    info = parse(name)
    assert (info.status, info.type, info.uid) == ("missing_uid", type_id, None)


@pytest.mark.parametrize("type_id, form, name", [n for n in NAMES if n[1] == "en"], ids=lambda v: str(v))
def test_english_names_any_case(type_id: str, form: str, name: str) -> None:
    assert_ok(f"{name.upper()}-UID12345678", type_id)
    assert_ok(f"{name.lower()}-uid12345678", type_id)


@pytest.mark.parametrize(
    "subject, type_id",
    [
        ("帳戶被盜-UID12345678", "account_compromised"),
        ("賬號被盜-UID12345678", "account_compromised"),
        ("未授權提現-UID12345678", "unauthorized_transfer"),
        ("實名認證-UID12345678", "identity_verification"),
        ("身分認證-UID12345678", "identity_verification"),  # Taiwan's spelling of 身份
        ("充幣未到賬-UID12345678", "deposit_not_credited"),
        ("解凍申請-UID12345678", "account_freeze_appeal"),
        ("帳號被盜-UID12345678", "account_compromised"),
        ("充值未到帳-UID12345678", "deposit_not_credited"),
    ],
)
def test_traditional_forms_of_other_aliases(subject: str, type_id: str) -> None:
    assert_ok(subject, type_id)


def test_longest_alias_wins() -> None:
    # "账户冻结" and "账户冻结申诉" are both aliases of one type; "大额提现申请"
    # contains "提现" but is large_withdrawal_request, not withdrawal_failed.
    assert_ok("大额提现申请-UID12345678", "large_withdrawal_request")
    assert_ok("KYC认证-UID12345678", "identity_verification")


def test_latin_alias_needs_word_boundaries() -> None:
    info = parse("kyckyc-UID12345678")
    assert (info.status, info.type) == ("unknown_type", None)
    info = parse("Withdrawal Failedness UID12345678")
    assert (info.status, info.type) == ("unknown_type", None)


def test_chinese_alias_inside_a_sentence() -> None:
    assert_ok("我的提现失败了 UID12345678", "withdrawal_failed")


# --- the four statuses ---------------------------------------------------------


@pytest.mark.parametrize(
    "subject, status, type_id, uid",
    [
        ("账户冻结申诉-UID12345678", "ok", "account_freeze_appeal", "12345678"),
        ("账户冻结申诉", "missing_uid", "account_freeze_appeal", None),
        ("Account Freeze Appeal - UID 1234567", "missing_uid", "account_freeze_appeal", None),
        ("Help please - UID12345678", "unknown_type", None, "12345678"),
        ("UID：１２３４５６７８", "unknown_type", None, "12345678"),
        ("Please help me with my account", "absent", None, None),
        ("我的账户有问题", "absent", None, None),
        ("12345678", "absent", None, None),
    ],
)
def test_statuses(subject: str, status: str, type_id: str | None, uid: str | None) -> None:
    info = parse(subject)
    assert (info.status, info.type, info.uid) == (status, type_id, uid)
    assert info.reason


@pytest.mark.parametrize("subject", ["", "   ", "Re:", "Re: ", "回复：", "\t"])
def test_empty_subject_is_absent(subject: str) -> None:
    info = parse(subject)
    assert (info.status, info.type, info.uid) == ("absent", None, None)


def test_none_subject_is_absent() -> None:
    assert parse(None).status == "absent"  # type: ignore[arg-type]


# --- uid_pattern from config ---------------------------------------------------


def test_custom_uid_pattern_six_digits() -> None:
    info = parse("账户冻结申诉-UID123456", uid_pattern="[0-9]{6}")
    assert (info.status, info.uid) == ("ok", "123456")
    # the default length is not valid any more: 8 digits are not 6 digits
    assert parse("账户冻结申诉-UID12345678", uid_pattern="[0-9]{6}").status == "missing_uid"
    assert parse("账户冻结申诉-UID12345", uid_pattern="[0-9]{6}").status == "missing_uid"


def test_custom_uid_pattern_from_a_config_file(tmp_path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[subject]\nuid_pattern = '[0-9]{6}'\n", encoding="utf-8")
    settings = config.load(path)
    info = parse_subject("Account Freeze Appeal - UID 654321", settings.issue_types, settings.uid_pattern)
    assert (info.status, info.uid) == ("ok", "654321")


def test_custom_uid_pattern_with_alternation_and_letters() -> None:
    pattern = "[0-9]{6}|[A-Z]{2}[0-9]{6}"
    assert parse("账户冻结申诉-UIDAB123456", uid_pattern=pattern).uid == "AB123456"
    assert parse("账户冻结申诉-UID654321", uid_pattern=pattern).uid == "654321"


def test_custom_issue_type_table() -> None:
    types = (IssueType("refund", "general", "normal", (), ("退款申请", "Refund Request")),)
    assert parse("退款申請-UID12345678", types=types).type == "refund"
    assert parse("Refund Request UID12345678", types=types).status == "ok"
    assert parse("账户冻结申诉-UID12345678", types=types).status == "unknown_type"


# --- the case tag -------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "[Case #K3M9P2QX] 账户冻结申诉-UID12345678",
        "账户冻结申诉-UID12345678 [Case #K3M9P2QX]",
        "Re: [Case #K3M9P2QX] Re: 账户冻结申诉-UID12345678",
        "[Case #1234] 账户冻结申诉-UID12345678",
        "[case#ABCD] 账户冻结申诉 - UID: 12345678",
        "Re: 账户冻结申诉 [Case #87654321] UID12345678",
    ],
)
def test_case_tag_does_not_confuse(subject: str) -> None:
    assert_ok(subject)


def test_case_tag_digits_are_not_a_uid() -> None:
    info = parse("Re: [Case #12345678] 账户冻结申诉")
    assert (info.status, info.uid) == ("missing_uid", None)
    info = parse("[Case #KYCA2345] hello")
    assert (info.status, info.type, info.uid) == ("absent", None, None)

"""Plain-language signs of account compromise, in Chinese and English.

Why a lexicon beside the model: SPEC 2 makes any sign of compromise decide
the category, so a phrase like "I did not make this withdrawal" must win even
when the model leans elsewhere - also when it is buried in a general question
or a freeze appeal (issue 12).  Text is folded to Simplified and lower-cased
by the caller, so one Simplified entry also covers Traditional.

Each rule is a row of `RULES`: the kind of signal, the reason shown to the
analyst, the phrase pattern and, for phrases that are ordinary on their own
("my phone number was changed", "a login from a new device"), the context
that must stand near them ("not me", "我没有登录").  The kinds:

* ``account_changed`` - phone, e-mail, login/fund password, 2FA, withdrawal
  whitelist or API keys changed, and not by the customer;
* ``sim_swap`` - SIM swapped, ported or re-issued by someone else, or the
  phone suddenly without service;
* ``unrecognised_login`` - a new-device, foreign or unknown login the
  customer did not make;
* ``lost_authenticator`` - the device carrying the authenticator lost,
  stolen, broken or wiped (also when asked in a how-to tone);
* ``credentials_given`` - codes, passwords or seed words given to a fake
  agent, a chat-app "support" or a fake site;
* ``compromise`` - the general signs: hacked, stolen, unauthorised activity,
  leaked keys, phishing, vulnerabilities.

What is *not* a sign: a forgotten password, an API "401 Unauthorized" error,
a freeze appeal that says "I did not make any suspicious transaction", a
question about prevention ("how do I protect my account from hackers",
"如何防止账户被盗"), a hypothetical ("what if my phone is stolen", "如果手机丢了"),
a fear taken back ("我一度以为被盗", "I thought I got hacked"), a change the
customer says they made ("是我本人登录的", "it was me"), and a plain how-to
("how do I change my phone number?"), which names no event at all.  A phrase
preceded in its own clause by such a guard word is skipped; any other hit in
the text still counts, because a missed compromise is worse than a security
analyst reading a how-to question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# --- shared vocabulary -------------------------------------------------------

_NEAR = r"(?:(?!\n\s*\n)[\s\S]){0,%d}?"  # up to N characters, not across a blank line (another paragraph)


def _near(n: int) -> str:
    return _NEAR % n


_ACTIONS = (
    r"withdraw|transfer|trade|trading|order|login|log-in|log in|sign-in|sign in|access|transaction|payment"
    r"|activity|activities|use|usage|api|device|charge|purchase|sale|sell|buy"
)
# What an attacker changes, in English and Chinese.
_TARGET_EN = (
    r"(?:phone(?: number)?|mobile(?: number)?|e-?mail(?: address)?|(?:login |account )?password"
    r"|(?:fund|funds|funding|trading|withdrawal|security|payment) (?:password|pin|code)|2fa|two[- ]factor(?: authentication)?"
    r"|(?:google )?authenticator|whitelist(?:ed)?(?: address(?:es)?)?|white-?list|withdrawal address(?:es)?"
    r"|address book|anti-phishing code|security settings?|api keys?)"
)
_TARGET_ZH = (
    r"(?:手机号码|手机号|绑定手机|手机|电话号码|邮箱|电子邮箱|资金密码|交易密码|登录密码|支付密码|密码|谷歌验证器?|谷歌验证码"
    r"|google验证|2fa|二次验证|身份验证器|白名单|提币地址|提现地址|地址簿|防钓鱼码|安全设置|api|绑定信箱|信箱|居住地址|地址"
    r"|认证姓名|实名信息)"
)
_CHANGED_EN = (
    r"(?:changed|reset|removed|disabled|turned off|unbound|unlinked|replaced|switched|added|modified|updated|created|deleted)"
)
_CHANGE_EN = (
    r"(?:change|reset|remove|add|disable|turn off|unbind|unlink|replace|switch|modify|update|create|delete|request|authori[sz]e"
    r"|set(?: up)?|make|touch)\w*"
)
# "It was not the customer": English and Chinese.
_NOT_ME_EN = (
    r"(?:wasn'?t me|was not me|not (?:by )?me\b|not mine|not something i did|unknown to me|by someone|by a hacker"
    rf"|without my (?:permission|consent|knowledge|authori[sz]ation)|(?:i|we) (?:did not|didn'?t|never|have not|haven'?t|had not)"
    rf" (?:ever )?(?:{_CHANGE_EN}|log\w*|sign\w*|access\w*|do|did|done|use\w*|tr(?:y|ied)|own|recogni[sz]e\w*)\b"
    r"|(?:i|we) (?:don'?t|do not) (?:recogni[sz]e|own|know)|unrecogni[sz]ed|never been (?:to|in)"
    r"|(?:i|we) (?:was|were|am|had been) (?:asleep|sleeping|at home|at work|in bed|watching|in the cinema|at the cinema"
    r"|on a plane|on a flight|offline))"
)
_NOT_ME_ZH = (
    r"(?:不是我|非本人|并非本人|不是本人|本人(?:并)?(?:没有|未)|(?:我|本人)(?:并|根本|从来|从|压根|完全)?(?:没有|没|未|不曾)"
    r"(?:登录|登陆|登入|操作|去过|在|用过|用|授权|做过|做|改过|改|修改|更改|换|更换|解绑|关闭|重置|添加|加|申请|设置)"
    r"|不认识|陌生|在睡觉|睡着|在看电影|在上班|在家|在开会|在飞机上)"
)
_FAKE_EN = (
    r"(?:fake|scam\w*|impersonat\w*|pretend\w*|claim\w* to be|posing as|phishing|fraud\w*|not (?:the )?real|imposter|impostor"
    r"|so-called|telegram|wechat|whatsapp|discord|\bline app|signal app|\bqq\b)"
)
_FAKE_ZH = (
    r"(?:假客服|假的|假冒|冒充|自称|说是|所谓的?|骗子|诈骗|钓鱼|仿冒|山寨|陌生人|微信|telegram|电报|qq|whatsapp|客服经理|对方"
    r"|电话|来电|连结|链接|假(?:网站|网页|链接|连结|页面|app|客服))"
)
_SECRET_EN = (
    r"(?:(?:sms|verification|2fa|google|authenticator|otp|security|e-?mail|login|one[- ]time|6[- ]digit) )?"
    r"(?:codes?|otps?|passwords?|passcodes?|seed(?: phrase| words)?|private keys?|mnemonic|recovery phrase|secret phrase"
    r"|2fa|credentials|login details|pin)"
)
_SECRET_ZH = (
    r"(?:短信验证码|简讯验证码|谷歌验证码|验证码|动态码|资金密码|交易密码|登录密码|密码|助记词|私钥|2fa|谷歌验证|安全码"
    r"|帐密|账密|帐号密码|账号密码|(?:简讯|短信)上?的?(?:数字|号码|码))"
)
_DEVICE_EN = r"(?:phone|mobile|iphone|android|cell ?phone|smartphone|device|ipad)"
_AUTH_EN = r"(?:google authenticator|authenticator|2fa|two[- ]factor|google auth|otp app|authy)"
_LOSS_EN = (
    r"(?:lost|broke|broken|dropped|smashed|cracked|stolen|died|dead|damaged|wiped|factory[- ]reset|fell|drowned"
    r"|water[- ]damaged|stopped working|won'?t (?:turn|switch) on|doesn'?t (?:turn|switch) on)"
)
_DEVICE_ZH = r"(?:手机|电话|设备|装置|苹果|iphone|安卓)"
_AUTH_ZH = r"(?:谷歌验证器?|谷歌身份验证器|google验证器?|google authenticator|身份验证器|验证器|2fa|二次验证|双重验证|动态口令)"
_LOSS_ZH = r"(?:丢了|丢失|遗失|弄丢|被偷|被盗|被抢|坏了|摔坏|摔碎|碎了|进水|泡水|开不了机|黑屏|刷机|恢复出厂|格式化)"
_LOGIN_EVENT_EN = (
    r"(?:new[- ]device|unknown device|new (?:login|log-?in|sign-?in)|logged in from|signed in from|accessed from"
    r"|(?:login|log-?in|sign-?in|access)(?: attempts?| alerts?| notifications?)? from"
    r"|(?:login|log-?in|sign-?in) (?:attempts?|alerts?|notifications?|e-?mails?|sms)|new ip|unrecogni[sz]ed (?:device|login|log-?in|sign-?in|ip|location|browser)"
    r"|unknown (?:ip|location|browser)|from (?:an? )?(?:unknown|new|different|foreign|strange|unfamiliar) (?:ip|device|location|country|browser)"
    r"|(?:sms|text|e-?mail|notification|alert|message)s?(?: message)? (?:about|saying|that said|for|of) (?:a |an )?(?:new )?"
    r"(?:login|log-?in|sign-?in|device))"
)
_LOGIN_EVENT_ZH = (
    r"(?:(?:新设备|陌生设备|未知设备|不认识的设备|其他设备|别的设备|新装置|陌生装置|未知装置|陌生ip|未知ip|陌生的ip|境外|国外|海外|外地"
    r"|其他地方|别的地方)"
    r"[^。！？\n]{0,12}?(?:登录|登陆|登入|访问|上线)|(?:登录|登陆|登入)(?:提醒|通知|短信|邮件|记录|提示))"
)


# --- the rules -----------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One kind of signal: the phrase, and the context it needs within its paragraph (None: none)."""

    kind: str
    reason: str
    pattern: re.Pattern[str]
    needs: re.Pattern[str] | None = None
    keys: tuple[tuple[str, ...], ...] = ()  # cheap gate: a word of every group must be in the text

    def may_match(self, text: str) -> bool:
        """False when the text lacks a word the pattern needs: skips the regex (most mails, most rules)."""
        return all(any(k in text for k in group) for group in self.keys)


def _rule(
    kind: str, reason: str, pattern: str, needs: str | None = None, keys: tuple[tuple[str, ...], ...] = ()
) -> Rule:
    flags = re.IGNORECASE
    return Rule(kind, reason, re.compile(pattern, flags), re.compile(needs, flags) if needs else None, keys)


# Words at least one of which each pattern needs (lower case, Simplified), for `Rule.keys`.
_SOMEONE = ("someone", "somebody", "stranger", "hacker", "unknown person")
_SOMEONE_ZH = ("有人", "别人", "陌生人", "黑客", "对方", "第三人", "不明人士")
_NEG = ("did not", "didn", "never", "have not", "haven")
_CHANGED_KEYS = ("changed", "reset", "removed", "disabled", "turned off", "unbound", "unlinked", "replaced", "switched",
                 "added", "modified", "updated", "created", "deleted")
_TARGET_KEYS = ("phone", "mobile", "mail", "password", "pin", "code", "2fa", "factor", "authenticator", "whitelist",
                "white", "withdrawal address", "address book", "anti-phishing", "security setting", "api key")
_TARGET_ZH_KEYS = ("手机", "电话", "邮箱", "密码", "谷歌", "google", "2fa", "验证", "白名单", "地址", "防钓鱼", "安全设置", "api",
                   "信箱", "姓名", "实名")
_LOGIN_KEYS = ("device", "log", "sign", "access", "ip", "unrecogni", "unknown", "location", "browser", "country")
_NOT_ME_KEYS = ("wasn", "was not", "not me", "not by me", "not mine", "not something", "unknown to me", "by someone",
                "by a hacker", "without my", "did not", "didn", "never", "have not", "haven", "had not", "don", "do not",
                "unrecogni", "asleep", "sleeping", "at home", "at work", "in bed", "watching", "cinema", "plane", "flight",
                "offline")
_NOT_ME_ZH_KEYS = ("不是", "非本人", "并非", "本人", "没", "未", "不曾", "不认识", "陌生", "睡", "看电影", "上班", "在家", "开会",
                   "飞机")
_LOSS_KEYS = ("lost", "broke", "dropped", "smashed", "cracked", "stolen", "died", "dead", "damaged", "wiped", "reset",
              "fell", "drowned", "water", "stopped working", "won", "doesn")
_DEVICE_KEYS = ("phone", "mobile", "android", "device", "ipad")
_AUTH_KEYS = ("authenticator", "2fa", "factor", "google auth", "otp app", "authy")
_DEVICE_ZH_KEYS = ("手机", "电话", "设备", "装置", "苹果", "iphone", "安卓")
_LOSS_ZH_KEYS = ("丢", "遗失", "弄丢", "被偷", "被盗", "被抢", "坏", "碎", "进水", "泡水", "开不了机", "黑屏", "刷机",
                 "恢复出厂", "格式化")
_AUTH_ZH_KEYS = ("谷歌验证", "谷歌身份验证", "google", "身份验证器", "验证器", "2fa", "二次验证", "双重验证", "动态口令")
_GIVE_KEYS = ("gave", "given", "give", "sent", "send", "shared", "share", "told", "tell", "entered", "typed", "provided",
              "read out", "forwarded", "handed", "input", "submitted", "disclosed")
_SECRET_KEYS = ("code", "otp", "password", "passcode", "seed", "private key", "mnemonic", "recovery phrase",
                "secret phrase", "2fa", "credentials", "login details", "pin")
_FAKE_KEYS = ("fake", "scam", "impersonat", "pretend", "claim", "posing as", "phishing", "fraud", "real", "imposter",
              "impostor", "so-called", "telegram", "wechat", "whatsapp", "discord", "line app", "signal app", "qq")
_FAKE_SITE_KEYS = ("fake", "phishing", "scam", "copy", "lookalike", "look-alike", "clone", "fraudulent", "bogus")
_SECRET_ZH_KEYS = ("验证码", "动态码", "密码", "助记词", "私钥", "2fa", "谷歌验证", "安全码", "帐密", "账密", "简讯", "短信")
_GIVE_ZH_KEYS = ("给", "告诉", "提供", "报", "念", "输入", "填", "输了")
_FAKE_ZH_KEYS = ("假", "冒充", "自称", "说是", "所谓", "骗", "钓鱼", "仿冒", "山寨", "陌生人", "微信", "telegram", "电报", "qq",
                 "whatsapp", "客服经理", "对方", "电话", "来电", "连结", "链接")
_ZH_GENERAL_KEYS = ("被盗", "盗号", "被黑", "被骇", "黑客", "骇客", "盗走", "异地登", "异常登", "不是我", "非本人", "未经",
                    "钓鱼", "假客服", "冒充", "sim卡被", "漏洞", "泄露", "被人登", "被转走", "被提走", "资金被转", "被偷",
                    "被人盗")


_CHANGED = "account details changed, not by the customer"
_SIM = "SIM swap"
_LOGIN = "a login the customer did not make"
_LOST = "lost or broken device that holds the authenticator"
_GIVEN = "credentials or codes given to a fake agent or site"
_GENERAL = "sign of compromise"

RULES: tuple[Rule, ...] = (
    # -- account details changed by someone else
    _rule("account_changed", _CHANGED,
          rf"\b(?:someone|somebody|a stranger|a hacker|hackers|an unknown person|someone else)\b{_near(60)}"
          rf"\b{_CHANGED_EN}\b{_near(40)}\b{_TARGET_EN}", keys=(_SOMEONE, _CHANGED_KEYS)),
    _rule("account_changed", _CHANGED,
          rf"\b{_TARGET_EN}\b[^.!?\n]{{0,40}}?\b(?:was|were|has been|have been|had been|got|is|are)\s+(?:\w+\s+)?{_CHANGED_EN}\b",
          needs=_NOT_ME_EN, keys=(_TARGET_KEYS, _CHANGED_KEYS)),
    _rule("account_changed", _CHANGED,
          rf"\b(?:i|we) (?:did not|didn'?t|never|have not|haven'?t)\s+(?:ever\s+)?{_CHANGE_EN}\b[^.!?\n]{{0,40}}?\b{_TARGET_EN}",
          needs=rf"\b(?:notification|alert|notice|e-?mail|sms|message|text|app|page|account)s?\b[^.!?\n]{{0,40}}?\b(?:says|said|shows?|showed"
          rf"|saying|that)\b[^.!?\n]{{0,40}}?\b{_CHANGED_EN}|\bsomeone\b|\bsuddenly\b|\b(?:is|was|has been) now\b"
          r"|\bnew (?:phone|number|e-?mail|address|device)", keys=(_NEG, _TARGET_KEYS)),
    _rule("account_changed", _CHANGED,
          r"\b(?:whitelist\w*|withdrawal address\w*|address book|api key\w*)\b[^.!?\n]{0,60}?"
          r"\b(?:i|we) (?:have )?(?:never|did not|didn'?t|have not|haven'?t) (?:add|added|create|created|set|approve|approved"
          r"|authori[sz]e|authori[sz]ed|request|requested|make|made)\b", keys=(("whitelist", "withdrawal address", "address book", "api key"), _NEG)),
    _rule("account_changed", _CHANGED,
          rf"{_TARGET_ZH}[^，。！？,\n]{{0,10}}?被(?:人|别人|他人|黑客|陌生人)?(?:改|修改|更改|换|更换|解绑|关闭|重置|删除|删|添加|加|绑定)", keys=(("被",), _TARGET_ZH_KEYS)),
    _rule("account_changed", _CHANGED,
          rf"(?:有人|别人|陌生人|黑客|对方|第三人|不明人士)[^。！？\n]{{0,20}}?(?:改了|改掉了?|修改了|更改了?|换了|解绑了|关闭了|重置了"
          rf"|添加了|加了|删除了|绑定了)"
          rf"[^。！？\n]{{0,10}}?{_TARGET_ZH}", keys=(_SOMEONE_ZH,)),
    _rule("account_changed", _CHANGED,
          rf"(?:我|本人)(?:并|根本|从来|从|压根)?(?:没有|没|未|从未)(?:修改|更改|改|换|更换|解绑|关闭|重置|添加|加|申请|设置|绑定)过?"
          rf"(?:我的)?[^，。！？\n]{{0,8}}?{_TARGET_ZH}",
          needs=r"通知|提醒|短信|邮件|显示|提示|突然|却|但是|可是|被|已经|已|有人|新的", keys=(("没", "未"), _TARGET_ZH_KEYS)),
    _rule("account_changed", _CHANGED,
          rf"{_TARGET_ZH}[^。！？\n]{{0,20}}?(?:我|本人)(?:并|根本|从来|从|压根)?(?:没有|没|未|从未)"
          rf"(?:修改|更改|改|换|更换|解绑|关闭|重置|添加|加|申请|设置|绑定)过?",
          needs=r"多了|多出|新增|出现|被|显示|通知|提醒|短信|邮件", keys=(_TARGET_ZH_KEYS, ("没", "未"))),
    # -- SIM swap
    _rule("sim_swap", _SIM,
          r"\bsim[- ]?(?:card )?swap|\bsim(?: card)? (?:was |got |has been |had been )?(?:swapped|hijacked|ported|cloned|deactivated)\b"
          r"|\b(?:number|line) (?:was |got |has been )?(?:ported|transferred) (?:out|to another)|\bport[- ]out\b"
          r"|\b(?:suddenly|all of a sudden) (?:had |has |have |got )?(?:no (?:signal|service)|lost (?:all )?(?:signal|service)"
          r"|sos only|emergency calls only)", keys=(("sim", "number", "line", "port", "sudden"),)),
    _rule("sim_swap", _SIM,
          r"sim卡被|被(?:人|别人|他人)?补办|(?:手机|电话)?(?:卡|号码?)被(?:人|别人|他人)?(?:补|复制|挂失|注销|停机|过户|转走|携号转网)"
          r"|补办了我的(?:手机)?(?:卡|号)|(?:突然|忽然)(?:就)?(?:没有?信号|无信号|无服务|没服务|只能拨打紧急)", keys=(("sim", "补", "被", "信号", "服务", "紧急"),)),
    # -- logins the customer did not make
    _rule("unrecognised_login", _LOGIN, rf"\b{_LOGIN_EVENT_EN}", needs=_NOT_ME_EN, keys=(_LOGIN_KEYS, _NOT_ME_KEYS)),
    _rule("unrecognised_login", _LOGIN, _LOGIN_EVENT_ZH, needs=_NOT_ME_ZH, keys=(("登录", "登陆", "登入", "访问", "上线"), _NOT_ME_ZH_KEYS)),
    # -- the authenticator's device lost or broken
    _rule("lost_authenticator", _LOST, rf"\b{_LOSS_EN}\b[^.!?\n]{{0,30}}?\b{_DEVICE_EN}\b{_near(100)}\b{_AUTH_EN}", keys=(_LOSS_KEYS, _DEVICE_KEYS, _AUTH_KEYS)),
    _rule("lost_authenticator", _LOST, rf"\b{_DEVICE_EN}\b[^.!?\n]{{0,40}}?\b{_LOSS_EN}\b{_near(100)}\b{_AUTH_EN}", keys=(_LOSS_KEYS, _DEVICE_KEYS, _AUTH_KEYS)),
    _rule("lost_authenticator", _LOST, rf"\b{_AUTH_EN}\b{_near(80)}\b{_DEVICE_EN}\b[^.!?\n]{{0,40}}?\b{_LOSS_EN}\b", keys=(_LOSS_KEYS, _DEVICE_KEYS, _AUTH_KEYS)),
    _rule("lost_authenticator", _LOST,
          rf"\b{_AUTH_EN}\b(?: app)? (?:was |got |is |has been )?(?:deleted|wiped|lost|gone)\b", keys=(_AUTH_KEYS, ("deleted", "wiped", "lost", "gone"))),
    _rule("lost_authenticator", _LOST, rf"{_DEVICE_ZH}[^。！？\n]{{0,8}}?{_LOSS_ZH}{_near(60)}{_AUTH_ZH}", keys=(_DEVICE_ZH_KEYS, _LOSS_ZH_KEYS, _AUTH_ZH_KEYS)),
    _rule("lost_authenticator", _LOST, rf"{_AUTH_ZH}{_near(40)}{_DEVICE_ZH}[^。！？\n]{{0,8}}?{_LOSS_ZH}", keys=(_DEVICE_ZH_KEYS, _LOSS_ZH_KEYS, _AUTH_ZH_KEYS)),
    _rule("lost_authenticator", _LOST, rf"{_AUTH_ZH}[^。！？\n]{{0,6}}?(?:丢了|没了|被删|删了|删除了|不见了|丢失)", keys=(_AUTH_ZH_KEYS, ("丢", "没了", "删", "不见"))),
    # -- secrets handed to a fake agent or site
    _rule("credentials_given", _GIVEN,
          rf"\b(?:gave|given|give|sent|send|shared|share|told|tell|entered|typed|provided|read out|forwarded|handed|input"
          rf"|submitted|disclosed)\b(?:\s+\S+){{0,5}}?\s+(?:my |the |our )?{_SECRET_EN}\b",
          needs=_FAKE_EN, keys=(_GIVE_KEYS, _SECRET_KEYS, _FAKE_KEYS)),
    _rule("credentials_given", _GIVEN,
          rf"\basked (?:me )?for (?:my |the )?{_SECRET_EN}\b[^.!?\n]{{0,60}}?\b(?:i|and i) (?:gave|sent|told|shared|provided|read)",
          needs=_FAKE_EN, keys=(("asked",), _SECRET_KEYS, _FAKE_KEYS)),
    _rule("credentials_given", _GIVEN,
          r"\b(?:entered|typed|put|logged in with|signed in with)(?:\s+\S+){0,4}?\s+(?:on|into|in|at) (?:a |an |the |this )?"
          r"(?:fake|phishing|scam|copy|copycat|lookalike|look-alike|clone|cloned|fraudulent|bogus) (?:site|website|page|link|app|url|domain)", keys=(("entered", "typed", "put", "logged in with", "signed in with"), _FAKE_SITE_KEYS)),
    _rule("credentials_given", _GIVEN, rf"{_SECRET_ZH}[^。！？\n]{{0,10}}?(?:给了|发给了?|告诉了?|提供给了?|报给了?|念给了?|说给了?)",
          needs=_FAKE_ZH, keys=(_SECRET_ZH_KEYS, _GIVE_ZH_KEYS, _FAKE_ZH_KEYS)),
    _rule("credentials_given", _GIVEN,
          rf"(?:给了|发给了?|告诉了?|提供给了?|报给了?|念给了?|输入了|填了|填写了|输了)[^。！？\n]{{0,8}}?(?:我的)?{_SECRET_ZH}",
          needs=_FAKE_ZH, keys=(_SECRET_ZH_KEYS, _GIVE_ZH_KEYS, _FAKE_ZH_KEYS)),
    _rule("credentials_given", _GIVEN,
          rf"(?:念|读|报|说)(?:了)?(?:给\S{{0,3}})?[^。！？\n]{{0,4}}?{_SECRET_ZH}",
          needs=_FAKE_ZH, keys=(("念", "读", "报", "说"), _SECRET_ZH_KEYS, _FAKE_ZH_KEYS)),
    _rule("credentials_given", _GIVEN,
          rf"\b(?:gave|sent|told|shared|handed|showed)\s+(?:him|her|them|that person|this person|this guy|the guy|that guy|a stranger"
          rf"|someone|somebody|the caller|the agent|the admin)\s+(?:my |the |our |all my )?{_SECRET_EN}\b", keys=(("gave", "sent", "told", "shared", "handed", "showed"), _SECRET_KEYS)),
    _rule("credentials_given", _GIVEN,
          r"\b(?:typed|entered|put|pasted|input)\s+(?:in\s+)?(?:my |the |all my )?(?:seed(?: phrase| words)?|(?:12|24|twelve|twenty-four)[- ]words"
          r"|recovery (?:phrase|words)|secret (?:recovery )?phrase|private keys?|mnemonic)\b", keys=(("typed", "entered", "put", "pasted", "input"), ("seed", "words", "recovery", "secret", "private key", "mnemonic"))),
    # -- a reset or change request the customer did not make; attempts to get in
    _rule("account_changed", _CHANGED,
          r"\b(?:2fa|authenticator|password|phone|e-?mail|withdrawal|whitelist|api key)\w*\s+(?:reset\s+|change\s+|removal\s+)?"
          r"requests?\b",
          needs=r"\b(?:i|we) (?:did not|didn'?t|never|have not|haven'?t) (?:submit|make|made|request|send|sent|ask|asked|file|filed)", keys=(("request",), _NEG)),
    _rule("unrecognised_login", _LOGIN,
          r"\b(?:someone|somebody|a stranger|an unknown person|someone else|hackers?)\b[^.!?\n]{0,40}?"
          r"\b(?:tried|trying|attempted|attempting|keeps trying) to (?:log|sign|access|get into|break into|withdraw|reset)", keys=(_SOMEONE, ("tried", "trying", "attempt"))),
    _rule("unrecognised_login", _LOGIN,
          r"遭(?:到)?(?:不明人士|第三人|他人|陌生人|黑客|人)?(?:盗用|盗|入侵|登入|登录|登陆)", keys=(("遭",),)),
    # -- "it wasn't me" said of a setting, an entry or an action, in passing (issue 12: buried signals).
    # The customer's own disowning is the signal; the settings and actions a stranger would touch are
    # named near it, so a plain "I didn't change anything, why is my account frozen" stays out.
    _rule("account_changed", _CHANGED,
          rf"\b(?:{_TARGET_EN}|sub-?accounts?|payout address|deposit address|referral code"
          rf"|permissions?|(?:withdraw(?:al)?|trading) permission)s?\b{_near(120)}"
          r"(?:\b(?:i|we|i'?ve|we'?ve|i'?d)\s+(?:(?:have|had|would)\s+)?(?:did not|didn'?t|never|have not|haven'?t|had not|hadn'?t)"
          r"|\bnone of us|\bnobody here|\bno one here)\s*(?:ever\s+)?(?:changed?|added?|set|create[sd]?|enabled?|turned? (?:it )?on|made|requested|touched|touch|add(?:ed)? (?:it|anything|that|this))\b"
          r"(?:\s+(?:it|that|this|them|anything))?",
          # the customer saw the change (a plain "I never set one up, how do I?" is a how-to)
          needs=r"\b(?:now|new|there(?:'s| is| are| was| were)|shows?|showed|showing|listed|appeared|noticed|found|see|saw|says|said"
          r"|changed to|saying|notification|alert|enabled|turned on|is on|gone)\b",
          keys=((*_TARGET_KEYS, "sub", "payout", "deposit address", "referral", "permission"), _NEG + ("none of us", "nobody", "no one"))),
    _rule("account_changed", _CHANGED,
          r"\b(?:(?:i|we)\s+(?:had\s+)?(?:not|never|didn'?t|did not)\s+(?:ask(?:ed)?|request(?:ed)?)\s+(?:for\s+)?(?:it|them|any|a|the|those|these)?"
          r"|(?:that|which)\s+(?:i|we)\s+(?:had\s+)?(?:not|never|didn'?t|did not)\s+(?:ask(?:ed)?|request(?:ed)?)"
          r"|(?:when|while|though)\s+i'?m\s+not\s+(?:even\s+)?(?:trying\s+to\s+)?(?:log|sign)(?:ging)?\s*(?:in|on)?)\b",
          needs=r"\b(?:codes?|otps?|verification|login|log-?in|sign-?in|password reset|reset (?:e-?mail|link))\b",
          keys=(("ask", "request", "not trying", "not even", "not log", "not sign"), ("code", "otp", "verification", "login", "log in", "sign", "reset"))),
    _rule("credentials_given", _GIVEN,
          r"\b(?:put|entered|typed|filled|gave|read out|read)\s+(?:in\s+)?(?:out\s+)?(?:my\s+|the\s+|a\s+|all\s+my\s+)?(?:e-?mail(?:\s+and|,)\s+)?"
          r"(?:login details|login|password|sms code|verification code|2fa code|code|credentials|seed phrase|email and password)\b",
          needs=r"\bclicked\b|\blink in (?:an? |the )?(?:e-?mail|sms|text|message)|\bsent me (?:a |the )?link\b|\bsend me (?:a |the )?link\b"
          r"|\bcall(?:ed)? (?:me|from)\b|\bhotline\b|\bthe (?:man|guy|woman|caller|agent)\b|\bon (?:the )?(?:phone|call)\b"
          r"|\baddress looked\b|\burl looked\b|\bsite looked\b",
          keys=(("put", "entered", "typed", "filled", "gave", "read"), ("login", "password", "code", "credential", "seed"),
                ("click", "link", "call", "hotline", "man", "guy", "woman", "agent", "phone", "looked"))),
    _rule("lost_authenticator", _LOST,
          rf"\b{_DEVICE_EN}\b[^.!?\n]{{0,60}}?\b{_AUTH_EN}\b[^.!?\n]{{0,50}}?\b(?:was |got |is |has been )?{_LOSS_EN}\b",
          keys=(_LOSS_KEYS, _DEVICE_KEYS, _AUTH_KEYS)),
    _rule("account_changed", _CHANGED,
          r"(?:不是我|唔系我|唔係我|并非我|不是本人|并非本人)(?:本人|自己)?(?:亲自)?(?:加|添加|新增|改|修改|更改|开|开通|做|申请|设定|设置|操作|下|绑|绑定|登录|登入|登陆|换|删)"
          r"(?:的|嘅|过)",
          keys=(("不是我", "唔系我", "唔係我", "并非我", "不是本人", "并非本人"),)),
    _rule("account_changed", _CHANGED,
          rf"{_TARGET_ZH}[^。！？!?\n]{{0,60}}?(?:我|本人|我们|大家都说|都说)(?:自己)?(?:并|根本|从来|从|压根|完全)?(?:没有|没|未|从未|冇)"
          rf"(?:修改|更改|改|换|更换|解绑|关闭|重置|添加|加|申请|设置|设定|绑定|开|开通|动)过?",
          needs=r"变成|变了|换成|多了|多出|新增|出现|被(?:人|改|换|加|删)|显示|通知|提醒|收到", keys=(_TARGET_ZH_KEYS, ("没", "未", "冇"))),
    _rule("compromise", _GENERAL,
          r"\b(?:withdrawals?|transfers?|trades?|orders?|transactions?|payments?|conversions?|sub-?accounts?|logins?)\b[^.!?\n]{0,50}?"
          r"\b(?:i|we) (?:don'?t|do not|can'?t|cannot) (?:even )?(?:remember|recall) (?:ever )?(?:making|doing|placing|creating|requesting|sending|opening)",
          keys=(("withdrawal", "transfer", "trade", "order", "transaction", "payment", "conversion", "sub", "login"), ("remember", "recall"))),
    _rule("sim_swap", _SIM, r"\bported (?:it |my number |the number |my line )?out\b|\b(?:moved|transferred) to a new sim\b",
          keys=(("ported", "new sim"),)),
    _rule("unrecognised_login", _LOGIN, r"\b(?:was |been |got )?logged into from\b|\blogins? from [a-z ,]{2,30}\b",
          needs=_NOT_ME_EN, keys=(("logged into from", "login from", "logins from"), _NOT_ME_KEYS)),
    _rule("compromise", _GENERAL,
          r"(?:提币|提现|提款|提领|转账|转出|交易|订单|单|convert|withdraw\w*)[^。！？!?\n]{0,20}?(?:我)?(?:都|完全)?(?:不记得(?:做|操作|提|下)?过|没(?:有)?印象|冇印象|唔记得)",
          keys=(("提", "转", "交易", "单", "convert", "withdraw"), ("不记得", "印象", "唔记得"))),
    _rule("compromise", _GENERAL,
          r"(?:提币|提现|提款|提领|转账|转出|交易|订单|单|convert|withdraw\w*|登录|登入)[^。！？!?\n]{0,30}?(?:不是我|唔系我|并非我)(?:本人)?(?:做|开|下|操作|弄|提|转)?(?:的|嘅)",
          keys=(("提", "转", "交易", "单", "convert", "withdraw", "登"), ("不是我", "唔系我", "并非我"))),
    _rule("account_changed", _CHANGED,
          r"(?:验证码|动态码|code)[^。！？!?\n]{0,30}?(?:不是我申请|我(?:并)?没(?:有)?(?:申请|请求|要|登录|登入|操作)|没(?:有)?人?(?:申请|请求)过?)"
          r"|(?:没(?:有)?(?:申请|请求|登录|登入)|不是我申请)[^。！？!?\n]{0,12}?(?:验证码|动态码|code)",
          keys=(("验证码", "动态码", "code"), ("没", "不是我"))),
    _rule("credentials_given", _GIVEN,
          rf"(?:把|将)(?:我的|手机收到的?|收到的?)?[^。！？!?\n]{{0,8}}?(?:{_SECRET_ZH}|code)[^。！？!?\n]{{0,6}}?(?:给|畀|俾|告诉|发给)(?:了|咗)?(?:他|她|佢|对方|别人|人|那个)"
          r"|(?:输入|填|畀|俾|给)(?:咗|了)[^。！？!?\n]{0,10}?(?:email|邮箱|帐号|账号)?[^。！？!?\n]{0,3}?(?:同|和|跟)?(?:密码|验证码)",
          needs=r"link|链接|连结|网址|点进去|点开|点了|㩒|短信|sms|老师|群|客服|agent|自称|说是|对方|佢|他|她",
          keys=(("给", "畀", "俾", "告诉", "输入", "填"), ("密码", "验证码", "code", "助记词", "私钥"))),
    # -- the general signs
    _rule("compromise", _GENERAL,
          r"\b(?:withdrawals?|transfers?|trades?|orders?|transactions?|payments?|logins?)\b[^.!?\n]{0,60}?\b(?:that |which )?"
          r"(?:i|we) (?:didn'?t|did not|never) (?:make|made|do|did|authori[sz]e|place|placed|request|requested|create|created|initiate)\b", keys=(("withdrawal", "transfer", "trade", "order", "transaction", "payment", "login"), ("didn", "did not", "never"))),
    _rule("compromise", _GENERAL, r"\b(?:i\s*(?:have\s*)?been|got|was|been|am|is|were|are|has been|have been)\s+hacked\b", keys=(("hacked",),)),
    _rule("compromise", _GENERAL, r"\bhacker", keys=(("hacker",),)),
    _rule("compromise", _GENERAL, r"\baccount (?:was |has been |got |is |been )?(?:compromised|taken over|hijacked|stolen)", keys=(("account",), ("compromised", "taken over", "hijacked", "stolen"))),
    _rule("compromise", _GENERAL,
          r"\b(?:someone|somebody|a stranger|an unknown person|someone else|a hacker|hackers?)\b.{0,60}"
          r"\b(?:logged in|log(?:ged)? into|accessed|withdrew|transferred|stole|changed my|took)", keys=(_SOMEONE, ("logged in", "log into", "logged into", "accessed", "withdrew", "transferred", "stole", "changed my", "took"))),
    _rule("compromise", _GENERAL,
          rf"\b(?:unauthori[sz]ed|unapproved)\b\s+(?:(?!(?:to|from|by|error)\b)\w+\s+){{0,2}}(?:{_ACTIONS})", keys=(("unauthori", "unapproved"),)),
    _rule("compromise", _GENERAL,
          r"\bnot authori[sz]ed by me\b|\bwithout my (?:permission|consent|authori[sz]ation|knowledge)\b", keys=(("authori", "without my"),)),
    _rule("compromise", _GENERAL,
          r"\b(?:i )?(?:did not|didn't|never|have not|haven't)\s+"
          r"(?:make|made|authori[sz]e|authori[sz]ed|initiate|initiated|request|requested|place|placed|do|approve|approved)\b"
          rf"(?!\s+any(?:thing)?(?!\s+of)\b).{{0,40}}\b(?:{_ACTIONS})", keys=(_NEG,)),
    _rule("compromise", _GENERAL, r"(?<!anti-)(?<!anti )\bphishing\b(?! code)", keys=(("phishing",),)),
    _rule("compromise", _GENERAL, r"\b(?:stolen|lost|compromised) (?:phone|2fa|authenticator|device|sim)", keys=(("stolen", "lost", "compromised"),)),
    _rule("compromise", _GENERAL,
          r"\b(?:phone|2fa|authenticator|device|sim(?: card)?) (?:was |has been |got )?(?:stolen|compromised|hacked)\b", keys=(("stolen", "compromised", "hacked"),)),
    _rule("compromise", _GENERAL, r"\blost my (?:phone|mobile|2fa|authenticator|google authenticator|2fa device)\b", keys=(("lost my",),)),
    _rule("compromise", _GENERAL,
          r"\b(?:leaked|exposed|compromised) (?:my )?(?:api key|private key|seed|password|keys?|mnemonic|secret key)\b", keys=(("leaked", "exposed", "compromised"),)),
    _rule("compromise", _GENERAL,
          r"\b(?:api key|private key|seed(?: phrase)?|password|keys?|mnemonic|secret key)s? "
          r"(?:was |were |has been |have been |got |is |are )?(?:leaked|exposed|compromised|stolen)\b", keys=(("leaked", "exposed", "compromised", "stolen"),)),
    _rule("compromise", _GENERAL,
          r"\b(?:funds|money|coins|assets|crypto|balance|btc|eth|usdt|tokens?) "
          r"(?:were |was |have been |has been |got )?(?:stolen|drained|taken|missing)\b", keys=(("stolen", "drained", "taken", "missing"),)),
    _rule("compromise", _GENERAL, r"\b(?:stole|drained|emptied) (?:my|all)\b", keys=(("stole", "drained", "emptied"),)),
    _rule("compromise", _GENERAL, r"\bvulnerabilit(?:y|ies)\b|\bxss\b|\bidor\b|\bbug bounty\b|\bcsrf\b|\bsql injection\b", keys=(("vulnerabilit", "xss", "idor", "bug bounty", "csrf", "sql injection"),)),
    _rule("compromise", _GENERAL,
          r"(?<!资料)(?<!身份证)(?<!身份)(?<!信息)(?<!证件)被盗|(?<!被)盗号|被黑|被骇|黑客|骇客|盗走|被盗刷|异地登录|异地登陆|异常登录|异常登陆|不是我本人|非本人操作|不是我操作"
          r"|未经我|未经本人|(?<!防)钓鱼(?!码)|假客服|冒充|sim卡被|安全漏洞|漏洞|私钥泄露|助记词泄露|密钥泄露|密码泄露|被人登录|被人登陆"
          r"|被转走|被提走|资金被转|被偷|被人盗", keys=(_ZH_GENERAL_KEYS,)),
    _rule("compromise", _GENERAL,
          r"未经?(?:本人|我的?)?授权的?.{0,6}?(?:提现|提币|转账|转出|交易|登录|登陆|访问|操作|下单|使用|划转|支付|买入|卖出)", keys=(("授权",),)),
    _rule("compromise", _GENERAL, r"有人.{0,10}?(?:登录|登陆|登入|转走|提走|提现|提币|盗|动了|改了|改掉|修改了|更改了)", keys=(("有人",),)),
    _rule("compromise", _GENERAL,
          r"(?:手机|谷歌验证器|验证器|身份验证器|2fa设备)(?:丢了|丢失|被偷|遗失)|(?:丢失|丢了|遗失)了?(?:我的)?(?:手机|谷歌验证器|验证器)", keys=(("丢", "遗失", "被偷"),)),
)

# --- guards ----------------------------------------------------------------------

# A hit in a clause about prevention, plainly negated, hypothetical, or a fear taken back is no sign.
_GUARD = re.compile(
    r"(?:\b(?:protect|prevent|avoid|keep|safe|secure|guard|defend|safeguard)\b.{0,60}\bfrom\s+(?:\w+\s+){0,2}"
    r"|\b(?:prevent|avoid|stop)\s+(?:\w+\s+){0,3}"
    r"|\b(?:not|never|no)\s+(?:\w+\s+){0,2}|n't\s+|\b40[13]\s*[-:]?\s*"  # negated; an HTTP status, not an incident
    r"|\b(?:if|in case|what if|suppose|supposing|imagine|should)\b(?:\s+\S+){0,6}\s*"  # hypothetical
    r"|\bthought\s+(?:\S+\s+){0,4}|\bwas going to (?:write|say)(?: that)?\s+(?:\S+\s+){0,3}"  # a fear taken back
    r"|(?:防止|避免|以免|防范|预防|免得|免受|免遭|远离|保护|怎么防|如何防)[^，。！？,.!?；;\n]{0,8}"
    r"|(?:如果|要是|万一|假如|假设|若是|以为|还以为|一度以为|想说|第一反应|第一个反应)[^，。！？,.!?；;\n]{0,12}"
    r"|\b(?:not|never) (?:saying|claiming|suggesting)\b(?:\s+\S+){0,4}\s*"
    r"|(?:不是说|并不是说|没说|不是指)[^，。！？,.!?；;\n]{0,10}"
    r"|(?:不|不会|不再|别|没|没有|没有人|没人|没有任何|没有什么|无任何|没什么|并未|未曾|从未|(?<!是)不是|并不是|并非))$",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"[,.;!?，。；！？、\n]|\bbut\b|\bhowever\b|\bthen\b|但是|可是|但|结果|后来")
# The customer says it was them ("是我本人登录的", "that was me"); "不是我本人" is the opposite.
_SELF = re.compile(
    r"(?<![不非没])(?:是我本人|是本人|是我自己)(?!操作的?提现)|都是我(?:本人|自己)|本人操作(?!的?提)|我自己(?:登录|登陆|登入|操作|改|换)"
    r"|\b(?:it|that|this) (?:was|is|'s) (?:just )?(?:me|mine|my own)\b|\bit's me\b|\bi did it myself\b"
    r"|\bi (?:changed|made|did) (?:it|this|that) myself\b",
    re.IGNORECASE,
)
_SELF_REACH = 60


@dataclass(frozen=True)
class Signal:
    """One sign of compromise: its kind, the phrase of the text that showed it, and why it counts."""

    kind: str
    phrase: str
    reason: str
    start: int


def signals(folded_text: str) -> list[Signal]:
    """Every sign of compromise in folded (Simplified, lower-cased) text, one per kind, in text order."""
    found: dict[str, Signal] = {}
    lowered = folded_text.lower()
    for rule in RULES:
        if not rule.may_match(lowered):
            continue
        m = _first(rule, folded_text)
        if m is None:
            continue
        earlier = found.get(rule.kind)
        if earlier is None or m.start() < earlier.start:
            phrase = m.group(0)
            found[rule.kind] = Signal(rule.kind, phrase, f"{rule.reason}: {phrase!r}", m.start())
    return sorted(found.values(), key=lambda s: s.start)


_MAX_TRIES = 50  # guarded hits looked past per rule: bounds the work on hostile text


def _first(rule: Rule, text: str) -> re.Match[str] | None:
    """The rule's first hit that no guard stops; a guarded hit is retried one character on.

    Retrying from the next character (not the hit's end) matters: in "protect
    my account from hackers? someone logged in" the guarded hit starting at
    "hackers" would otherwise swallow the real sign after it.
    """
    pos = 0
    for _ in range(_MAX_TRIES):
        m = rule.pattern.search(text, pos)
        if m is None:
            return None
        if not _guarded(text, m.start(), m.end()) and _has_context(rule, text, m.start(), m.end()):
            return m
        pos = m.start() + 1
    return None


def find(folded_text: str) -> str | None:
    """The first phrase that signals compromise, or None."""
    found = signals(folded_text)
    return found[0].phrase if found else None


def _guarded(text: str, start: int, end: int) -> bool:
    """True when the hit's own clause guards it, or the customer says right after that it was them."""
    head = text[max(0, start - 80) : start]
    ends = [e.end() for e in _CLAUSE_END.finditer(head)]
    clause = head[ends[-1] :] if ends else head
    if _GUARD.search(clause):
        return True
    return bool(_SELF.search(text, end, min(len(text), end + _SELF_REACH)))


def _has_context(rule: Rule, text: str, start: int, end: int) -> bool:
    """The rule's needed context within 150 characters around the hit, inside its paragraph."""
    if rule.needs is None:
        return True
    lo, hi = max(0, start - 150), min(len(text), end + 150)
    para_start = text.rfind("\n\n", lo, start)
    para_end = text.find("\n\n", end, hi)
    window = text[para_start + 2 if para_start >= 0 else lo : para_end if para_end >= 0 else hi]
    return bool(rule.needs.search(window))

"""router.text: reply splitting, HTML to text, normalisation, Traditional folding."""

from __future__ import annotations

import pytest

from router.text import html_to_text, normalize, split_reply, to_simplified

# --- split_reply --------------------------------------------------------------------

SPLITS = {
    "on-wrote": (
        "My account is frozen.\n\nOn Mon, 1 Mar 2024 at 10:00, Support <support@exchange.example> wrote:\n> Please send ID\n> thanks",
        "My account is frozen.",
    ),
    "on-wrote-wrapped": (
        "My account is frozen.\n\nOn Mon, 1 Mar 2024 at 10:00, Exchange Support Team <support@exchange.example>\nwrote:\n\n> Please send ID",
        "My account is frozen.",
    ),
    "gt-lines": ("new text here\n> old\n> older", "new text here"),
    "single-gt-line-dropped": ("new text\n> one quoted line\nmore new", "new text\nmore new"),
    "original-message": ("Please help.\n\n-----Original Message-----\nFrom: x\nSent: y\n\nold", "Please help."),
    "original-message-spaced": ("Please help.\n----- Original Message -----\nold", "Please help."),
    "forwarded": ("FYI\n---------- Forwarded message ---------\nFrom: a\nold", "FYI"),
    "yuanshi-youjian": ("请帮忙。\n-----原始邮件-----\n发件人: x\n旧内容", "请帮忙。"),
    "qq-style": (
        "请帮忙处理。\n\n------------------ 原始邮件 ------------------\n发件人: \"support\"<support@exchange.example>;\n发送时间: 2024年3月1日(星期五) 上午10:00\n旧内容",
        "请帮忙处理。",
    ),
    "zai-xiedao": ("好的，附件是身份证。\n\n在 2024年3月1日 星期五 10:00，Support <support@exchange.example> 写道：\n> 请提供身份证", "好的，附件是身份证。"),
    "zai-xiedao-ascii-colon": ("好的。\n在 2024/3/1 10:00, Support 写道:\n旧", "好的。"),
    "yu-xiedao": ("好的。\n\nSupport <s@e.x> 于2024年3月1日周五 10:00写道：\n> 旧", "好的。"),
    "traditional-xiedao": ("好的。\n\n在 2024年3月1日，客服 寫道：\n> 舊", "好的。"),
    "traditional-yu-xiedao": ("已補上身分證背面。\n\n於 2026年11月27日 週五 下午3:12，客服 <support@exchange.example> 寫道：\n> 請補件", "已補上身分證背面。"),
    "traditional-yu-without-date-is-text": ("由於客服之前寫道：\n請我補上身分證背面，已補上。", "由於客服之前寫道：\n請我補上身分證背面，已補上。"),
    "outlook-block": (
        "Thanks for the help.\n\nFrom: Support <support@exchange.example>\nSent: Friday, March 1, 2024 10:00 AM\nTo: me\nSubject: RE: x\n\nold",
        "Thanks for the help.",
    ),
    "outlook-block-underscores": ("Thanks.\n\n________________________________\nFrom: Support\nSent: Friday\nold", "Thanks."),
    "outlook-block-chinese": ("收到。\n\n发件人: 客服 <support@exchange.example>\n发送时间: 2024年3月1日 10:00\n收件人: 我\n主题: 回复\n\n旧", "收到。"),
    "signature-dash": ("Hello, please help.\n-- \nJohn Smith\nCEO", "Hello, please help."),
    "signature-iphone": ("Hello, please help.\n\nSent from my iPhone", "Hello, please help."),
    "signature-fazi": ("请帮忙。\n\n发自我的iPhone", "请帮忙。"),
    "signature-fazi-traditional": ("請幫忙。\n\n發自我的 iPhone", "請幫忙。"),
    # other languages' mail clients (Gmail, Outlook and Apple Mail localisations)
    "es-escribio": ("Sigo sin respuesta.\n\nEl lun, 3 jun 2026 a las 10:02, Soporte <s@e.x> escribió:\n> Gracias", "Sigo sin respuesta."),
    "es-mensaje-original": ("Adjunto el DNI.\n\n-----Mensaje original-----\nDe: Soporte\nviejo", "Adjunto el DNI."),
    "pt-escreveu": ("Ainda nada.\n\nEm ter., 3 de jun., Suporte escreveu:\n> obrigado", "Ainda nada."),
    "fr-message-d-origine": ("Voici le relevé.\n\n-----Message d'origine-----\nDe : Support\nancien", "Voici le relevé."),
    "de-urspruengliche": ("Anbei der Ausweis.\n\n-----Ursprüngliche Nachricht-----\nVon: Support\nalt", "Anbei der Ausweis."),
    "ru-pishet": ("Жду ответа.\n\n3 июня 2026 г., в 10:02, Support <s@e.x> пишет:\n> спасибо", "Жду ответа."),
    "tr-yazdi": ("Cevap bekliyorum.\n\n3 Haz 2026 Pzt, 10:02 tarihinde Destek <s@e.x> şunu yazdı:\n> teşekkürler", "Cevap bekliyorum."),
    "signature-fr-iphone": ("Merci.\n\nEnvoyé de mon iPhone", "Merci."),
    "signature-de-iphone": ("Danke.\n\nVon meinem iPhone gesendet", "Danke."),
}


@pytest.mark.parametrize(("text", "expected"), list(SPLITS.values()), ids=list(SPLITS))
def test_split_reply(text, expected):
    assert split_reply(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "> only quoted\n> text here",
        "-----Original Message-----\nFrom: x\nold stuff",
        "On Mon, 1 Mar 2024, Support <s@e.x> wrote:\n> hello",
        "-- \nJohn Smith",
    ],
    ids=["gt", "original-message", "on-wrote", "signature"],
)
def test_all_quote_keeps_the_text(text):
    assert split_reply(text) == text.strip()


@pytest.mark.parametrize(
    "text",
    [
        "I got an email\nFrom: someone claiming to be you, asking for my password.\nIs it real?",
        "Deposit missing.\nSent from my wallet address to your deposit address\nbut it is not credited",
        "The transfer was sent from my phone wallet.\nStill missing.",
        "在这里我写了很多\n请看",
        "Вот что он пишет:\nпереведи деньги на этот адрес",
    ],
    ids=["lone-from-line", "sent-from-my-wallet", "sent-from-inside-sentence", "zai-without-xiedao", "ru-quoting-a-scammer"],
)
def test_new_text_that_only_looks_like_an_opener_is_kept(text):
    assert split_reply(text) == text


def test_split_reply_empty():
    assert split_reply("") == ""
    assert split_reply("  \n ") == ""


def test_split_reply_crlf():
    assert split_reply("new\r\n\r\n-----Original Message-----\r\nold\r\n") == "new"


# --- html_to_text ----------------------------------------------------------------------


def test_html_to_text_basics():
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<script>alert('x')</script><p>Hello&nbsp;&amp; welcome</p>line1<br>line2<BR/>"
        "&#25105;&lt;x&gt;<!-- hidden comment --></body></html>"
    )
    assert html_to_text(html) == "Hello & welcome\n\nline1\nline2\n我<x>"


def test_html_to_text_blocks_cells_and_literal_less_than():
    html = "<div>a</div><div>b</div><table><tr><td>c</td><td>d</td></tr></table><p>1 < 2 and 3 > 2</p>"
    assert html_to_text(html) == "a\nb\n\nc d\n\n1 < 2 and 3 > 2"


def test_html_to_text_drops_outlook_conditional_comments():
    html = "<!--[if gte mso 9]><xml><o:OfficeDocumentSettings>junk</o:OfficeDocumentSettings></xml><![endif]--><p>real text</p>"
    assert html_to_text(html) == "real text"


def test_html_to_text_line_breaks_do_not_stack():
    assert html_to_text("<div>a</div>\n<div>b</div>") == "a\nb"
    assert html_to_text("<div>x<br></div><div>y</div>") == "x\ny"
    assert html_to_text("a<br><br>b") == "a\n\nb"
    assert html_to_text("<p>a</p><p>b</p>") == "a\n\nb"
    assert html_to_text("plain\ntext\n\nwith lines") == "plain\ntext\n\nwith lines"


def test_html_to_text_unclosed_script_hides_the_rest_like_a_browser():
    assert html_to_text("<p>visible</p><script>var a = 1; <p>not shown") == "visible"


def test_html_to_text_tag_with_gt_inside_attribute_value_is_not_leaked_whole():
    out = html_to_text('<a href="x">link</a> text')
    assert out == "link text"


@pytest.mark.parametrize(
    "html",
    [
        "<" * 100_000,
        "<a" * 50_000,
        "<script>" * 20_000,
        "<style>" * 20_000,
        "<!--" * 30_000,
        "<div " + "a" * 100_000,
        "<p>" + "<b>" * 50_000,
        "<br" * 30_000,
        "&" * 100_000,
        "&#" * 50_000,
        "<" + "x" * 1999 + ">" + "<" * 50_000,
        "<title>" + "x" * 100_000,
        ("<td>" + "\n \n" * 10) * 5_000,
        "</script" * 20_000,
        "<!" * 50_000,
    ],
    ids=[
        "lt-run", "lt-a-run", "script-run", "style-run", "comment-run", "unclosed-div", "nested-b",
        "br-unclosed", "amp-run", "charref-run", "long-tag-then-lt", "unclosed-title", "whitespace-cells",
        "close-script-run", "bang-run",
    ],
)
def test_html_to_text_pathological_inputs_finish(html):
    out = html_to_text(html)
    assert isinstance(out, str)
    assert len(out) <= len(html)


def test_html_to_text_keeps_less_than_runs_as_text():
    assert html_to_text("<" * 1000) == "<" * 1000


# --- normalize and to_simplified --------------------------------------------------------------


def test_normalize_full_width_to_ascii():
    assert normalize("ＵＩＤ：１２３４５６７８") == "UID:12345678"
    assert normalize("账户冻结申诉－ＵＩＤ１２３４５６７８") == "账户冻结申诉-UID12345678"
    assert normalize("Ａｃｃｏｕｎｔ　Ｈａｃｋｅｄ") == "Account Hacked"


def test_normalize_leaves_han_and_ascii_alone():
    text = "帳戶被盗 account hacked 123"
    assert normalize(text) == text


def test_to_simplified():
    assert to_simplified("帳戶凍結申訴，請幫忙處理") == "帐户冻结申诉，请帮忙处理"
    assert to_simplified("資金異常轉移") == "资金异常转移"


def test_to_simplified_keeps_simplified_and_non_chinese():
    assert to_simplified("账户冻结申诉") == "账户冻结申诉"
    assert to_simplified("Account Frozen 123") == "Account Frozen 123"
    assert to_simplified("") == ""

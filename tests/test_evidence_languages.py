"""Evidence named in Japanese, Korean, Vietnamese, Thai, Spanish, Portuguese, French, German, Russian, Turkish,
Indonesian and Arabic (issue 12): file names and body sentences count like their English equivalents, and the
near misses (a futures "contrato", "kimlik doğrulama", a negated or later document) do not.

Every case was written for this file; payloads are built in memory, from test_evidence's
limits, images and PDF (one source for both modules).
"""

from __future__ import annotations

import random
import re
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from router import parse
from router.records import Attachment
from router.understand.evidence import assess
from test_evidence import JPEG, LIMITS, MAIL_LIMITS, PDF, PNG, one

CSV = "time,ip,device\n2026-11-02 09:14,198.51.100.7,Android\n".encode()


def payload_for(name: str) -> bytes:
    ext = name.rsplit(".", 1)[-1].lower()
    return {"pdf": PDF, "png": PNG, "csv": CSV}.get(ext, JPEG)


# --- file names -------------------------------------------------------------

NAMES: list[tuple[str, str, str]] = [
    # (language, file name, kind)
    ("ja", "給与明細_2026年9-11月.pdf", "source_of_funds"),
    ("ja", "パスポート_顔写真ページ.jpg", "identity"),
    ("ja", "運転免許証（表）.jpg", "identity"),
    ("ja", "マイナンバーカード.png", "identity"),
    ("ja", "出金履歴.png", "transactions"),
    ("ja", "入出金明細_11月.pdf", "transactions"),
    ("ja", "ログイン履歴.png", "activity_log"),
    ("ja", "源泉徴収票2025.pdf", "source_of_funds"),
    ("ko", "신분증_앞면.jpg", "identity"),
    ("ko", "여권사본.pdf", "identity"),
    ("ko", "출금내역.png", "transactions"),
    ("ko", "입금 확인증.pdf", "transactions"),
    ("ko", "로그인기록.png", "activity_log"),
    ("ko", "급여명세서_10월.pdf", "source_of_funds"),
    ("ko", "통장사본.pdf", "transactions"),
    ("vi", "CCCD_mat_truoc.jpg", "identity"),
    ("vi", "hộ chiếu.jpg", "identity"),
    ("vi", "ho_chieu_scan.pdf", "identity"),
    ("vi", "lich_su_giao_dich.png", "transactions"),
    ("vi", "Sao kê Vietcombank T10.pdf", "transactions"),
    ("vi", "bang_luong_thang_9.pdf", "source_of_funds"),
    ("vi", "lịch sử đăng nhập.png", "activity_log"),
    ("th", "บัตรประชาชน.jpg", "identity"),
    ("th", "หนังสือเดินทาง.pdf", "identity"),
    ("th", "สลิปโอนเงิน.jpg", "transactions"),
    ("th", "สลิปเงินเดือน_ตุลาคม.pdf", "source_of_funds"),
    ("th", "ประวัติการเข้าสู่ระบบ.png", "activity_log"),
    ("th", "หนังสือรับรองเงินเดือน.pdf", "source_of_funds"),
    ("es", "nómina_octubre.pdf", "source_of_funds"),
    ("es", "NOMINA-SEPTIEMBRE.pdf", "source_of_funds"),
    ("es", "DNI_anverso.jpg", "identity"),
    ("es", "pasaporte.jpg", "identity"),
    ("es", "extracto_bancario_BBVA.pdf", "transactions"),
    ("es", "comprobante_transferencia.pdf", "transactions"),
    ("es", "declaracion_de_la_renta_2025.pdf", "source_of_funds"),
    ("es", "historial de accesos.png", "activity_log"),
    ("pt", "CNH_frente.jpg", "identity"),
    ("pt", "RG verso.jpg", "identity"),
    ("pt", "comprovante_pix.jpg", "transactions"),
    ("pt", "extrato_nubank_outubro.pdf", "transactions"),
    ("pt", "holerite_setembro.pdf", "source_of_funds"),
    ("pt", "declaração_IRPF_2025.pdf", "source_of_funds"),
    ("fr", "carte_identité_recto.jpg", "identity"),
    ("fr", "Passeport.pdf", "identity"),
    ("fr", "titre de séjour.jpg", "identity"),
    ("fr", "relevé_de_compte_octobre.pdf", "transactions"),
    ("fr", "fiche_de_paie_septembre.pdf", "source_of_funds"),
    ("fr", "avis_d'imposition_2025.pdf", "source_of_funds"),
    ("fr", "virement_SEPA.pdf", "transactions"),
    ("de", "Personalausweis_Vorderseite.jpg", "identity"),
    ("de", "Reisepass.pdf", "identity"),
    ("de", "Führerschein.jpg", "identity"),
    ("de", "Fuehrerschein.jpg", "identity"),
    ("de", "Kontoauszug_Oktober.pdf", "transactions"),
    ("de", "Gehaltsabrechnung_09-2026.pdf", "source_of_funds"),
    ("de", "Überweisungsbeleg.pdf", "transactions"),
    ("de", "Steuerbescheid 2025.pdf", "source_of_funds"),
    ("de", "Anmeldeverlauf.png", "activity_log"),
    ("ru", "паспорт_разворот.jpg", "identity"),
    ("ru", "Выписка Сбербанк.pdf", "transactions"),
    ("ru", "чек_перевода.jpg", "transactions"),
    ("ru", "справка 2-НДФЛ.pdf", "source_of_funds"),
    ("ru", "история входов.png", "activity_log"),
    ("tr", "KİMLİK_ön.jpg", "identity"),
    ("tr", "kimlik_on_yuz.jpg", "identity"),
    ("tr", "ehliyet.jpg", "identity"),
    ("tr", "dekont_havale.pdf", "transactions"),
    ("tr", "hesap_ozeti_ekim.pdf", "transactions"),
    ("tr", "maaş_bordrosu.pdf", "source_of_funds"),
    ("tr", "MAAS BORDROSU EKIM.pdf", "source_of_funds"),
    ("tr", "giriş geçmişi.png", "activity_log"),
    ("id", "KTP.jpg", "identity"),
    ("id", "e-KTP_depan.jpg", "identity"),
    ("id", "paspor.jpg", "identity"),
    ("id", "bukti_transfer_BCA.jpg", "transactions"),
    ("id", "mutasi_rekening_oktober.pdf", "transactions"),
    ("id", "slip_gaji_september.pdf", "source_of_funds"),
    ("id", "riwayat login.png", "activity_log"),
    ("ar", "جواز السفر.jpg", "identity"),
    ("ar", "بطاقة الهوية.jpg", "identity"),
    ("ar", "كشف حساب بنكي.pdf", "transactions"),
    ("ar", "ايصال التحويل.jpg", "transactions"),
    ("ar", "إيصال التحويل.jpg", "transactions"),
    ("ar", "شهادة راتب.pdf", "source_of_funds"),
    ("ar", "سجل الدخول.png", "activity_log"),
]


@pytest.mark.parametrize(("lang", "name", "kind"), NAMES, ids=[f"{lang}-{name}" for lang, name, _ in NAMES])
def test_kind_from_file_name(lang: str, name: str, kind: str) -> None:
    report = one(name, payload_for(name))
    assert report.present == (kind,), (lang, report)
    assert any("file name" in r for r in report.reasons)


NAME_MISSES: list[tuple[str, str]] = [
    # names that look close to evidence words but name none
    ("ja", "取引所アプリ.png"),  # 取引所 is the exchange, not a transaction
    ("ja", "カタログ.pdf"),  # holds ログ
    ("ko", "거래소 화면.png"),  # 거래소 is the exchange
    ("vi", "so_luong_coin.png"),  # "số lượng" (quantity) folds to "so luong"
    ("es", "contrato_de_futuros.png"),
    ("es", "contrato_perpetuo_BTC.png"),
    ("pt", "contrato_inteligente.png"),
    ("fr", "pièce_jointe.png"),  # "pièce jointe" is the attachment itself, not an identity document
    ("de", "Passwort_ändern.png"),  # Pass-
    ("de", "gehalten.png"),  # gehalt-
    ("ru", "входящий.png"),  # вход- (incoming)
    ("tr", "kimlik_dogrulama_ekrani.png"),  # identity verification, not a document
    ("id", "SIM_card.png"),  # SIM is also a SIM card, not only a driving licence
    ("ar", "مراتب.png"),  # "ranks" holds راتب (salary)
]


@pytest.mark.parametrize(("lang", "name"), NAME_MISSES, ids=[f"{lang}-{name}" for lang, name in NAME_MISSES])
def test_near_miss_file_names_are_not_evidence(lang: str, name: str) -> None:
    assert one(name, payload_for(name)).present == (), lang


def test_statement_with_salary_words_is_source_of_funds_in_every_language() -> None:
    """A payslip read as "statement + salary" must not also count as a transaction record."""
    for name in ("給与明細.pdf", "sao kê lương.pdf", "extracto de nómina.pdf", "Gehaltsabrechnung Kontoauszug.pdf"):
        assert one(name, PDF).present == ("source_of_funds",), name


# --- body sentences ---------------------------------------------------------

BODIES: list[tuple[str, str, tuple[str, ...]]] = [
    # (language, body, kinds) for one unnamed photo IMG_0931.jpg
    ("ja", "本人確認のため、パスポートの写真を添付いたします。", ("identity",)),
    ("ja", "出金履歴のスクリーンショットを添付します。よろしくお願いします。", ("transactions",)),
    ("ja", "先月分の給与明細を添付しますので、ご確認ください。", ("source_of_funds",)),
    ("ja", "エラー画面のスクショを送ります。", ("activity_log",)),
    ("ko", "출금 내역과 로그인 기록 캡처 첨부합니다", ("transactions", "activity_log")),
    ("ko", "여권은 없지만 운전면허증 사진 첨부합니다.", ("identity",)),
    ("ko", "재직증명서와 원천징수영수증을 첨부했습니다.", ("source_of_funds",)),
    ("vi", "Em gửi kèm ảnh CCCD mặt trước và mặt sau ạ.", ("identity",)),
    ("vi", "Toi dinh kem lich su giao dich rut tien.", ("transactions",)),
    ("vi", "Em xin gửi kèm bảng lương 3 tháng gần nhất để chứng minh nguồn tiền.", ("source_of_funds",)),
    ("th", "ถอนเงินไม่เข้าบัญชีค่ะ แนบสลิปการถอนมาให้แล้วค่ะ", ("transactions",)),
    ("th", "แนบรูปบัตรประชาชนและเซลฟี่ถือบัตรครับ", ("identity",)),
    ("th", "ผมแนบหนังสือรับรองเงินเดือนมาด้วยแล้ว", ("source_of_funds",)),
    ("es", "Adjunto una foto del DNI por ambas caras.", ("identity",)),
    ("es", "Les adjunto el extracto bancario de octubre.", ("transactions",)),
    ("es", "Adjunto mi nómina de los últimos tres meses.", ("source_of_funds",)),
    ("es", "Adjunto captura del mensaje de error que me sale al retirar.", ("activity_log",)),
    ("es", "Adjunto el extracto bancario como justificación del origen de los fondos.", ("source_of_funds",)),
    ("pt", "Segue em anexo a foto da minha CNH.", ("identity",)),
    ("pt", "Segue o comprovante de transferência do PIX.", ("transactions",)),
    ("pt", "Em anexo o holerite de setembro.", ("source_of_funds",)),
    ("fr", "Veuillez trouver ci-joint ma carte d'identité.", ("identity",)),
    ("fr", "Ci-joint mon relevé bancaire du mois dernier.", ("transactions",)),
    ("fr", "Je vous joins ma fiche de paie et mon avis d'imposition.", ("source_of_funds",)),
    ("fr", "Ci-joint mon passeport, mais pas de selfie.", ("identity",)),
    ("de", "Anbei mein Personalausweis (Vorder- und Rückseite).", ("identity",)),
    ("de", "Im Anhang finden Sie den Kontoauszug.", ("transactions",)),
    ("de", "Die Gehaltsabrechnung habe ich angehängt.", ("source_of_funds",)),
    ("de", "Anbei ein Screenshot der Fehlermeldung.", ("activity_log",)),
    ("ru", "Прикладываю скрин сделки и выписку.", ("transactions",)),
    ("ru", "Во вложении фото паспорта.", ("identity",)),
    ("ru", "Прилагаю справку о доходах с работы.", ("source_of_funds",)),
    ("ru", "Скриншот с ошибкой прикрепляю.", ("activity_log",)),
    ("tr", "Kimliğimin ön ve arka yüzü ekte.", ("identity",)),
    ("tr", "KİMLİĞİMİN FOTOĞRAFI EKTEDİR.", ("identity",)),
    ("tr", "Havale dekontunu ekte gönderiyorum.", ("transactions",)),
    ("tr", "Maaş bordromu ekledim.", ("source_of_funds",)),
    ("tr", "Pasaportum yok, ehliyetimin fotoğrafı ekte.", ("identity",)),
    ("id", "Terlampir foto KTP dan swafoto saya.", ("identity",)),
    ("id", "Berikut saya lampirkan bukti transfer dari BCA.", ("transactions",)),
    ("id", "Saya lampirkan slip gaji tiga bulan terakhir.", ("source_of_funds",)),
    ("ar", "مرفق صورة جواز السفر.", ("identity",)),
    ("ar", "أرفقت إيصال التحويل البنكي.", ("transactions",)),
    ("ar", "ارفقت كشف حساب بنكي لإثبات مصدر الأموال.", ("source_of_funds",)),
    ("ar", "مرفق لقطة شاشة لرسالة الخطأ.", ("activity_log",)),
    ("ru", "Прикладываю квитанцию об оплате.", ("transactions",)),
    ("ru", "Прикладываю справку 2-НДФЛ.", ("source_of_funds",)),
    ("pt", "Fiz um PIX e não caiu. Segue o comprovante.", ("transactions",)),
    ("vi", "Em chuyển khoản rồi mà chưa thấy tiền. Em gửi biên lai ạ.", ("transactions",)),
    ("ko", "소득금액증명원 첨부합니다.", ("source_of_funds",)),
    ("ja", "雇用契約書を添付します。", ("source_of_funds",)),
    ("tr", "Giriş geçmişimin ekran görüntüsünü ekledim.", ("activity_log",)),
    ("ja", "入金が反映されないので振込明細を添付します。", ("transactions",)),
    ("ko", "입금했는데 반영이 안 돼서 이체 확인증 첨부합니다.", ("transactions",)),
]


@pytest.mark.parametrize(("lang", "body", "kinds"), BODIES, ids=[f"{lang}-{i}" for i, (lang, _, _) in enumerate(BODIES)])
def test_body_names_the_unnamed_photo(lang: str, body: str, kinds: tuple[str, ...]) -> None:
    report = one("IMG_0931.jpg", JPEG, body)
    assert report.present == kinds, (lang, report)
    assert all("IMG_0931.jpg" in r for r in report.reasons if "from the body" in r)


BODY_MISSES: list[tuple[str, str]] = [
    # negated, promised for later, not about an attachment, or a trading word that only looks like evidence
    ("ja", "パスポートは持っていません。アプリのスクショを添付します。"),
    ("ja", "パスポートは後で送ります。画面の写真を添付します。"),
    ("ja", "先物契約の画面を添付します。"),
    ("ja", "来月パスポートを更新します。"),  # no attachment cue
    ("ko", "여권은 분실했습니다. 앱 화면 캡처 첨부합니다."),
    ("ko", "거래소 앱 화면 캡처 첨부합니다."),
    ("ko", "신분증은 아직 못 찾았어요. 캡처만 첨부합니다."),
    ("vi", "Em chưa có hộ chiếu, em gửi ảnh chụp màn hình ứng dụng."),
    ("vi", "Kính gửi bộ phận hỗ trợ. Hộ chiếu của tôi hết hạn tháng sau."),
    ("th", "ยังไม่ได้แนบพาสปอร์ตค่ะ"),
    ("th", "บัตรประชาชนหายครับ แนบภาพหน้าจอแอป"),
    ("es", "No adjunto el DNI todavía, lo envío mañana."),
    ("es", "Adjunto captura del contrato de futuros que se liquidó."),
    ("es", "Mi pasaporte vence el año que viene."),
    ("pt", "Não tenho CNH, segue print da tela do app."),
    ("pt", "Segue print do contrato inteligente."),
    ("fr", "Je n'ai pas de passeport, ci-joint une capture de l'application."),
    ("fr", "En pièce jointe la capture de l'application."),
    ("de", "Ich habe meinen Ausweis nicht dabei, anbei ein Screenshot der App."),
    ("de", "Anbei ein Screenshot: ich kann mein Passwort nicht ändern."),
    ("de", "Den Kontoauszug reiche ich später nach, anbei ein Foto."),
    ("ru", "Паспорт не прикладываю, скрин приложения во вложении."),
    ("ru", "В приложении не видно истории выводов, скрин прилагаю."),
    ("tr", "Kimlik doğrulama ekranı açılmıyor, ekran görüntüsü ekte."),
    ("tr", "Kimliğimi daha sonra göndereceğim, ekte uygulamanın ekran görüntüsü var."),
    ("id", "KTP saya hilang, terlampir screenshot aplikasi."),
    ("id", "SIM card saya diblokir, terlampir screenshot."),
    ("ar", "لم أرفق جواز السفر، مرفق لقطة من التطبيق."),
    ("ar", "جواز سفري ينتهي الشهر القادم."),
    ("pt", "Segue o comprovante de residência."),  # proof of address, not of a payment
    ("es", "Adjunto comprobante de domicilio."),
    ("ja", "先物の契約画面のスクショです。"),
    ("ko", "계약 만기 화면 캡처 첨부합니다."),  # a futures contract's expiry
    ("tr", "Kimlik bilgilerimi güncellemek istiyorum, ekte ekran görüntüsü."),  # identity data, not a document
    ("tr", "Giriş yapamıyorum, ekran görüntüsünü ekledim."),
    ("de", "Ich habe meinen Pass verloren. Anbei ein Foto der App."),
    ("ru", "Скрин приложения прилагаю, паспорт ещё не получил."),
]


@pytest.mark.parametrize(("lang", "body"), BODY_MISSES, ids=[f"{lang}-{i}" for i, (lang, _) in enumerate(BODY_MISSES)])
def test_body_near_misses_are_not_evidence(lang: str, body: str) -> None:
    assert one("IMG_0931.jpg", JPEG, body).present == (), lang


def test_body_words_without_attachment_count_nothing() -> None:
    assert assess([], "Adjunto mi nómina y el DNI.", LIMITS).present == ()
    assert assess([], "출금 내역 캡처 첨부합니다", LIMITS).present == ()


def test_body_kind_needs_a_compatible_file() -> None:
    """An identity document is an image or PDF: a CSV said to be "the passport" is not one."""
    assert one("datos.csv", CSV, "Adjunto el pasaporte.").present == ()
    assert one("datos.csv", CSV, "Adjunto el historial de inicios de sesión.").present == ("activity_log",)


def test_typed_without_accents_or_with_turkish_capitals() -> None:
    assert one("IMG_1.jpg", JPEG, "Adjunto mi nomina de octubre").present == ("source_of_funds",)
    assert one("IMG_1.jpg", JPEG, "Anbei die Gehaltsabrechnung und der Fuehrerschein").present == (
        "identity",
        "source_of_funds",
    )
    assert one("IMG_1.jpg", JPEG, "EHLİYETİMİN FOTOĞRAFI EKTE").present == ("identity",)
    assert one("IMG_1.jpg", JPEG, "Em gui kem anh ho chieu").present == ("identity",)


def test_source_of_funds_context_in_other_languages_turns_statements() -> None:
    for body in (
        "資金の出所を証明するため、通帳のコピーを添付します。",
        "자금 출처 증빙으로 통장 사본을 첨부합니다.",
        "Ci-joint mes relevés bancaires pour justifier l'origine des fonds.",
        "Als Nachweis der Mittelherkunft anbei meine Kontoauszüge.",
        "Выписку прилагаю как подтверждение происхождения средств.",
        "Fonların kaynağı için hesap özetimi ekte gönderiyorum.",
        "Terlampir rekening koran sebagai bukti sumber dana.",
    ):
        assert one("IMG_5.jpg", JPEG, body).present == ("source_of_funds",), body


SCREENSHOT_NAMES = [
    "Capture d\u2019écran 2026-11-03 à 10.12.55.png",  # macOS, French
    "Captura de pantalla 2026-11-03 a las 10.12.55.png",
    "Captura de Tela 2026-11-03 às 10.12.55.png",
    "Bildschirmfoto 2026-11-03 um 10.12.55.png",
    "Снимок экрана 2026-11-03 в 10.12.55.png",
    "Ekran Resmi 2026-11-03 10.12.55.png",
    "Ảnh chụp Màn hình 2026-11-03 lúc 10.12.55.png",
    "ภาพหน้าจอ 2566-11-03 เวลา 10.12.55.png",
    "Tangkapan Layar 2026-11-03 pukul 10.12.55.png",
    "لقطة شاشة 2026-11-03 في 10.12.55 ص.png",
    "スクリーンショット 2026-11-03 10.12.55.png",
    "스크린샷 2026-11-03 오전 10.12.55.png",
]


@pytest.mark.parametrize("name", SCREENSHOT_NAMES)
def test_small_pasted_screenshot_with_a_localised_name_is_not_decoration(name: str) -> None:
    """A 20 KB crop shown by cid: would pass for a logo, but its name says someone captured it on purpose."""
    crop = b"\x89PNG\r\n\x1a\n" + random.Random(3).randbytes(20_000)
    att = Attachment(name, "image/png", crop, inline=True, content_id="<c1>", referenced=True)
    report = assess([att], "Attached: a screenshot of the error message.", LIMITS)
    assert report.present == ("activity_log",), report


def test_small_image_shown_by_cid_with_a_plain_name_is_still_decoration() -> None:
    logo = b"\x89PNG\r\n\x1a\n" + random.Random(4).randbytes(20_000)
    att = Attachment("firma.png", "image/png", logo, inline=True, content_id="<c2>", referenced=True)
    assert assess([att], "Adjunto captura del mensaje de error.", LIMITS).present == ()


# --- whole mails from phones -----------------------------------------------

def iphone_mail(body: str, names: list[str], subject: str) -> bytes:
    """iOS Mail: multipart/mixed, each photo an inline image part with a Content-Id and a generic IMG_ name."""
    msg = MIMEMultipart("mixed")
    msg.attach(MIMEText(body, "plain", "utf-8"))
    for i, name in enumerate(names):
        photo = b"\x89PNG\r\n\x1a\n" + random.Random(i).randbytes(250_000)  # a phone screenshot, 250 KB
        part = MIMEImage(photo, "png")
        part.add_header("Content-Disposition", "inline", filename=name)
        part.add_header("Content-Id", f"<{i}C0FFEE-1234-5678-9ABC-DEF012345678>")
        msg.attach(part)
    msg.attach(MIMEText("\n\niPhone에서 보냄", "plain", "utf-8"))
    msg["From"] = "고객 <customer@example.com>"
    msg["To"] = "support@exchange.example"
    msg["Subject"] = subject
    msg["Message-ID"] = "<ios-1@client.example>"
    return msg.as_bytes()


def test_korean_iphone_screenshots_are_withdrawal_and_login_history() -> None:
    raw = iphone_mail(
        "안녕하세요. 출금이 아직 안 들어왔습니다.\n출금 내역과 로그인 기록 캡처 첨부합니다. 확인 부탁드립니다.",
        ["IMG_0931.PNG", "IMG_0932.PNG"],
        "출금 미입금 문의",
    )
    mail = parse.parse(raw, MAIL_LIMITS)
    assert mail.problem is None
    assert [(a.filename, a.inline, a.content_id is not None) for a in mail.attachments] == [
        ("IMG_0931.PNG", True, True),
        ("IMG_0932.PNG", True, True),
    ]
    report = assess(mail.attachments, mail.new_text, MAIL_LIMITS)
    assert report.present == ("transactions", "activity_log"), report
    assert "IMG_0931.PNG, IMG_0932.PNG" in " ".join(report.reasons)


def test_spanish_iphone_mail_that_promises_the_document_later_counts_nothing() -> None:
    raw = iphone_mail(
        "Hola, todavía no tengo el DNI renovado, lo envío la semana que viene.\nAdjunto captura de la app.",
        ["IMG_2210.PNG"],
        "Verificación",
    )
    mail = parse.parse(raw, MAIL_LIMITS)
    assert assess(mail.attachments, mail.new_text, MAIL_LIMITS).present == ()


# --- how the tables are compiled -------------------------------------------


def test_lexicon_patterns_are_lower_case() -> None:
    """The tables are compiled without re.I (evidence._compile): an upper-case letter in one could never match."""
    from router.understand import evidence

    tables = [*evidence._KIND_RE.values(), *evidence._NAME_RE.values()]
    tables += [evidence._SOF_CONTEXT, evidence._CUE, evidence._NEGATION, evidence._CLAUSES, evidence._CAPTURE_NAME]
    for rx in tables:
        letters = re.sub(r"\\.", "", rx.pattern)  # escapes such as \B and \w are not letters to match
        assert letters == letters.lower(), [c for c in letters if c != c.lower()][:5]


def test_factoring_word_starts_keeps_what_matches() -> None:
    from router.understand.evidence import _factor_word_starts

    raw = r"\bab\b|cd|\bef|[|]x|(?:\bg|h)"
    assert _factor_word_starts(raw) == r"cd|[|]x|(?:\bg|h)|\b(?:ab\b|ef)"
    factored, plain = re.compile(_factor_word_starts(raw)), re.compile(raw)
    for text in ("ab", "xab", "abc", "cd", "ef", "ref", "|x", "g", "xg", "h", "zz"):
        assert bool(factored.search(text)) == bool(plain.search(text)), text

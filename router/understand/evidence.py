"""Attachments: what they really are, what evidence they carry, which are dangerous (SPEC 4).

What a file really is and whether it is dangerous is filetypes.py (magic
bytes, bounded archive inspection); this module decides what evidence the
safe files carry.

Rejection reasons start with a stable prefix word:

* ``dangerous:`` - executables, scripts, macro-enabled Office files, names
  that hide their type, archives that hold any of those or cannot be
  inspected.  `is_dangerous` is True and the message is quarantined.
* ``too large:`` - over ``limits.max_attachment_bytes``.  The attachment is not
  counted as evidence but the message is NOT quarantined (being big is not
  hostile); the reason names the limit.  A dangerous finding wins over size.

Evidence kinds come from file names and, for attachments whose names say
nothing, from sentences of the body that both name a kind and refer to an
attachment ("attached my passport", "截图是充值记录", "출금 내역 캡처 첨부합니다",
"Adjunto mi nómina"), skipping negated clauses ("没有护照", "pas de passeport",
"ยังไม่ได้แนบ").  The lexicons know English, Simplified and Traditional
Chinese, Japanese, Korean, Vietnamese, Thai, Spanish, Portuguese, French,
German, Russian, Turkish, Indonesian and Arabic (see the keyword tables).

Statements (statement, 流水, 对账单 ...) are ``source_of_funds`` when the name
also says salary/tax/contract (工资流水, salary_statement) or when the body
talks about source of funds (资金来源, "source of funds", "proof of income");
otherwise they are ``transactions``.  A ``.log`` text file is an activity log.

Which files count, from every mail client (issue 12):

* Files inside a zip or an Outlook ``winmail.dat`` (TNEF) count like
  attachments, after the same danger checks on the container; attached
  messages (``message/rfc822``) are walked by parse.py, so their files arrive
  here as attachments of their own.
* Decoration (signature logos, social icons) is an image that is small
  (at most `DECORATION_MAX_BYTES`) *and* either shown by the HTML body through
  ``cid:`` or named like a logo (``image001.png``, ``logo``).  Being inline
  or having a Content-ID says nothing: iPhone and Mac Mail send every photo
  as an inline part with a Content-ID inside multipart/mixed.
* A file whose name names evidence (``passport.heic``, ``身分證.jpg``) or a
  screenshot/photo (``Screenshot 2026-…``, ``截圖``, ``IMG_1234``) is never
  decoration.  A screenshot pasted into a Gmail or Outlook body is an inline
  ``image.png``/``image001.png`` shown by ``cid:``; it counts once it is over
  `DECORATION_MAX_BYTES` (a real screenshot is 50 KB to a few MB; logos are a
  few KB to tens of KB), so a small cropped paste can still be mistaken for a
  logo - the customer is then asked for it again, never told it was received.
* Images under `TINY_IMAGE_BYTES` (spacers, tracking pixels, icons) are too
  small to show a document unless their name says what they are.
* Only images can be decoration: a PDF shown inline counts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from router.config import EVIDENCE_KINDS, Limits
from router.records import Attachment, EvidenceReport, Rejection
from router.understand import filetypes
from router.understand.filetypes import (
    CONTAINER_LABELS,
    IMAGE_LABELS,
    clean_name,
    extensions,
    sniff,
)

DANGEROUS = "dangerous:"
TOO_LARGE = "too large:"
TINY_IMAGE_BYTES = 4096  # smaller images are spacers and icons, not photos of documents
DECORATION_MAX_BYTES = 40 * 1024  # signature logos are smaller; real screenshots and photos are larger
_TEXT_EXTENSIONS = {"csv": "csv", "tsv": "csv", "txt": "txt", "text": "txt", "log": "log"}

# What each kind accepts, by evidence format (image, pdf, xlsx, csv, txt, log).
ACCEPTS: dict[str, frozenset[str]] = {
    "identity": frozenset({"image", "pdf"}),
    "transactions": frozenset({"csv", "xlsx", "pdf", "image"}),
    "activity_log": frozenset({"txt", "log", "csv", "pdf", "image"}),
    "source_of_funds": frozenset({"pdf", "image", "xlsx"}),
}

_FOLD_MARKS = re.compile(r"[\u0300-\u036f\u0640\u064b-\u065f\u0670]+")  # Latin/Cyrillic accents, Arabic vowel marks
_FOLD_CHARS = str.maketrans({"ı": "i", "đ": "d", "ß": "ss", "\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def _fold(text: str) -> str:
    """Text as the lexicons compare it: writers type "nomina" for "nómina" and "kimlik" for "KİMLİK" (tables below)."""
    if text.isascii():
        return text
    text = _FOLD_MARKS.sub("", unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFC", text).translate(_FOLD_CHARS)


def _compile(pattern: str) -> re.Pattern[str]:
    """A lexicon pattern folded like the text it is matched against, so it may be written with accents.

    Without re.I: names and bodies are lower-cased before matching, and a case-sensitive pattern lets the regex
    engine skip an alternative on its first character, which keeps the twelve-language tables about as cheap as
    the English and Chinese ones were (tests/test_evidence_languages.py checks the patterns are lower case).
    """
    return re.compile(_factor_word_starts(_fold(unicodedata.normalize("NFKC", pattern))))


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regular expression (outside groups and character classes)."""
    out: list[str] = []
    depth, in_class, start, i = 0, False, 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    out.append(pattern[start:])
    return out


def _factor_word_starts(pattern: str) -> str:
    """``\\ba|\\bb|c`` as ``c|\\b(?:a|b)``: one word-boundary test per position instead of one per word.

    The regex engine skips an alternative that starts with a literal after one character comparison, but must
    evaluate a leading ``\\b`` for each alternative at every position; with a hundred such words in twelve
    languages that was most of the lexicons' cost.  Only which of two words matching at the same place is
    reported can change.
    """
    alts = _alternatives(pattern)
    bounded = [a[2:] for a in alts if a.startswith("\\b")]
    if len(bounded) < 2:
        return pattern
    return "|".join([a for a in alts if not a.startswith("\\b")] + [r"\b(?:" + "|".join(bounded) + ")"])


# --- keyword tables -------------------------------------------------------
# "strict" patterns are used on file names and body sentences; "name" patterns
# add words that only mean something as a file name ("deposit.png", "login.jpg").
# "statement" is a pseudo-kind resolved to transactions or source_of_funds.
#
# Besides English and Chinese the tables know Japanese, Korean, Vietnamese,
# Thai, Spanish, Portuguese, French, German, Russian, Turkish, Indonesian and
# Arabic, the languages customers write in.  Patterns and text are compared
# folded (`_fold`): lower case, NFKC, Latin accents and Arabic vowel marks
# removed, ı/İ -> i, đ -> d, ß -> ss, so "nómina" and "nomina", "Führerschein"
# and "fuhrerschein", "KİMLİK" and "kimlik", "إيصال" and "ايصال" are one word;
# patterns may be written with accents for readability.  Rules of thumb:
#
# * `\b` only where the script separates words (Latin, Cyrillic, Arabic,
#   Vietnamese); never in Japanese, Chinese or Thai, and only at the start of
#   a Korean or Turkish word (particles and case endings follow it).
# * A common word that is only sometimes evidence stays a file-name word
#   (es "pago", de "Zahlung", tr "işlem"), and a word with a trading meaning is
#   only taken with its document noun ("contrato de trabajo", not "contrato"
#   which is also a futures contract; "계약서", not "계약").
# * Words that mean evidence in one language and something ordinary in another
#   are left out or guarded: Indonesian "SIM" (also a SIM card), Vietnamese
#   bare "lương"/"mặt" (folded they are also "lượng" quantity and "mặt" side),
#   Turkish "kimlik doğrulama" (identity *verification*, not a document).

_STRICT: dict[str, str] = {
    "identity": "|".join((
        r"passport|\bid ?cards?\b|\bid (?:front|back|photo|scan|copy|document)s?\b|\bmy id\b(?!\s*(?:is|:|=|number|no\b))"
        r"|identity (?:card|document)|national id|\bhkid\b|\bnric\b|selfie|driv(?:er'?s?|ing) ?licen[cs]e"
        r"|residence permit|身份证|身份證|身分证|身分證|护照|護照|手持|证件|證件|驾照|駕照|驾驶证|駕駛證|通行证|通行證"
        r"|健保卡|自然人凭证|自然人憑證|居民证|居民證"
        r"|居留证|居留證|回乡证|回鄉證|台胞证|台胞證|自拍|人脸|人臉",
        # ja
        r"身分証|本人確認書類|運転免許|免許証|パスポート|旅券|マイナンバーカード|個人番号カード|在留カード|住民票|保険証"
        r"|顔写真|セルフィー|自撮り",
        # ko
        r"신분증|주민등록증|여권|운전면허|면허증|외국인 ?등록증|거주 ?허가|영주권|셀카|셀피|얼굴 ?사진",
        # vi
        r"\bcccd\b|\bcmnd\b|\bcăn cước|chứng minh (?:nhân dân|thư)|\bhộ chiếu|giấy phép lái xe|\bbằng lái|\bgplx\b"
        r"|\bthẻ (?:tạm trú|thường trú|cư trú)|giấy tờ tùy thân|giấy tờ tuỳ thân|ảnh chân dung",
        # th
        r"บัตรประชาชน|บัตรประจำตัว|หนังสือเดินทาง|พาสปอร์ต|ใบขับขี่|ใบอนุญาตขับ(?:ขี่|รถ)|ใบถิ่นที่อยู่|บัตรต่างด้าว"
        r"|เซลฟี|ถ่ายคู่(?:กับ)?บัตร|ภาพใบหน้า|รูปหน้าตรง",
        # es pt fr tr id: pasaporte, passaporte, passeport, pasaport, paspor
        r"pass?[ae]?port|\bpaspor",
        # es
        r"\bdni\b|documento (?:nacional )?de identidad|carn[eé] de (?:identidad|conducir)|\bc[eé]dula\b|\bine\b"
        r"|licencia de (?:conducir|manejo)|permiso de (?:conducir|residencia)|tarjeta de (?:residencia|identidad)"
        r"|credencial (?:para votar|de elector)|identificaci[oó]n oficial",
        # pt
        r"\brg\b|\bcnh\b|carteira (?:de identidade|de motorista|nacional de habilitação)|documento de identificação"
        r"|documento com foto|cartão de cidadão|bilhete de identidade|autorização de residência|título de residência",
        # fr
        r"carte (?:nationale )?d'? ?identité|\bcni\b|permis de conduire|titre de séjour|carte de (?:séjour|résident)"
        r"|pièces? d'? ?identité|justificatif d'? ?identité|égoportrait",
        # de
        r"ausweis|reisepass|\bpass ?(?:kopie|foto|bild)|f(?:ue|ü)hrerschein|aufenthalts ?(?:titel|erlaubnis|genehmigung|karte)"
        r"|identitätsnachweis|\bid karte",
        # ru
        r"паспорт|удостоверени\w* личности|водительск\w* (?:удостоверени|прав)|вид на жительство|\bвнж\b|\bid карт|селфи",
        # tr ("kimlik doğrulama" is identity verification, "kimlik bilgileri" identity data: not documents)
        r"\bkimli[kğ](?!\w* ?(?:doğrula|bilgi))|\bnüfus cüzdan|\behliyet|sürücü belgesi|\bikamet (?:izni|tezkeresi|kart)|\böz ?çekim",
        # id
        r"\b(?:e ?)?ktp\b|kartu tanda penduduk|kartu identitas|surat izin mengemudi|\bkitas\b|\bkitap\b|\bswafoto|\bfoto diri\b",
        # ar
        r"(?:بطاقة|صورة|إثبات|وثيقة) ?(?:ال)?هوي[ةه]|هويتي|جواز|رخصة (?:ال)?(?:قيادة|سياقة|سواقة)"
        r"|(?:بطاقة|تصريح|صورة) ?(?:ال)?إقامة|إقامتي|سيلفي|صورة شخصية",
    )),
    "transactions": "|".join((
        r"transactions? (?:records?|history|histories|details?|screenshots?|proofs?|ids?|hash(?:es)?)|\btx ?(?:id|hash)s?\b"
        r"|\btxids?\b|trade history|order history|\b(?:deposit|withdrawal?|transfer|payment) (?:records?|history|proofs?|receipts?)"
        r"|交易(?:记录|紀錄|記錄|明细|明細|截图|截圖|凭证|憑證|哈希|id)"
        r"|(?:充值|充币|充幣|提现|提現|提币|提幣|转账|轉賬|轉帳|汇款|匯款|入金|出金|付款|支付|订单|訂單)"
        r"(?:记录|紀錄|記錄|明细|明細|凭证|憑證|截图|截圖|详情|詳情|回执|回執)|哈希",
        # ja
        r"(?:取引|入金|出金|送金|振込|振り込み|入出金|入出庫|入庫|出庫|約定|注文|送付|決済|支払い?)の?(?:履歴|明細|記録|控え|証明|完了画面)"
        r"|トランザクション|受領書|領収書|レシート",
        # ko
        r"(?:거래|입금|출금|송금|이체|입출금|주문|체결|결제|충전|출고|입고) ?(?:내역|기록|이력|확인증|영수증|명세|증빙)"
        r"|(?<!원천징수)(?<!원천징수 )영수증|거래 ?해시|트랜잭션",
        # vi
        r"lịch sử (?:giao dịch|nạp|rút|chuyển|lệnh|đặt lệnh|khớp lệnh)"
        r"|(?:biên lai|biên nhận|chứng từ|hóa đơn|xác nhận|ảnh chụp|bằng chứng) (?:giao dịch|chuyển khoản|nạp|rút|thanh toán|chuyển tiền)"
        r"|mã (?:giao dịch|hash)|hash giao dịch|[ủu]y nhiệm chi|\bbiên lai|\bbiên nhận (?:chuyển|nạp|rút|thanh)",
        # th
        r"ประวัติ(?:การ)?(?:ทำ)?ธุรกรรม|ประวัติการ(?:ฝาก|ถอน|โอน|ซื้อขาย|เทรด|สั่งซื้อ|ชำระ)|สลิป(?!เงินเดือน)"
        r"|หลักฐาน(?:การ)?(?:โอน|ฝาก|ถอน|ชำระ|จ่าย)|ใบเสร็จ|เลข(?:ที่)?ธุรกรรม|รายการ(?:ฝาก|ถอน|โอน)",
        # es
        r"historial de (?:transacciones|operaciones|movimientos|depósitos|retiros|transferencias|pagos|órdenes|trading|compras|ventas)"
        r"|(?:comprobante|justificante|recibo|confirmación|constancia|prueba)s? de (?:(?:la|el) )?"
        r"(?:pago|transferencia|depósito|retiro|envío|transacción|operación)"
        r"|(?:id|hash|código) de (?:la )?transacción|\bcomprobante(?!s? de (?:domicilio|ingresos|identidad|estudios))",
        # pt
        r"histórico de (?:transações|transação|depósitos?|saques?|transferências?|pagamentos?|ordens|negociações|operações|compras|vendas)"
        r"|(?:comprovante|recibo|confirmação|prova)s? d[eoa]s? (?:pagamento|transferência|depósito|saque|pix|ted|transação|operação|envio)"
        r"|(?:id|hash|código) da transação|\bcomprovante(?!s? de (?:renda|rendimento|residência|endereço|matrícula))",
        # fr
        r"historique (?:des |de |du |d')?(?:transactions?|opérations?|dépôts?|retraits?|virements?|paiements?|ordres?|transferts?|achats?)"
        r"|(?:justificatif|preuve|reçu|avis|confirmation|ordre|bordereau)s? (?:de |du |d')?(?:virement|paiement|dépôt|retrait|transfert|transaction)"
        r"|(?:identifiant|id|hash|numéro) de (?:la )?transaction",
        # de
        r"(?:transaktions|umsatz|einzahlungs|auszahlungs|(?:ü|ue)berweisungs|zahlungs|order|handels|abhebungs) ?"
        r"(?:verlauf|historie|(?:ü|ue)bersicht|liste|belege?|best(?:ä|ae)tigung|nachweis|protokoll)|transaktions ?(?:id|hash)"
        r"|(?:verlauf|historie) (?:der|meiner) (?:transaktionen|einzahlungen|auszahlungen|(?:ü|ue)berweisungen|zahlungen|orders|trades)"
        r"|zahlungsbeleg|quittung|kassenbon",
        # ru
        r"истори\w* (?:транзакци|операци|сделок|пополнени|вывод|перевод|платеж|ордер|депозит|торгов|покупок)"
        r"|(?:квитанци\w*|подтверждени\w*|скрин\w*|снимок) (?:о |об )?(?:перевод|оплат|платеж|пополнени|вывод|транзакци|сделк|зачислени)"
        r"|\bчек(?:и|а|ом|у)?\b|квитанци|платежк|платежн\w* поручени|(?:хеш|хэш|id|номер) транзакци",
        # tr
        r"\b(?:işlem|yatırma|çekim|çekme|transfer|ödeme|havale|eft|emir|alım|satım) ?(?:geçmiş|kayıt|kayd|dekont|makbuz|detay|döküm|numara)"
        r"|\bdekont|\bmakbuz",
        # id
        r"riwayat (?:transaksi|deposit|penarikan|transfer|pembayaran|setoran|order|pesanan|perdagangan|trading|tarik)"
        r"|bukti (?:transfer|pembayaran|setoran|deposit|penarikan|tf|bayar|transaksi|pengiriman|tarik)"
        r"|\bstruk\b|k[uw]itansi|(?:id|hash|kode) transaksi|resi (?:transfer|pembayaran)",
        # ar
        r"(?:سجل|سجلات|تاريخ) ?(?:ال)?(?:معاملات|تحويلات|إيداعات|إيداع|سحوبات|سحب|عمليات|صفقات|تداولات|تداول|طلبات|مدفوعات)"
        r"|(?:إيصال|إشعار|إثبات|وصل|تأكيد) ?(?:ال)?(?:تحويل|دفع|إيداع|سحب|معاملة|عملية)|إيصال"
        r"|(?:معرف|رقم|هاش) ?(?:ال)?(?:معاملة|عملية|تحويل)",
    )),
    "activity_log": "|".join((
        r"\b(?:login|log-?in|sign-?in|access|activity|operation|error|audit|device|ip) ?(?:logs?|history|records?)\b"
        r"|error (?:messages?|screenshots?)|\blog files?\b|\blogs\b"
        r"|(?:登录|登錄|登入|操作)(?:记录|紀錄|記錄|日志|日誌|历史|歷史)|日志|日誌|报错|報錯|错误提示|錯誤提示",
        # ja
        r"(?:ログイン|アクセス|操作|アクティビティ|サインイン|接続)の?(?:履歴|記録|ログ)|(?<![ブタ])ログ(?!イン|アウト)"
        r"|エラー(?:画面|メッセージ|表示|コード|内容)",
        # ko
        r"(?:로그인|접속|활동|접근|기기|로그) ?(?:기록|내역|이력)|로그 ?파일|(?:에러|오류) ?(?:화면|메시지|메세지|창|코드|내용)",
        # vi
        r"(?:lịch sử|nhật ký) (?:đăng nhập|hoạt động|truy cập|phiên|thiết bị)|(?:thông báo|màn hình|ảnh|mã|hình) lỗi|báo lỗi",
        # th
        r"ประวัติการ(?:เข้าสู่ระบบ|ล็อกอิน|ล็อคอิน|เข้าใช้|ใช้งาน)|บันทึกการ(?:เข้าใช้|ใช้งาน|เข้าสู่ระบบ)|ข้อผิดพลาด"
        r"|แจ้งเตือนการ(?:เข้าสู่ระบบ|ล็อกอิน)",
        # es
        r"(?:historial|registros?) de (?:inicios? de sesión|accesos?|actividad|conexión|conexiones|sesiones|dispositivos|errores|login)"
        r"|(?:mensaje|pantalla|captura|código|aviso)s? del? error",
        # pt
        r"(?:histórico|registros?|logs?) de (?:login|logins|acessos?|atividades?|sessões|dispositivos|erros?)"
        r"|(?:mensage[mn]|tela|print|código|aviso)s? d[eo] erro",
        # fr
        r"(?:historique|journal|journaux) (?:des |de |d')?(?:connexions?|activités?|accès|sessions?|appareils?)"
        r"|(?:messages?|écran|capture|code) d'? ?erreur",
        # de
        r"(?:login|anmelde|zugriffs|aktivit(?:ä|ae)ts|sitzungs|ger(?:ä|ae)te|log) ?(?:verlauf|historie|protokoll|liste|(?:ü|ue)bersicht|daten|datei)"
        r"|fehler ?(?:meldung|bild|anzeige|code|screenshot)|protokolldatei",
        # ru
        r"истори\w* (?:вход|авторизаци|активност|сесси|действи|устройств|посещени)"
        r"|журнал\w* (?:вход|действи|активност|событи|ошибок)|\bлог(?:и|ов|ам)?\b"
        r"|(?:сообщени\w*|скрин\w*|снимок|текст|окн\w*) (?:с )?(?:об )?ошибк",
        # tr ("giriş bilgileri" are login credentials, not a log)
        r"\b(?:giriş|oturum|erişim|aktivite|etkinlik|cihaz) ?(?:geçmiş|kayıt|kayd|hareket)|\bhata (?:mesaj|ekran|kod|görünt)",
        # id
        r"(?:riwayat|log|catatan) (?:login|masuk|akses|aktivitas|perangkat|sesi)"
        r"|(?:pesan|layar|tampilan|kode|notifikasi) (?:error|eror|kesalahan|galat)",
        # ar
        r"(?:سجل|سجلات|تاريخ) ?(?:ال)?(?:دخول|تسجيل ال?دخول|نشاط|نشاطات|وصول|أجهزة|جلسات)"
        r"|(?:رسالة|شاشة|صورة|لقطة|رمز) ?(?:ال)?خطأ",
    )),
    "source_of_funds": "|".join((
        r"salary|pay ?slips?|payroll|\bwages?\b|(?<!smart )(?<!futures )(?<!perpetual )\bcontracts?\b(?! address)(?! trading)"
        r"|\bagreements?\b|tax (?:returns?|certificates?|statements?|receipts?)|income (?:proof|certificate|statement)s?"
        r"|proof of (?:income|funds)|employment (?:letter|certificate)s?"
        r"|工资|工資|薪资|薪資|薪水|收入证明|收入證明|合同|契約書|(?:雇用|労働|売買|賃貸|勞動|僱傭|買賣|租賃)契約|完税|完稅|纳税|納稅|税单|稅單"
        r"|资金来源证明|資金來源證明|资产证明|資產證明|房产证|房產證",
        # ja
        r"給与|給料|源泉徴収|確定申告|(?:納税|課税|所得|収入|在職|残高|雇用)証明|資金の証明",
        # ko
        r"급여|월급|연봉|원천징수|(?:소득|소득금액|재직|납세|잔고|잔액|수입) ?증명|근로 ?소득|계약서|종합소득세|세금 ?신고",
        # vi (bare "lương" folds into "lượng", quantity)
        r"bảng lương|phiếu lương|sao kê lương|tiền lương|xác nhận lương|hợp đồng (?:lao động|mua bán|vay|thuê)"
        r"|tờ khai thuế|quyết toán thuế|(?:xác nhận|chứng minh|giấy tờ|bằng chứng) (?:thu nhập|tài chính)",
        # th
        r"เงินเดือน|หนังสือรับรอง(?:การทำงาน|รายได้)|ภ ?ง ?ด ?(?:90|91|94)|50 ?ทวิ|ทวิ ?50|สัญญาจ้าง|หลักฐาน(?:แสดง)?รายได้",
        # es
        r"\bnómina|\bsalario|\bsueldo|declaración (?:de (?:la )?renta|de impuestos|anual|del irpf)|\birpf\b"
        r"|certificado de (?:ingresos|retenciones|renta|haberes)"
        r"|contrato (?:de trabajo|laboral|de empleo|de compraventa|de arrendamiento|de alquiler|de préstamo)"
        r"|(?:comprobante|justificante|constancia|prueba)s? de (?:ingresos|renta|fondos)",
        # pt
        r"holerite|contracheque|folha de pagamento|\bsalário|declaração (?:de|do) (?:imposto de renda|irpf|rendimentos)"
        r"|imposto de renda|(?:comprovante|informe)s? de (?:renda|rendimentos?)"
        r"|contrato de (?:trabalho|compra e venda|empréstimo|prestação de serviços)|carteira de trabalho|\bctps\b|pr[oó] ?labore",
        # fr
        r"fiches? de paie|bulletins? de (?:paie|salaire)|\bsalaires?\b|avis d'? ?impo(?:t|sition)"
        r"|déclaration (?:de revenus|d'? ?impôts?|fiscale)|attestation (?:de salaire|d'? ?emploi|employeur|de revenus|de travail)"
        r"|contrat de (?:travail|vente|prêt)|(?:justificatif|preuve)s? de (?:revenus|ressources|fonds)",
        # de
        r"gehalts|gehalt\b|lohnabrechnung|lohnzettel|lohnsteuer|\blohn\b|verdienstbescheinigung|einkommens ?nachweis"
        r"|einkommensteuer|steuerbescheid|steuererkl(?:ä|ae)rung|(?:arbeits|kauf|darlehens|miet|anstellungs|schenkungs)vertrag"
        r"|verm(?:ö|oe)gensnachweis|erbschein",
        # ru
        r"справк\w* (?:о доход|с (?:места )?работы)|ндфл|зарплат|заработн\w* плат|расч[её]тн\w* лист|налогов\w* деклараци"
        r"|трудов\w* договор|договор\w* (?:купли|дарения|займа|продажи)|подтверждени\w* (?:дохода|доходов)",
        # tr
        r"\bmaaş|\bbordro|\bvergi (?:levha|beyanname|belge)|\bgelir (?:belge|beyanname|vergi)|çalışma belgesi"
        r"|\b(?:iş|satış|kira) sözleşme",
        # id
        r"slip gaji|\bgaji\b|(?:bukti|slip|keterangan|laporan) penghasilan|\bspt\b|bukti potong|kontrak kerja|perjanjian kerja"
        r"|surat keterangan (?:kerja|gaji)",
        # ar (مراتب "ranks" holds راتب)
        r"(?<!م)راتب|رواتب|(?:شهادة|تعريف|إثبات) ?(?:ال|بال)?(?:راتب|دخل)|عقد (?:ال)?(?:عمل|بيع|إيجار|شراء)"
        r"|(?:ال)?إقرار (?:ال)?ضريبي",
    )),
    "statement": "|".join((
        r"statements?|流水|对账单|對賬單|對帳單|对帐单|账单|賬單|帳單",
        r"明細|通帳",  # ja
        r"통장|(?:입출금|거래) ?내역서|(?:은행|계좌) ?(?:거래 ?)?내역",  # ko
        r"\bsao kê|\bbảng kê",  # vi
        r"สเตทเมน|สเตทเม้น|รายการเดินบัญชี|รายการเคลื่อนไหว",  # th
        r"\bextractos?\b|estados? de cuenta|movimientos (?:bancarios|de (?:la )?cuenta)",  # es
        r"\bextratos?\b",  # pt
        r"relevés? (?:de compte|bancaires?|de banque|d'? ?opérations|de carte)",  # fr
        r"kontoausz(?:ü|ue|u)g|umsatz ?(?:ü|ue)bersicht|kontoums(?:ä|ae)tze|umsatzliste|bankauszug",  # de
        r"выписк",  # ru
        r"\bhesap (?:özet|döküm|ekstre|hareket)|\bekstre|\bbanka döküm",  # tr
        r"\bmutasi\b|rekening koran",  # id
        r"كشف (?:ال)?حساب|كشف (?:ال)?بنك|كشف بنكي|كشوفات",  # ar
    )),
}
_NAME_ONLY: dict[str, str] = {
    "identity": "|".join((
        r"identity|holding|\bkyc\b|(?<!tx )(?<!user )(?<!order )(?<!transaction )\bid\b",
        r"本人確認|免許|マイナンバー|신분|면허|căn cước|chân dung|identidad|identificación|identidade|identificação"
        r"|identité|identität|личност|удостоверени|\bnüfus|identitas|هوية|هويه|إقامة",
    )),
    "transactions": "|".join((
        r"transactions?|\b(?:deposits?|withdraw\w*|transfers?|payments?|receipts?|trades?|orders?|tx|explorer)\b"
        r"|etherscan|tronscan|bscscan|充值|充币|充幣|提现|提現|提币|提幣|转账|轉賬|轉帳|汇款|匯款|交易|订单|訂單"
        r"|付款|回单|回單|收据|收據|凭证|憑證",
        r"入金|出金|送金|振込|取引(?!所)|約定|注文",  # ja
        r"입금|출금|송금|이체|거래(?!소)|주문|체결",  # ko
        r"giao dịch|nạp tiền|rút tiền|chuyển khoản|chuyển tiền|biên lai",  # vi
        r"ธุรกรรม|ฝาก|ถอน|โอน",  # th
        r"\btransacci[oó]n|\btransacciones|\bdepósito|\bretiros?\b|\btransferencia|\bpagos?\b|\bcomprobante|\brecibos?\b"
        r"|\boperaci(?:ón|ones)\b|\bórden(?:es)?\b",  # es
        r"\btransaç(?:ão|ões)|\bsaques?\b|\bpagamento|\bcomprovante(?!s? de (?:renda|rendimento|residência|endereço))",  # pt
        r"\bvirement|\bdépôt|\bretrait|\bpaiement|\breçus?\b",  # fr
        r"transaktion|einzahlung|auszahlung|(?:ü|ue)berweisung|zahlung|quittung|\bbeleg|abhebung|\bumsatz|\bumsätze",  # de
        r"транзакци|перевод|пополнени|\bвывод|платеж|депозит|сделк|\bчек",  # ru
        r"\bişlem|\byatırma|\bçekim|\bçekme|\bhavale|\bödeme|\beft\b",  # tr
        r"transaksi|penarikan|setoran|pembayaran|\btf\b",  # id
        r"معامل|تحويل|إيداع|سحب|دفع",  # ar
    )),
    "activity_log": "|".join((
        r"\blog\b|login|logon|signin|sign in|\berrors?\b|\bactivity\b|登录|登錄|登入|操作|错误|錯誤|异常|異常",
        r"ログイン|(?<![ブタ])ログ|アクセス|エラー",  # ja
        r"로그인|로그|접속|오류|에러",  # ko
        r"đăng nhập",  # vi
        r"เข้าสู่ระบบ|ล็อกอิน|ล็อคอิน",  # th
        r"inicio de sesión|\bacceso|\bactividad|\berrores\b",  # es
        r"\bacesso|\batividade|\berros?\b",  # pt
        r"\bconnexion|\bactivité|\berreur",  # fr
        r"anmeldung|anmelde|zugriff|aktivität|fehler|protokoll",  # de
        r"\bвход(?!ящ)|авторизац|активност|ошибк",  # ru
        r"\bgiriş|\boturum|\bhata\b|\bhatası|\baktivite",  # tr
        r"\bmasuk\b|aktivitas|kesalahan|\bgalat|\beror\b",  # id
        r"دخول|نشاط|خطأ",  # ar
    )),
    "source_of_funds": "|".join((
        r"source of (?:funds?|wealth)|\bsof\b|\btax\b|income|资金|資金|收入",
        r"収入|所得|年収|(?<!先物)(?<!先物の)契約",  # ja, zh-Hant (a bare 契約 in a body is as often a futures contract)
        r"소득|자금|수입",  # ko
        r"thu nhập|nguồn tiền|nguồn vốn",  # vi
        r"รายได้|ภาษี",  # th ("ภาษีเงินได้" income tax is talked about more than attached)
        r"\bingresos\b|\brenta\b|\bimpuestos\b|(?:origen|procedencia) de (?:los )?fondos",  # es
        r"\brenda\b|\brendimentos?\b|\bimposto|origem d[oa]s? (?:fundos|recursos)",  # pt
        r"\brevenus?\b|\bimpôts?\b|(?:origine|provenance) des fonds",  # fr
        r"einkommen|steuer|mittelherkunft|herkunft der mittel",  # de
        r"доход|налог|(?:источник|происхождени)\w* средств",  # ru
        r"\bgelir|\bvergi|\bfon kayna",  # tr
        r"penghasilan|\bpajak|sumber dana|asal dana",  # id
        r"دخل|ضريب|مصدر (?:ال)?أموال",  # ar
    )),
    "statement": r"(?!x)x",
}
_SOF_CONTEXT = _compile("|".join((
    r"sources? of (?:the )?(?:funds?|wealth)|proof of (?:funds|income)|origin of (?:the )?funds|fund sources?"
    r"|资金来源|資金來源|收入来源|收入來源|资金证明|資金證明|财富来源|財富來源|来源证明|來源證明",
    r"資金源|資金の(?:出所|出どころ|由来|証明)|収入源|(?:収入|所得)証明",  # ja
    r"자금 ?(?:출처|원천|증빙)|소득 ?(?:증빙|증명)|수입원",  # ko
    r"nguồn (?:gốc )?(?:tiền|vốn|tài chính|thu nhập)|chứng minh (?:thu nhập|tài chính|nguồn)",  # vi
    r"ที่มาของ(?:เงิน|รายได้|ทรัพย์)|แหล่งเงินทุน|หลักฐาน(?:แสดง)?รายได้",  # th
    r"(?:origen|procedencia|fuente) de (?:los )?(?:fondos|ingresos|recursos)|justificación de (?:los )?fondos"
    r"|prueba de (?:ingresos|fondos)",  # es
    r"(?:origem|procedência|fonte) d[oa]s? (?:fundos|recursos|renda|dinheiro)|comprovação de (?:renda|origem)",  # pt
    r"(?:origine|provenance|source) des (?:fonds|revenus)|(?:justificatif|preuve)s? de (?:revenus|ressources|fonds)",  # fr
    r"mittelherkunft|herkunftsnachweis|herkunft (?:der|meiner|ihrer|des) (?:mittel|gelder|geldes|vermögens|einlagen)|vermögensherkunft"
    r"|einkommens ?nachweis",  # de
    r"(?:источник|происхождени)\w* (?:средств|денег|дохода|доходов|капитала)|подтверждени\w* (?:дохода|доходов)",  # ru
    r"\b(?:fon|fonlar|para|varlık|varlığ|gelir|servet)(?:ın|in|un|ün|nın|nin)? kayna[ğk]",  # tr
    r"sumber (?:dana|kekayaan|penghasilan)|asal(?: ?usul)? dana|bukti penghasilan",  # id
    r"(?:مصدر|مصادر) ?(?:ال)?(?:أموال|دخل|ثروة|مال)|إثبات ?(?:ال)?دخل",  # ar
)))
_CUE = _compile("|".join((
    r"\battach|\benclos|\bplease (?:find|see)\b|\bsee (?:the )?(?:attached|below|enclosed)|\bhere (?:is|are)\b"
    r"|\bupload|\binclud|\bfind\b|\bsending\b|\bscreenshots?\b|\bphotos?\b|\bpictures?\b|\bimages?\b|\bscans?\b"
    r"|\bscanned\b|\bcop(?:y|ies) of\b"
    r"|附件|附上|附檔|附档|附图|附圖|见附|見附|随附|隨附|截图|截圖|照片|图片|圖片|相片|扫描|掃描|上传|上傳"
    r"|如下|请查收|請查收|发送|發送|提供|请见|請見|请看|請看|检附|檢附|压缩包|壓縮檔|压缩档",
    r"添付|同封|スクショ|スクリーンショット|キャプチャ|写真|画像|お送り|送付|送信|アップロード",  # ja
    r"첨부|캡처|캡쳐|스크린샷|스샷|사진|이미지|파일|보내드|보냅니다|업로드|올립니다|올려",  # ko
    r"đính kèm|gửi kèm|kèm theo|ảnh chụp|hình chụp|chụp màn hình|hình ảnh|bức ảnh|tấm ảnh|tải lên|(?<!kính )\bgửi\b"
    r"|dưới đây|bên dưới",  # vi
    r"แนบ|ภาพหน้าจอ|แคป|รูป|ภาพ|ส่งมา|ส่งให้|อัปโหลด|อัพโหลด|ไฟล์|สกรีนช็อต|ดังนี้",  # th
    r"\badjunt|\banex|\benvío\b|\bmando\b|\bcaptura|\bfotos?\b|\bimagen|\bescane|\bsub[oí]\b|\baquí (?:est|tien|va)"
    r"|a continuación|\bcomparto",  # es
    r"\bsegue|\benvio\b|\benviando|\bprints?\b|\bimage[mn]|\bdigitaliz|\bcarreguei|\baqui est",  # pt
    r"ci[- ]?joint|pièces? jointes?|\bje (?:vous )?joins\b|vous trouverez|\benvoie|\bcaptures?\b|\bscann|\btélévers|\btéléchar",  # fr
    r"\banbei\b|\banhang|angeh(?:ä|ae)ngt|beigef(?:ü|ue)gt|beiliegend|anliegend|hochgeladen|\bsende\b|\bschicke|bildschirmfoto"
    r"|\bbild(?:er)?\b",  # de
    r"прилага|приклад|прикреп|в приложении|во вложении|вложени|отправляю|высылаю|скрин|снимок|фото|скан|загрузил",  # ru
    r"\bek(?:te|li|ledim|liyorum|lenmiş|tedir|teki|tekı)\b|ekran görünt|ekran resmi|fotoğraf|\bresim|gönderiyorum"
    r"|iletiyorum|yükledim|taranmış|paylaşıyorum|sunuyorum",  # tr
    r"lampir|\bberikut|tangkapan layar|\bgambar|\bkirim|\bunggah|\bpindai",  # id
    r"مرفق|أرفق|أرسل|صور|لقطة|لقطات|سكرين|مسح ضوئي|رفعت|أدناه",  # ar
)))
_NEGATION = _compile("|".join((
    r"\b(?:not|don'?t|doesn'?t|didn'?t|haven'?t|hasn'?t|can'?t|cannot|couldn'?t|won'?t|unable|without|never"
    r"|lost|missing|later|will send|forgot)\b|\bno\b(?!\.|\s*[:#]?\s*\d)"
    r"|没有|沒有|无法|無法|不能|没办法|沒辦法|丢失|丟失|遗失|遺失|丢了|丟了|稍后|稍後|之后再|之後再|以后再|以後再"
    r"|晚点|晚點|还没|還沒|尚未|未能|忘记|忘記|不在身边|不在身邊",
    # ja: "ませんか"/"ないでしょうか" are polite requests, not negations
    r"ません(?!か)|ない(?!でしょうか|ですか|か)|無い|紛失|なくし|無くし|失くし|後で|後ほど|あとで|まだ|忘れ",
    r"없|(?<!잘)못|않|(?<![가-힣])안 |아직|나중에|분실|잃어버|잊어|깜빡",  # ko ("잘못" is "wrong")
    r"\bkhông\b(?! ?ạ? ?\?)|\bchưa\b|\bchẳng\b|\b(?:bị|đã|làm) mất\b|thất lạc|\bquên\b|gửi sau|bổ sung sau",  # vi
    r"ไม่|หาย|ลืม|ทีหลัง|ภายหลัง",  # th
    r"\bsin\b|\bnunca\b|todavía no|aún no|más tarde|\bdespués\b|\bperd[ií]|\bextravi|\bolvid",  # es
    r"\bnão\b|\bnem\b|\bsem\b|ainda não|\bdepois\b|mais tarde|\bperdi\b|\besqueci",  # pt
    r"\bne\b|\bn'|\bpas\b|\bsans\b|\bjamais\b|\baucun|plus tard|\bperdu|\boubli",  # fr
    r"\bnicht\b|\bkein(?:e[mnrs]?)?\b|\bohne\b|\bnie\b|sp(?:ä|ae)ter|verloren|vergessen|nachreichen",  # de
    r"\bне\b|\bнет\b|\bбез\b|\bни\b|потерял|утерян|утрачен|позже|забыл",  # ru
    r"\byok\b|\bdeğil|daha sonra|\bsonra (?:gönder|ilet|ekle)|kaybet|kayboldu|\bkayıp|unuttum|henüz|olmadan"
    r"|\B(?:medim|madım|miyor|mıyor|muyor|müyor|meyece|mayaca)",  # tr (negative verb endings)
    r"\btidak\b|\btdk\b|\btak\b|\bbelum\b|\bblm\b|\bbukan\b|\btanpa\b|\bnanti\b|\bhilang\b|\blupa\b"
    r"|\b(?:gak|nggak|ngga|enggak|ga|gk)\b",  # id
    r"\b[وف]?(?:لا|لم|لن|ليس|ليست|مش|مو)\b|\bبدون\b|\bدون\b|فقدت|ضاع|ضايع|نسيت|لاحقا|ما عندي",  # ar
)))
_SENTENCES = re.compile(r"(?<=[.!?])\s+|[。！？；;؟؛\n]+")
_CLAUSES = _compile(
    r"[,，、:：،]|\bbut\b|\bhowever\b|但是|但|不过|不過"
    r"|\baber\b|\bpero\b|\bmais\b|\bmas\b(?! tarde)|\bно\b|\bama\b|\bfakat\b|\btapi\b|\btetapi\b|\bnamun\b|\bnhưng\b"
    r"|\b(?:و)?لكن|지만|けど|けれど|ですが|しかし|แต่"
    r"|ので|のに|から|는데|은데|니까|(?:어|아|해|돼|되어)서 "  # ja, ko "because", "so": a negation before stays there
    r"|(?<=[\u0e00-\u0e7f])\s+(?=[\u0e00-\u0e7f])"  # Thai separates clauses with spaces, not commas
)
_DECORATION_NAME = re.compile(r"^(?:image|img)\d{3}\.|^outlook-|logo|signature|banner|签名|簽名", re.I)
# Names of pictures a person took or captured on purpose: never decoration.
_CAPTURE_NAME = _compile(
    r"screen ?shot|screen ?cap|capture|bildschirmfoto|captura|снимок|скриншот|스크린샷|スクリーンショット"
    r"|截图|截圖|截屏|屏幕快照|螢幕擷取|螢幕快照|擷取|^img_\d{4}|^dsc_?\d|^pxl_\d|^photo|^scan|照片|相片"
    r"|スクショ|캡처|캡쳐|ảnh chụp màn hình|ภาพหน้าจอ|ekran resmi|ekran görüntüsü|tangkapan layar|لقطة شاشة|لقطة الشاشة"
    r"|schermafbeelding|skrin|скрин"
)

_KIND_RE = {k: _compile(v) for k, v in _STRICT.items()}
_NAME_RE = {k: _compile(f"{v}|{_NAME_ONLY[k]}") for k, v in _STRICT.items()}


def _danger(att: Attachment, limits: Limits) -> str | None:
    """The `dangerous:` reason for one attachment, or None."""
    what = filetypes.danger(att.filename, att.payload, limits)
    return f"{DANGEROUS} {what}" if what else None



def is_dangerous(report: EvidenceReport) -> bool:
    """True when any rejection must quarantine the message (`dangerous:` prefix; `too large:` does not)."""
    return any(r.reason.startswith(DANGEROUS) for r in report.rejected)


# --- evidence -------------------------------------------------------------


def _format(name: str, label: str) -> str | None:
    """Evidence format of an attachment: image/pdf/xlsx by bytes, csv/txt/log by extension among text."""
    if label in IMAGE_LABELS:
        return "image"
    if label in ("pdf", "xlsx"):
        return label
    if label == "text":
        exts = extensions(name)
        return _TEXT_EXTENSIONS.get(exts[-1]) if exts else None
    return None


def _not_evidence_image(att: Attachment, name: str) -> str | None:
    """Why an image that names nothing is not evidence (decoration or too small), or None (module docstring)."""
    if _CAPTURE_NAME.search(name):
        return None
    size = len(att.payload)
    if size < TINY_IMAGE_BYTES:
        return "image too small to show a document, not evidence"
    if size <= DECORATION_MAX_BYTES and (att.referenced or _DECORATION_NAME.search(name)):
        return "inline/signature image, not evidence"
    return None


def _words(text: str) -> str:
    """Name or sentence as lower-case words: separators become spaces so \\b works on "login_history"."""
    return re.sub(r"[\s_\-+.()\[\]{}]+", " ", text).strip()


def _resolve(found: Iterable[str], sof_context: bool) -> list[str]:
    """Turn the "statement" pseudo-kind into transactions or source_of_funds (module docstring)."""
    kinds = set(found)
    if "statement" in kinds:
        kinds.discard("statement")
        kinds.add("source_of_funds" if sof_context or "source_of_funds" in kinds else "transactions")
    return [k for k in EVIDENCE_KINDS if k in kinds]


def _name_kinds(name: str, fmt: str) -> list[str]:
    """Raw kinds (with the "statement" pseudo-kind) named by a file name; a .log file is an activity log."""
    exts = extensions(name)
    stem = _words(name.rsplit(".", 1)[0] if exts else name)
    found = [k for k, rx in _NAME_RE.items() if rx.search(stem)]
    if fmt == "log":
        found.append("activity_log")
    return found


def _body_mentions(body: str) -> dict[str, str]:
    """Kinds named in sentences that refer to an attachment, outside negated clauses: kind -> words used."""
    found: dict[str, str] = {}
    for sentence in _SENTENCES.split(body):
        if not _CUE.search(sentence):
            continue
        for clause in _CLAUSES.split(sentence):
            if not clause or _NEGATION.search(clause):
                continue
            words = _words(clause)
            for kind, rx in _KIND_RE.items():
                m = rx.search(words)
                if m and kind not in found:
                    found[kind] = m.group(0)
    return found


@dataclass
class _Tally:
    """What the files of one message showed so far."""

    present: set[str] = field(default_factory=set)
    rejected: list[Rejection] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    unexplained: list[tuple[str, str]] = field(default_factory=list)  # (shown name, format) whose names say nothing
    statements: bool = False


def assess(attachments: Sequence[Attachment], body_text: str, limits: Limits) -> EvidenceReport:
    """Which evidence kinds the attachments carry, and which attachments are rejected (SPEC 4)."""
    body = _fold(unicodedata.normalize("NFKC", body_text or "")[: limits.max_text_chars].lower())
    sof_context = bool(_SOF_CONTEXT.search(body))
    tally = _Tally()
    for att in attachments:
        _attachment(att, limits, sof_context, tally)
    if tally.unexplained:
        _from_body(body, sof_context, tally)
    if sof_context and tally.statements:
        tally.reasons.append("statements counted as source_of_funds: the mail talks about source of funds")
    return EvidenceReport(
        present=tuple(k for k in EVIDENCE_KINDS if k in tally.present),
        rejected=tuple(tally.rejected),
        reasons=tuple(tally.reasons),
    )


def _attachment(att: Attachment, limits: Limits, sof_context: bool, tally: _Tally) -> None:
    """Reject a dangerous or oversized attachment, else count it (or the files inside it)."""
    shown = att.filename or "(unnamed)"
    danger = _danger(att, limits)
    if danger:
        tally.rejected.append(Rejection(att.filename, danger))
        return
    if len(att.payload) > limits.max_attachment_bytes:
        size, limit = _mib(len(att.payload)), _mib(limits.max_attachment_bytes)
        tally.rejected.append(Rejection(att.filename, f"{TOO_LARGE} {size} is over the {limit} per-attachment limit"))
        return
    label = sniff(att.payload)
    if label in CONTAINER_LABELS:
        inside = filetypes.members(att.filename, att.payload, limits)
        tally.reasons.append(f"{shown}: {label} with {len(inside)} file(s), each counted")
        for member in inside:
            _file(f"{shown}/{member.path}", member.path, member.label, None, sof_context, tally)
        return
    _file(shown, att.filename, label, att, sof_context, tally)


def _file(shown: str, filename: str, label: str, att: Attachment | None, sof_context: bool, tally: _Tally) -> None:
    """Count one safe file: kinds from its name, or kept for the body to explain; `att` None inside a container."""
    name = _fold(clean_name(filename)[0])
    fmt = _format(name, label)
    if fmt is None:
        tally.reasons.append(f"{shown}: {label} is not an evidence file type")
        return
    found = _name_kinds(name, fmt)
    kinds = [k for k in _resolve(found, sof_context) if fmt in ACCEPTS[k]]
    if kinds:
        tally.statements = tally.statements or "statement" in found
        tally.present.update(kinds)
        tally.reasons.append(f"{shown}: {', '.join(kinds)} from the file name ({label})")
        return
    why = _not_evidence_image(att, name) if att is not None and fmt == "image" else None
    if why:
        tally.reasons.append(f"{shown}: {why}")
        return
    tally.unexplained.append((shown, fmt))


def _from_body(body: str, sof_context: bool, tally: _Tally) -> None:
    """Kinds the body names for files whose names say nothing."""
    mentions = _body_mentions(body)
    for kind in _resolve(mentions, sof_context):
        source = mentions.get(kind) or mentions.get("statement", "")
        files = [n for n, fmt in tally.unexplained if fmt in ACCEPTS[kind]]
        if files and kind not in tally.present:
            tally.present.add(kind)
            tally.statements = tally.statements or (kind == "source_of_funds" and "statement" in mentions)
            tally.reasons.append(f"{kind} from the body ('{source}') for {', '.join(files)}")


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"

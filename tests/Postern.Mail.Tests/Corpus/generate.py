#!/usr/bin/env python3
"""Deterministic generator of the varied part of the test corpus (Corpus/generated/*.eml).

Run from anywhere:  python3 generate.py   (any Python 3; uses only the standard library, seed fixed)
It writes messages byte by byte (not with the email package) so the corpus contains the
forms mailers really produce, including legacy charsets, folding, RFC 2231 and RFC 2047.
"""
import base64, os, quopri, random

rnd = random.Random(5322)
here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "generated")
os.makedirs(out, exist_ok=True)
for f in os.listdir(out):
    if f.endswith(".eml"):
        os.remove(os.path.join(out, f))

WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore".split()
UNICODE = ["Grüße aus München", "Привет, мир", "日本語のテキスト", "café crème", "Ελληνικά γράμματα", "emoji 🎉 party", "naïve façade", "Zürich über alles"]
CHARSETS = ["utf-8", "iso-8859-1", "iso-8859-15", "windows-1252", "koi8-r", "iso-8859-5", "shift_jis", "euc-jp", "gb2312", "big5", "iso-2022-jp", "windows-1251", "utf-8"]

def can(text, cs):
    # EUC-JP is chosen only for Japanese text: its JIS X 0212 row (accented Latin) is
    # not decodable by .NET's code page 51932; nasty/euc-jp-jisx0212.eml covers that case.
    if cs == "euc-jp" and not any(0x3040 <= ord(c) <= 0x9fff for c in text):
        return False
    # Kana are only in Big5's ETEN extension (rows C6-C7), which .NET's code page 950 lacks.
    if cs == "big5" and any(0x3040 <= ord(c) <= 0x30ff for c in text):
        return False
    try:
        text.encode(cs)
        return True
    except (UnicodeEncodeError, LookupError):
        return False

def pick_text():
    return rnd.choice(UNICODE) if rnd.random() < 0.5 else " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 8)))

def enc_word(text, cs=None):
    cs = cs or rnd.choice([c for c in CHARSETS if can(text, c)] or ["utf-8"])
    if not can(text, cs):
        cs = "utf-8"
    data = text.encode(cs)
    if rnd.random() < 0.5:
        return "=?%s?B?%s?=" % (cs, base64.b64encode(data).decode())
    q = "".join(chr(b) if (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122) else ("_" if b == 32 else "=%02X" % b) for b in data)
    return "=?%s?Q?%s?=" % (cs, q)

def subject_header():
    t = pick_text()
    r = rnd.random()
    if r < 0.3 or all(ord(c) < 128 for c in t):
        if all(ord(c) < 128 for c in t):
            s = t
        else:
            s = enc_word(t)
    elif r < 0.5:
        # RFC 6532: raw UTF-8 in the header
        return b"Subject: " + ("Re: " + t).encode("utf-8")
    elif r < 0.75:
        # two adjacent encoded words: the space between them disappears (RFC 2047 §6.2)
        half = len(t) // 2
        s = "Re: " + enc_word(t[:half], "utf-8") + " " + enc_word(t[half:], "utf-8")
    else:
        s = "Fwd: " + enc_word(t) + " (fwd)"
    if len(s) > 60 and rnd.random() < 0.5:
        # fold at a space
        i = s.rfind(" ", 0, 50)
        if i > 0:
            s = s[:i] + "\r\n\t" + s[i + 1:]
    return b"Subject: " + s.encode("ascii", "replace")

NAMES = ["Alice Example", "Bob O'Neil", "Müller, Jürgen", "José Ñúñez", "李雷", "Dr. Who", "Smith, John Q.", "Zoë"]
DOMAINS = ["example.com", "example.org", "Mail.Example.NET", "bücher.example", "xn--bcher-kva.example", "sub.domain.example"]
LOCALS = ["alice", "bob.smith", "first+tag", "o'brien", "\"john doe\"", "user_1", "Mixed.Case"]

def address():
    name = rnd.choice(NAMES)
    local = rnd.choice(LOCALS)
    dom = rnd.choice(DOMAINS)
    addr = "%s@%s" % (local, dom)
    r = rnd.random()
    if r < 0.15:
        return addr
    if r < 0.25:
        return "<%s>" % addr
    if r < 0.35:
        return "%s (%s)" % (addr, "comment")
    if all(ord(c) < 128 for c in name):
        if any(c in name for c in ",.'"):
            return "\"%s\" <%s>" % (name, addr)
        return "%s <%s>" % (name, addr)
    if r < 0.6:
        return "%s <%s>" % (enc_word(name, "utf-8"), addr)
    return "\"%s\" <%s>" % (name, addr)

def from_header():
    return b"From: " + address().encode("utf-8")

def to_header():
    n = rnd.randint(1, 4)
    if rnd.random() < 0.1:
        return b"To: undisclosed-recipients:;"
    if rnd.random() < 0.1:
        return ("To: Team: %s, %s;" % (address(), address())).encode("utf-8")
    return ("To: " + ",\r\n  ".join(address() for _ in range(n))).encode("utf-8")

def filename_params(name):
    r = rnd.random()
    if all(ord(c) < 128 for c in name) and r < 0.4:
        return '; filename="%s"' % name, '; name="%s"' % name
    if r < 0.6:
        v = "".join(chr(b) if (b < 128 and chr(b).isalnum()) or chr(b) in ".-_" else "%%%02X" % b for b in name.encode("utf-8"))
        return "; filename*=utf-8''%s" % v, ""
    if r < 0.8:
        v = "".join(chr(b) if (b < 128 and chr(b).isalnum()) or chr(b) in ".-_" else "%%%02X" % b for b in name.encode("utf-8"))
        mid = len(v) // 2
        while "%" in v[max(0, mid - 2):mid]:
            mid += 1
        return ";\r\n filename*0*=utf-8''%s;\r\n filename*1*=%s" % (v[:mid], v[mid:]), ""
    return '; filename="%s"' % enc_word(name, "utf-8"), ""

FILENAMES = ["report.pdf", "Übersicht 2024.xlsx", "фото.jpg", "notes.txt", "résumé final.docx", "data (1).csv", "日本.zip"]

def body_text(cs):
    lines = []
    for _ in range(rnd.randint(1, 12)):
        t = pick_text()
        if not can(t, cs):
            t = " ".join(rnd.choice(WORDS) for _ in range(5))
        lines.append(t)
    return "\n".join(lines) + "\n"

def text_part(subtype="plain", headers_only_ct=False):
    cs = rnd.choice(CHARSETS)
    text = body_text(cs)
    if subtype == "html":
        text = "<html><body><p>" + text.replace("\n", "<br>\n") + "</p></body></html>\n"
    data = text.encode(cs)
    cte = rnd.choice(["7bit", "8bit", "base64", "quoted-printable", None]) if any(b > 127 for b in data) else rnd.choice(["7bit", None, "quoted-printable"])
    if cte in ("7bit", None) and any(b > 127 for b in data):
        cte = "8bit"
    ct = "Content-Type: text/%s; charset=%s" % (subtype, rnd.choice([cs, '"%s"' % cs, cs.upper()]))
    hdrs = [ct.encode()]
    if cte:
        hdrs.append(("Content-Transfer-Encoding: " + cte).encode())
    body = encode_body(data.replace(b"\n", b"\r\n"), cte)
    return hdrs, body

def encode_body(data, cte):
    if cte == "base64":
        b = base64.encodebytes(data).replace(b"\n", b"\r\n")
        return b
    if cte == "quoted-printable":
        return quopri.encodestring(data.replace(b"\r\n", b"\n")).replace(b"\n", b"\r\n")
    return data

def attachment_part():
    name = rnd.choice(FILENAMES)
    fn, nm = filename_params(name)
    kind = rnd.choice(["application/pdf", "image/jpeg", "application/octet-stream", "application/vnd.ms-excel", "text/csv"])
    data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(10, 600)))
    hdrs = [("Content-Type: %s%s" % (kind, nm)).encode("utf-8"),
            b"Content-Transfer-Encoding: base64",
            ("Content-Disposition: %s%s" % (rnd.choice(["attachment", "inline", "ATTACHMENT"]), fn)).encode("utf-8")]
    if rnd.random() < 0.3:
        hdrs.append(b"Content-ID: <part%d@example.com>" % rnd.randint(1, 99999))
    if rnd.random() < 0.2:
        hdrs.append(b"Content-Description: " + enc_word(name).encode())
    return hdrs, encode_body(data, "base64")

def boundary():
    return rnd.choice(["----=_Part_%d_%d" % (rnd.randint(1, 99999), rnd.randint(1, 99999)), "b%d" % rnd.randint(1, 10**9), "=_boundary with spaces %d" % rnd.randint(1, 999), "00000000000%dabc" % rnd.randint(1000, 9999)])

def multipart(depth):
    sub = rnd.choice(["mixed", "alternative", "related", "mixed", "signed"])
    b = boundary()
    quoted = '"%s"' % b if (" " in b or "=" in b or rnd.random() < 0.5) else b
    hdrs = [("Content-Type: multipart/%s;\r\n\tboundary=%s" % (sub, quoted)).encode()]
    parts = []
    n = rnd.randint(1, 4)
    for i in range(n):
        parts.append(make_part(depth + 1, in_alternative=(sub == "alternative"), index=i))
    body = b""
    if rnd.random() < 0.3:
        body += b"This is a multi-part message in MIME format.\r\n"
    for ph, pb in parts:
        body += b"--" + b.encode() + b"\r\n" + b"\r\n".join(ph) + b"\r\n\r\n" + pb
        if not pb.endswith(b"\r\n"):
            body += b"\r\n"
    body += b"--" + b.encode() + b"--\r\n"
    if rnd.random() < 0.2:
        body += b"epilogue text\r\n"
    return hdrs, body

def embedded_message(depth):
    hdrs, body = message_bytes(depth + 1)
    return [b"Content-Type: message/rfc822", b"Content-Disposition: inline"], b"\r\n".join(hdrs) + b"\r\n\r\n" + body

def make_part(depth, in_alternative=False, index=0):
    if in_alternative:
        return text_part("plain" if index == 0 else "html")
    r = rnd.random()
    if depth < 4 and r < 0.15:
        return multipart(depth)
    if depth < 3 and r < 0.22:
        return embedded_message(depth)
    if r < 0.55:
        return text_part(rnd.choice(["plain", "plain", "html"]))
    return attachment_part()

def message_bytes(depth=0):
    hdrs = [from_header(), to_header(), subject_header(),
            b"Date: " + rnd.choice([b"Mon, 3 Jun 2024 10:11:12 +0200", b"3 Jun 24 10:11 EST", b"Tue, 01 Jan 2019 00:00:00 GMT"]),
            b"Message-ID: <%d.%d@example.com>" % (rnd.randint(1, 10**9), depth)]
    if rnd.random() < 0.3:
        hdrs.append(b"Cc: " + address().encode("utf-8"))
    if rnd.random() < 0.2:
        hdrs.append(b"In-Reply-To: <parent%d@example.com>" % rnd.randint(1, 999))
    hdrs.append(b"MIME-Version: 1.0")
    if depth < 4 and rnd.random() < 0.7:
        ph, pb = multipart(depth)
    else:
        ph, pb = text_part(rnd.choice(["plain", "html"]))
    return hdrs + ph, pb

for i in range(220):
    hdrs, body = message_bytes()
    data = b"\r\n".join(hdrs) + b"\r\n\r\n" + body
    if i % 17 == 5:
        data = data.replace(b"\r\n", b"\n")  # bare LF files, as found in mbox exports
    with open(os.path.join(out, "gen%03d.eml" % i), "wb") as f:
        f.write(data)
print("wrote 220 messages to", out)

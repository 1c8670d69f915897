#!/usr/bin/python3
"""Deterministic mbox generator for the import benchmark.

Writes COUNT messages (default 100,000) averaging about 10 KB, in the mboxrd variant, with
the variety real mailboxes have: plain text, quoted-printable, multipart/alternative
(text + HTML), multipart/mixed with base64 attachments, encoded-word subjects, replies
with In-Reply-To/References, body lines starting with "From " (quoted as ">From "), and
flag headers (Status/X-Status/X-Keywords). The same seed always gives the same bytes.

usage: gen-mbox.py OUT.mbox [COUNT] [SEED] [SIZE_FACTOR]   (SIZE_FACTOR 0.1 gives ~1 KB messages)
       gen-mbox.py --huge OUT.mbox SIZE_MB      one message with a SIZE_MB attachment
"""
import base64
import random
import sys

WORDS = ("the of and to in is that for it as was with be by on not he this are or his from at "
         "which but have an they you were her she there been one all we their has would when if "
         "so no more what up out into can time only new some could these two may then do first any "
         "my now such like our over man me even most made after also did many before must through "
         "mail server message queue delivery inbox archive folder account backup invoice meeting "
         "report draft project release schedule budget review question answer").split()
NAMES = ["Alice Martin", "Bob Dupont", "Chloé Bernard", "David Müller", "Eve Smith", "Frank O'Neil",
         "Grace Hopper", "Heinz Schäfer", "Inès Laurent", "José García", "Kim Lee", "Léa Petit"]
DOMAINS = ["example.org", "example.com", "mail.example.net", "lists.example.org"]


def words(rnd, n):
    return " ".join(rnd.choice(WORDS) for _ in range(n))


def paragraph(rnd, approx_bytes):
    lines, size = [], 0
    while size < approx_bytes:
        line = words(rnd, rnd.randint(8, 13))
        if rnd.random() < 0.01:
            line = "From " + line  # must be quoted in the mbox
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)


def address(rnd):
    name = rnd.choice(NAMES)
    local = name.split()[0].lower().encode("ascii", "ignore").decode() or "user"
    return name, f"{local}{rnd.randint(1, 50)}@{rnd.choice(DOMAINS)}"


def encoded_word(text):
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


def qp(text):
    out = []
    for line in text.split("\n"):
        # RFC 2045 §6.7: printable ASCII and inner spaces literal, the rest as =XX of the UTF-8 bytes.
        enc = "".join(c if 32 <= ord(c) < 127 and c != "=" else "".join("=%02X" % b for b in c.encode()) for c in line)
        if enc.endswith(" "):
            enc = enc[:-1] + "=20"
        while len(enc) > 75:
            out.append(enc[:75] + "=")
            enc = enc[75:]
        out.append(enc)
    return "\n".join(out)


def b64_lines(data):
    enc = base64.b64encode(data).decode()
    return "\n".join(enc[i:i + 76] for i in range(0, len(enc), 76))


def message(rnd, i, size_factor=1.0):
    fname, faddr = address(rnd)
    tname, taddr = address(rnd)
    subject = words(rnd, rnd.randint(3, 8)).capitalize()
    if rnd.random() < 0.2:
        subject = encoded_word(subject + " — café")
    if rnd.random() < 0.3:
        subject = "Re: " + subject
    day = 1 + i % 28
    headers = [
        f"Return-Path: <{faddr}>",
        f"Received: from mx.{rnd.choice(DOMAINS)} (mx [192.0.2.{i % 250 + 1}]) by mail.example.org with ESMTPS id {i:08x}; Mon, {day} Jan 2024 10:{i % 60:02d}:00 +0000",
        f"From: {encoded_word(fname) if not fname.isascii() else fname} <{faddr}>",
        f"To: {tname if tname.isascii() else encoded_word(tname)} <{taddr}>",
        f"Subject: {subject}",
        f"Date: Mon, {day} Jan 2024 10:{i % 60:02d}:{i % 60:02d} +0000",
        f"Message-ID: <{i}.{rnd.randint(0, 10**9)}@{rnd.choice(DOMAINS)}>",
        "MIME-Version: 1.0",
    ]
    if i > 0 and rnd.random() < 0.3:
        ref = f"<{rnd.randint(0, i - 1)}.0@example.org>"
        headers += [f"In-Reply-To: {ref}", f"References: {ref}"]
    r = rnd.random()
    if r < 0.1:
        headers.append("Status: RO")
    elif r < 0.15:
        headers += ["Status: RO", "X-Status: AF", "X-Keywords: $Label1 work"]
    # Sizes: mostly a few KB, some bigger, averaging about 10 KB.
    size = int(rnd.lognormvariate(8.9, 0.8) * size_factor)
    kind = rnd.random()
    if kind < 0.45:
        headers.append("Content-Type: text/plain; charset=us-ascii")
        body = paragraph(rnd, size)
    elif kind < 0.6:
        headers += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable"]
        body = qp(paragraph(rnd, size) + "\nÀ bientôt, Chloé")
    elif kind < 0.85:
        b = f"alt-{i}"
        headers.append(f'Content-Type: multipart/alternative; boundary="{b}"')
        text = paragraph(rnd, size // 3)
        html = "<html><body>" + "".join(f"<p>{line}</p>\n" for line in text.split("\n")) + "</body></html>"
        body = (f"This is a multi-part message in MIME format.\n--{b}\nContent-Type: text/plain; charset=us-ascii\n\n{text}\n"
                f"--{b}\nContent-Type: text/html; charset=us-ascii\n\n{html}\n--{b}--\n")
    else:
        b = f"mix-{i}"
        headers.append(f'Content-Type: multipart/mixed; boundary="{b}"')
        text = paragraph(rnd, 600)
        attachment = rnd.randbytes(max(size - 1000, 200) * 3 // 4)
        body = (f"--{b}\nContent-Type: text/plain; charset=us-ascii\n\n{text}\n"
                f"--{b}\nContent-Type: application/pdf; name=\"report-{i}.pdf\"\nContent-Disposition: attachment; filename=\"report-{i}.pdf\"\n"
                f"Content-Transfer-Encoding: base64\n\n{b64_lines(attachment)}\n--{b}--\n")
    return "\n".join(headers) + "\n\n" + body


def quote(text):
    # mboxrd (RFC 4155 variant): one more '>' on every line matching ^>*From
    out = []
    for line in text.split("\n"):
        if line.lstrip(">").startswith("From "):
            line = ">" + line
        out.append(line)
    return "\n".join(out)


def main():
    args = sys.argv[1:]
    if args and args[0] == "--huge":
        out, size_mb = args[1], int(args[2])
        with open(out, "w", encoding="utf-8", newline="\n") as f:
            f.write("From huge@example.org Mon Jan  1 00:00:00 2024\nFrom: huge@example.org\nSubject: one huge message\n"
                    "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nSee the attachment.\n"
                    "--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n")
            rnd = random.Random(5)
            chunk = b64_lines(rnd.randbytes(57 * 1000)) + "\n"
            for _ in range(size_mb * 1024 * 1024 // len(chunk)):
                f.write(chunk)
            f.write("--b--\n\n")
        return
    out = args[0]
    count = int(args[1]) if len(args) > 1 else 100_000
    seed = int(args[2]) if len(args) > 2 else 1
    size_factor = float(args[3]) if len(args) > 3 else 1.0
    rnd = random.Random(seed)
    total = 0
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        for i in range(count):
            m = message(rnd, i, size_factor)
            total += len(m.encode())
            f.write(f"From {address(rnd)[1]} Mon Jan {1 + i % 28:2d} 10:{i % 60:02d}:00 2024\n")
            f.write(quote(m))
            f.write("\n\n")
    print(f"\n{out}: {count} messages, {total / count / 1024:.1f} KB average", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Python smtplib against Postern's SMTP server; delivered messages are read back with imaplib.

usage: smtplib_suite.py MX_PORT SUBMISSION_PORT SUBMISSIONS_PORT IMAP_PORT USER PASSWORD RCPT
Prints "ok NAME" per check; exits non-zero at the first failure.
"""
import imaplib
import smtplib
import ssl
import sys
from email.message import EmailMessage

mx, sub, subs, imap_port = (int(x) for x in sys.argv[1:5])
user, password, rcpt = sys.argv[5:8]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
subjects = []


def message(subject, frm="sender@remote.example", body="hello\n"):
    m = EmailMessage()
    m["From"] = frm
    m["To"] = rcpt
    m["Subject"] = subject
    m.set_content(body)
    subjects.append(subject)
    return m


def check(name, cond):
    if not cond:
        print("FAIL " + name)
        sys.exit(1)
    print("ok " + name)


# Plain SMTP on the MX port.
with smtplib.SMTP("127.0.0.1", mx) as s:
    code, _ = s.ehlo("client.example")
    check("ehlo", code == 250 and s.has_extn("pipelining") and s.has_extn("chunking"))
    refused = s.send_message(message("plain smtp"))
    check("plain", refused == {})
    try:
        s.sendmail("a@remote.example", ["x@not-local.example"], "Subject: relay\r\n\r\nx\r\n")
        check("relay refused", False)
    except smtplib.SMTPRecipientsRefused as e:
        check("relay refused", list(e.recipients.values())[0][0] == 550)

# STARTTLS on the MX port.
with smtplib.SMTP("127.0.0.1", mx) as s:
    s.starttls(context=ctx)
    s.ehlo("client.example")
    check("starttls", s.send_message(message("starttls smtp")) == {})

# SMTPUTF8: UTF-8 sender and header.
with smtplib.SMTP("127.0.0.1", mx) as s:
    s.ehlo("client.example")
    check("smtputf8 advertised", s.has_extn("smtputf8"))
    m = message("ünïcödé subject", frm="jösé@bücher.example")
    # send_message adds SMTPUTF8 (and BODY=8BITMIME) itself for international addresses.
    check("smtputf8", s.send_message(m) == {})

# AUTH on submission (STARTTLS), each mechanism smtplib has.
for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
    with smtplib.SMTP("127.0.0.1", sub) as s:
        s.starttls(context=ctx)
        s.ehlo("client.example")
        s.user, s.password = user, password
        code, _ = s.auth(mech, getattr(s, "auth_" + mech.lower().replace("-", "_")))
        check("auth " + mech, code == 235)
        check("submit " + mech, s.send_message(message("submitted " + mech, frm=user)) == {})

# Submission over implicit TLS, and a wrong password.
with smtplib.SMTP_SSL("127.0.0.1", subs, context=ctx) as s:
    s.login(user, password)
    check("smtps", s.send_message(message("implicit tls", frm=user)) == {})
with smtplib.SMTP_SSL("127.0.0.1", subs, context=ctx) as s:
    try:
        s.login(user, "wrong")
        check("bad password refused", False)
    except smtplib.SMTPAuthenticationError as e:
        check("bad password refused", e.smtp_code == 535)

# Read everything back over IMAP.
with imaplib.IMAP4("127.0.0.1", imap_port) as i:
    i.login(user, password)
    i.enable("UTF8=ACCEPT")
    typ, data = i.select("INBOX")
    check("imap select", typ == "OK")
    typ, data = i.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    got = b"".join(p[1] for p in data if isinstance(p, tuple)).decode("utf-8")
    for subject in subjects:
        check("read back: " + subject, subject in got)
print("smtplib suite passed")

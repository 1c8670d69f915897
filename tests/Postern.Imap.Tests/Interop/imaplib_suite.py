#!/usr/bin/python3
"""Python imaplib against `postern localserve`: usage imaplib_suite.py IMAPS_PORT IMAP_PORT.
Prints one line per check and exits non-zero on the first failure."""
import imaplib
import socket
import ssl
import sys
import time

imaps_port, imap_port = int(sys.argv[1]), int(sys.argv[2])
USER, PASSWORD = "postern@localhost", "postern"

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def ok(result, what):
    typ, data = result
    if typ != "OK":
        raise SystemExit(f"FAIL {what}: {typ} {data}")
    print(f"ok {what}")
    return data


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAIL {what}")
    print(f"ok {what}")


MESSAGE = (b"From: Alice <alice@example.com>\r\n"
           b"To: Bob <bob@example.com>\r\n"
           b"Subject: Quarterly report\r\n"
           b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
           b"Message-ID: <report@example.com>\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=XYZ\r\n"
           b"\r\n"
           b"--XYZ\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n"
           b"\r\n"
           b"The numbers look good.\r\n"
           b"--XYZ\r\n"
           b"Content-Type: application/pdf; name=report.pdf\r\n"
           b"Content-Disposition: attachment; filename=report.pdf\r\n"
           b"Content-Transfer-Encoding: base64\r\n"
           b"\r\n"
           b"JVBERi0xLjQK\r\n"
           b"--XYZ--\r\n")

# Login over implicit TLS.
M = imaplib.IMAP4_SSL("127.0.0.1", imaps_port, ssl_context=ctx)
ok(M.login(USER, PASSWORD), "login over TLS")
caps = ok(M.capability(), "capability")[0].split()
check(b"IDLE" in caps and b"MOVE" in caps, "capabilities after login")

# STARTTLS on the plain port.
P = imaplib.IMAP4("127.0.0.1", imap_port)
ok(P.starttls(ssl_context=ctx), "starttls")
ok(P.login(USER, PASSWORD), "login after STARTTLS")
P.logout()

data = ok(M.list(), "list")
names = [line.decode() for line in data]
check(any('"INBOX"' in n for n in names) and any("\\Sent" in n for n in names), "list shows INBOX and special-use Sent")

ok(M.create("Reports"), "create")
ok(M.append("INBOX", "(\\Flagged)", imaplib.Time2Internaldate(time.time()), MESSAGE), "append")
data = ok(M.select("INBOX"), "select")
check(data[0] == b"1", "select reports 1 message")

data = ok(M.fetch("1", "(FLAGS ENVELOPE BODYSTRUCTURE RFC822.SIZE)"), "fetch envelope/bodystructure")
meta = data[0].decode() if isinstance(data[0], bytes) else data[0][0].decode()
check('"Quarterly report"' in meta and '("Alice" NIL "alice" "example.com")' in meta, "envelope has subject and from")
check('("TEXT" "PLAIN" ("CHARSET" "utf-8")' in meta and '"MIXED"' in meta, "bodystructure is multipart/mixed with text/plain")
check('("ATTACHMENT" ("FILENAME" "report.pdf"))' in meta, "bodystructure has the attachment disposition")
check(f"RFC822.SIZE {len(MESSAGE)}" in meta, "rfc822.size is exact")

data = ok(M.fetch("1", "(BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[HEADER.FIELDS (SUBJECT)])"), "fetch body parts")
check(data[0][1] == b"The numbers look good.", "part 1 text")
check(b"Content-Disposition: attachment" in data[1][1], "part 2 MIME header")
check(data[2][1] == b"Subject: Quarterly report\r\n\r\n", "header fields")
data = ok(M.fetch("1", "(BODY.PEEK[])"), "fetch whole message")
check(data[0][1] == MESSAGE, "BODY[] is byte-identical to the appended message")

data = ok(M.search(None, "SUBJECT", "quarterly", "FLAGGED"), "search")
check(data[0] == b"1", "search finds the message")
data = ok(M.uid("SEARCH", "BODY", "numbers"), "uid search body")
check(data[0] == b"1", "body search finds the message")

data = ok(M.store("1", "+FLAGS", "(\\Seen)"), "store")
check(b"\\Seen" in data[0], "store reports \\Seen")

data = ok(M.copy("1", "Reports"), "copy")
ok(M.append("INBOX", None, None, b"Subject: second\r\n\r\nbody\r\n"), "append second")
ok(M.noop(), "noop")
typ, data = M._simple_command("MOVE", "2", "Reports")
check(typ == "OK", "move")
data = ok(M.status("Reports", "(MESSAGES)"), "status")
check(b"MESSAGES 2" in data[0], "Reports holds the copy and the moved message")

# IDLE: a second session appends; this one must see EXISTS.
tag = M._new_tag()
M.send(tag + b" IDLE\r\n")
check(M.readline().startswith(b"+"), "idle continuation")
other = imaplib.IMAP4_SSL("127.0.0.1", imaps_port, ssl_context=ctx)
other.login(USER, PASSWORD)
other.append("INBOX", None, None, b"Subject: during idle\r\n\r\nhi\r\n")
M.sock.settimeout(5)
line = M.readline()
check(line.strip().endswith(b"EXISTS"), f"idle sees new message ({line.strip().decode()})")
M.send(b"DONE\r\n")
while True:
    line = M.readline()
    if line.startswith(tag):
        check(b"OK" in line, "idle done")
        break
M.sock.settimeout(None)
other.logout()

ok(M.store("1", "+FLAGS", "(\\Deleted)"), "store deleted")
data = ok(M.expunge(), "expunge")
check(data[-1] == b"1", f"expunge reports message 1 ({data})")

data = ok(M.select("Reports", readonly=True), "examine")
check(data[0] == b"2", "examine sees 2 messages")
typ, data = M.store("1", "+FLAGS", "(\\Seen)")
check(typ == "NO", "store refused in examine")
check(M.logout()[0] == "BYE", "logout")
print("ALL OK")

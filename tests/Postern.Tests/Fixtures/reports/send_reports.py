#!/usr/bin/env python3
"""Sends report messages to a Postern MX with smtplib, as reporters do (IncomingReportTests):
the fixtures, a duplicate, hostile attachments built here (zip and gzip bombs, XXE, corrupt
archives) and a report to an address that is not a reporting address. The TLS report goes
last, so that when it is stored every earlier message has been processed.
Usage: send_reports.py PORT FIXTURE_DIR DOMAIN"""
import email.policy, gzip, io, os, smtplib, sys, zipfile
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

port, fixtures, domain = int(sys.argv[1]), sys.argv[2], sys.argv[3]
dmarc, tls, user = f"dmarc-reports@{domain}", f"tls-reports@{domain}", f"alice@{domain}"


def fixture(name):
    with open(f"{fixtures}/{name}", "rb") as f:
        return f.read()


def attachment_message(subject, to, subtype, payload, filename, report_type=None):
    m = MIMEMultipart("report" if report_type else "mixed")
    if report_type:
        m.set_param("report-type", report_type)
    m["From"] = "noreply@reporter.example"
    m["To"] = to
    m["Subject"] = subject
    m.attach(MIMEText("report attached", "plain"))
    a = MIMEApplication(payload, subtype, name=filename)
    a.add_header("Content-Disposition", "attachment", filename=filename)
    m.attach(a)
    return m.as_bytes(policy=email.policy.SMTP)  # CRLF line ends, as on the wire


def zeros_zip(size):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("bomb.xml", "w") as f:
            chunk = b"\0" * (1 << 20)
            for _ in range(size >> 20):
                f.write(chunk)
    return out.getvalue()


def zeros_gzip(size):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as f:
        chunk = b"\0" * (1 << 20)
        for _ in range(size >> 20):
            f.write(chunk)
    return out.getvalue()


xxe = b"""<?xml version="1.0"?>
<!DOCTYPE feedback [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<feedback><report_metadata><org_name>&xxe;</org_name></report_metadata></feedback>"""

messages = [
    ("noreply-dmarc-support@google.com", dmarc, fixture("google-dmarc-zip.eml")),
    ("dmarcreport@microsoft.com", dmarc, fixture("microsoft-dmarc-gzip.eml")),
    ("noreply-dmarc-support@google.com", dmarc, fixture("google-dmarc-zip.eml")),  # the same report again
    ("bomb@reporter.example", dmarc, attachment_message("zip bomb", dmarc, "zip", zeros_zip(64 << 20), "bomb.zip")),
    ("bomb@reporter.example", dmarc, attachment_message("gzip bomb", dmarc, "gzip", zeros_gzip(64 << 20), "bomb.xml.gz")),
    ("bomb@reporter.example", tls, attachment_message("tlsrpt bomb", tls, "tlsrpt+gzip", zeros_gzip(32 << 20), "bomb.json.gz", "tlsrpt")),
    ("xxe@reporter.example", dmarc, attachment_message("xxe", dmarc, "xml", xxe, "report.xml")),
    ("corrupt@reporter.example", dmarc, attachment_message("corrupt gzip", dmarc, "gzip", zeros_gzip(1 << 20)[:200], "cut.xml.gz")),
    ("noreply-dmarc-support@google.com", user, fixture("google-dmarc-zip.eml")),  # not a reporting address
    ("big@reporter.example", dmarc, attachment_message("too big", dmarc, "zip", os.urandom(13 << 20), "big.zip")),
    ("noreply-smtp-tls-reporting@google.com", tls, fixture("google-tlsrpt-gzip.eml")),
]
with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
    s.ehlo("reporter.example")
    for sender, rcpt, data in messages:
        s.sendmail(sender, [rcpt], data)  # raises unless every recipient got 250
        print("sent", rcpt, len(data))
print("done", len(messages))

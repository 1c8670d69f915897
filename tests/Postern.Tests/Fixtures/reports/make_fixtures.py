#!/usr/bin/env python3
"""Writes the report messages used by IncomingReportTests, shaped like those real reporters send:
Google's DMARC aggregate report (zip attachment), Microsoft's (gzip attachment, namespaced
<feedback>), and Google's TLS report (multipart/report; report-type=tlsrpt, application/tlsrpt+gzip).
Run once; the outputs are committed (gzip/zip timestamps are fixed, so reruns give the same bytes)."""
import gzip, io, zipfile
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate

BEGIN, END = 1795824000, 1795910399  # 2026-11-28 UTC

GOOGLE_XML = f"""<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata>
    <org_name>google.com</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>
    <report_id>13918441658917392281</report_id>
    <date_range>
      <begin>{BEGIN}</begin>
      <end>{END}</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>example.test</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>reject</p>
    <sp>reject</sp>
    <pct>100</pct>
    <np>reject</np>
  </policy_published>
  <record>
    <row>
      <source_ip>192.0.2.25</source_ip>
      <count>12</count>
      <policy_evaluated>
        <disposition>none</disposition>
        <dkim>pass</dkim>
        <spf>pass</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>example.test</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>example.test</domain>
        <result>pass</result>
        <selector>2026a</selector>
      </dkim>
      <spf>
        <domain>example.test</domain>
        <result>pass</result>
      </spf>
    </auth_results>
  </record>
  <record>
    <row>
      <source_ip>203.0.113.9</source_ip>
      <count>3</count>
      <policy_evaluated>
        <disposition>reject</disposition>
        <dkim>fail</dkim>
        <spf>fail</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>example.test</header_from>
    </identifiers>
    <auth_results>
      <spf>
        <domain>spoofer.example</domain>
        <result>softfail</result>
      </spf>
    </auth_results>
  </record>
</feedback>
"""

MICROSOFT_XML = f"""<?xml version="1.0"?>
<feedback xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <version>1.0</version>
  <report_metadata>
    <org_name>Enterprise Outlook</org_name>
    <email>dmarcreport@microsoft.com</email>
    <report_id>9b3f4c1e2d6a4f0b8e7d5c3a1b2f4e6d</report_id>
    <date_range>
      <begin>{BEGIN}</begin>
      <end>{END + 1}</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>example.test</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>reject</p>
    <sp>reject</sp>
    <pct>100</pct>
    <fo>0</fo>
  </policy_published>
  <record>
    <row>
      <source_ip>2001:db8::25</source_ip>
      <count>4</count>
      <policy_evaluated>
        <disposition>none</disposition>
        <dkim>pass</dkim>
        <spf>fail</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <envelope_to>contoso.example</envelope_to>
      <envelope_from>lists.example</envelope_from>
      <header_from>example.test</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>example.test</domain>
        <selector>2026r</selector>
        <result>pass</result>
      </dkim>
      <spf>
        <domain>lists.example</domain>
        <scope>mfrom</scope>
        <result>pass</result>
      </spf>
    </auth_results>
  </record>
  <record>
    <row>
      <source_ip>198.51.100.7</source_ip>
      <count>1</count>
      <policy_evaluated>
        <disposition>quarantine</disposition>
        <dkim>fail</dkim>
        <spf>fail</spf>
        <reason>
          <type>local_policy</type>
          <comment>quarantined by receiver</comment>
        </reason>
      </policy_evaluated>
    </row>
    <identifiers>
      <envelope_to>contoso.example</envelope_to>
      <envelope_from>example.test</envelope_from>
      <header_from>example.test</header_from>
    </identifiers>
    <auth_results>
      <spf>
        <domain>example.test</domain>
        <scope>mfrom</scope>
        <result>fail</result>
      </spf>
    </auth_results>
  </record>
</feedback>
"""

TLS_JSON = """{"organization-name":"Google Inc.","date-range":{"start-datetime":"2026-11-28T00:00:00Z","end-datetime":"2026-11-28T23:59:59Z"},"contact-info":"smtp-tls-reporting@google.com","report-id":"2026-11-28T00:00:00Z_example.test","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: enforce","mx: mail.example.test","max_age: 604800"],"policy-domain":"example.test","mx-host":["mail.example.test"]},"summary":{"total-successful-session-count":41,"total-failure-session-count":2},"failure-details":[{"result-type":"certificate-expired","sending-mta-ip":"209.85.220.41","receiving-mx-hostname":"mail.example.test","receiving-ip":"192.0.2.10","failed-session-count":2}]}]}"""


def gz(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as f:
        f.write(data)
    return out.getvalue()


def zipped(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo(name, date_time=(2026, 11, 29, 0, 0, 0)), data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def write(path, msg):
    with open(path, "wb") as f:
        f.write(msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def google_dmarc():
    name = f"google.com!example.test!{BEGIN}!{END}.zip"
    m = MIMEMultipart("mixed", boundary="000000000000a1b2c3d4e5f60718")
    m["Date"] = formatdate(END + 3600, usegmt=True)
    m["From"] = "noreply-dmarc-support@google.com"
    m["To"] = "dmarc-reports@example.test"
    m["Subject"] = "Report domain: example.test Submitter: google.com Report-ID: 13918441658917392281"
    m["Message-ID"] = "<13918441658917392281@google.com>"
    m.attach(MIMEText("", "plain", "utf-8"))
    a = MIMEApplication(zipped(name[:-4] + ".xml", GOOGLE_XML.encode()), "zip", name=name)
    a.add_header("Content-Disposition", "attachment", filename=name)
    m.attach(a)
    write("google-dmarc-zip.eml", m)


def microsoft_dmarc():
    name = f"enterprise.protection.outlook.com!example.test!{BEGIN}!{END + 1}.xml.gz"
    m = MIMEMultipart("mixed", boundary="_002_9b3f4c1e2d6a4f0b_")
    m["Date"] = formatdate(END + 7200, usegmt=True)
    m["From"] = "DMARC Aggregate Report <dmarcreport@microsoft.com>"
    m["To"] = "dmarc-reports@example.test"
    m["Subject"] = "Report Domain: example.test Submitter: enterprise.protection.outlook.com Report-ID: 9b3f4c1e2d6a4f0b8e7d5c3a1b2f4e6d"
    m["Message-ID"] = "<9b3f4c1e2d6a4f0b8e7d5c3a1b2f4e6d@microsoft.com>"
    m.attach(MIMEText("<div>This is a DMARC aggregate report from Microsoft Corporation.</div>", "html", "us-ascii"))
    a = MIMEApplication(gz(MICROSOFT_XML.encode()), "gzip", name=name)
    a.add_header("Content-Disposition", "attachment", filename=name)
    m.attach(a)
    write("microsoft-dmarc-gzip.eml", m)


def google_tlsrpt():
    name = "google.com!example.test!1795824000!1795910399!001.json.gz"
    m = MIMEMultipart("report", boundary="0000000000005f2e3d4c5b6a7980")
    m.set_param("report-type", "tlsrpt")
    m["Date"] = formatdate(END + 3600, usegmt=True)
    m["From"] = "noreply-smtp-tls-reporting@google.com"
    m["To"] = "tls-reports@example.test"
    m["Subject"] = "Report Domain: example.test Submitter: google.com Report-ID: <2026-11-28T00:00:00Z_example.test@google.com>"
    m["Message-ID"] = "<2026-11-28T00:00:00Z_example.test@google.com>"
    m["TLS-Report-Domain"] = "example.test"
    m["TLS-Report-Submitter"] = "google.com"
    m.attach(MIMEText("This is an aggregate TLS report from google.com", "plain", "utf-8"))
    a = MIMEApplication(gz(TLS_JSON.encode()), "tlsrpt+gzip", name=name)
    a.add_header("Content-Disposition", "attachment", filename=name)
    m.attach(a)
    write("google-tlsrpt-gzip.eml", m)


google_dmarc()
microsoft_dmarc()
google_tlsrpt()

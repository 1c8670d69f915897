# Mail clients of the end-to-end test (EndToEndTests.cs), run with Debian's /usr/bin/python3:
#   imap-wait IP PORT HOSTNAME CAFILE USER PASSWORD SUBJECT   waits for the message, prints it
#   submit IP PORT HOSTNAME CAFILE USER PASSWORD FROM TO FILE sends FILE over implicit TLS (465-style)
#   dkim-verify DNSPORT FILE                                  verifies every DKIM-Signature, DNS from 127.0.0.1:DNSPORT
# TLS connections go to IP but check the certificate for HOSTNAME against CAFILE only (no system roots).
import imaplib
import smtplib
import socket
import ssl
import sys
import time


def context(cafile):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class Imap(imaplib.IMAP4_SSL):
    """IMAP4_SSL that dials an IP but verifies the certificate for a host name."""

    def __init__(self, ip, port, hostname, ctx):
        self._ip, self._name = ip, hostname
        super().__init__(ip, port, ssl_context=ctx, timeout=60)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self._ip, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self._name)


class Submission(smtplib.SMTP_SSL):
    """SMTP_SSL that dials an IP but verifies the certificate for a host name."""

    def __init__(self, ip, port, hostname, ctx):
        self._ip, self._name = ip, hostname
        super().__init__(context=ctx, timeout=60)
        self.connect(ip, port)

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((self._ip, port), timeout)
        return self.context.wrap_socket(sock, server_hostname=self._name)


def imap_wait(ip, port, hostname, cafile, user, password, subject):
    deadline = time.time() + 180
    with Imap(ip, int(port), hostname, context(cafile)) as m:
        cert = m.sock.getpeercert()
        print("certificate-subject:", dict(x[0] for x in cert["subject"]).get("commonName", ""))
        m.login(user, password)
        while True:
            m.select("INBOX")
            typ, data = m.search(None, "SUBJECT", '"%s"' % subject)
            ids = data[0].split()
            if ids:
                typ, msg = m.fetch(ids[-1], "(RFC822)")
                sys.stdout.write(msg[0][1].decode("utf-8", "replace"))
                m.logout()
                return 0
            if time.time() > deadline:
                print("no message with subject %r in INBOX" % subject, file=sys.stderr)
                return 1
            time.sleep(1)


def submit(ip, port, hostname, cafile, user, password, mail_from, rcpt, path):
    with open(path, "rb") as f:
        body = f.read()
    with Submission(ip, int(port), hostname, context(cafile)) as s:
        s.login(user, password)
        refused = s.sendmail(mail_from, [rcpt], body)
        print("refused:", refused)
    return 0


def dkim_verify(dns_port, path):
    import dkim
    import dns.resolver

    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = int(dns_port)
    r.lifetime = 30

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        answer = r.resolve(name.rstrip("."), "TXT")
        return b"".join(b"".join(rr.strings) for rr in answer[:1])

    with open(path, "rb") as f:
        msg = f.read()
    d = dkim.DKIM(msg)
    sigheaders = [h for h in d.headers if h[0].lower() == b"dkim-signature"]
    count = len(sigheaders)
    if count == 0:
        print("no DKIM-Signature")
        return 1
    ok = True
    for i in range(count):
        good = d.verify(idx=i, dnsfunc=dnsfunc)
        sig = dkim.util.parse_tag_value(sigheaders[i][1])
        print("signature d=%s s=%s a=%s: %s" % (sig[b"d"].decode(), sig[b"s"].decode(), sig[b"a"].decode(), "pass" if good else "fail"))
        ok = ok and good
    return 0 if ok else 1


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    sys.exit({"imap-wait": imap_wait, "submit": submit, "dkim-verify": dkim_verify}[cmd](*args))

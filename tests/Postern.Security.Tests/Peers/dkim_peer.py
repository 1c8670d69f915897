#!/usr/bin/python3
"""Real DKIM/SPF peers for Postern's interop tests.

  dkim_peer.py verify MSGFILE KEYS.json             dkimpy verifies; prints "pass" or "fail"
  dkim_peer.py sign MSGFILE KEYFILE DOMAIN SELECTOR dkimpy signs (RSA PEM, or ed25519 base64 seed); prints the message
  dkim_peer.py dns-server PORT RECORDS.json         minimal authoritative TXT/A/AAAA/MX server on 127.0.0.1 (UDP)
  dkim_peer.py spf IP MAILFROM HELO PORT            pyspf check2 against the DNS server at 127.0.0.1:PORT; prints the result

KEYS.json / RECORDS.json map "name." to {"TXT": [...], "A": [...], "AAAA": [...], "MX": [[pref, host]], "PTR": [...]}.
"""
import json
import socket
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def verify(msgfile, keysfile):
    import dkim
    keys = load(keysfile)

    def dnsfunc(name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        rec = keys.get(n, {}).get("TXT")
        return rec[0].encode() if rec else None

    msg = open(msgfile, "rb").read()
    d = dkim.DKIM(msg)
    sigs = [h for h in d.headers if h[0].lower() == b"dkim-signature"]
    try:
        ok = len(sigs) > 0 and all(d.verify(idx=i, dnsfunc=dnsfunc) for i in range(len(sigs)))
    except dkim.DKIMException as e:
        print("error: %s" % e, file=sys.stderr)
        ok = False
    print("pass" if ok else "fail")


def sign(msgfile, keyfile, domain, selector):
    import dkim
    msg = open(msgfile, "rb").read()
    key = open(keyfile, "rb").read()
    if b"PRIVATE KEY" in key:
        sig = dkim.sign(msg, selector.encode(), domain.encode(), key, canonicalize=(b"relaxed", b"relaxed"),
                        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    else:
        sig = dkim.sign(msg, selector.encode(), domain.encode(), key.strip(), signature_algorithm=b"ed25519-sha256",
                        canonicalize=(b"relaxed", b"relaxed"), include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    sys.stdout.buffer.write(sig + msg)


def dns_server(port, recordsfile):
    import dns.message
    import dns.rcode
    import dns.rrset
    records = {k.lower(): v for k, v in load(recordsfile).items()}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", int(port)))
    print("ready", flush=True)
    while True:
        data, addr = s.recvfrom(4096)
        try:
            q = dns.message.from_wire(data)
        except Exception:
            continue
        r = dns.message.make_response(q)
        r.flags |= 0x0400  # AA
        question = q.question[0]
        name = question.name.to_text().lower()
        qtype = dns.rdatatype.to_text(question.rdtype)
        entry = records.get(name)
        if entry is None:
            r.set_rcode(dns.rcode.NXDOMAIN)
        else:
            values = entry.get(qtype, [])
            if values:
                texts = []
                for v in values:
                    if qtype == "TXT":
                        chunks = [v[i:i + 255] for i in range(0, len(v), 255)] or [""]
                        texts.append(" ".join('"' + c.replace('\\', '\\\\').replace('"', '\\"') + '"' for c in chunks))
                    elif qtype == "MX":
                        texts.append("%d %s" % (v[0], v[1]))
                    else:
                        texts.append(v)
                r.answer.append(dns.rrset.from_text_list(question.name, 300, "IN", qtype, texts))
        s.sendto(r.to_wire(), addr)


def spf_check(ip, mailfrom, helo, port):
    import dns.resolver
    import spf
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = int(port)
    dns.resolver.default_resolver = res
    result, explanation = spf.check2(i=ip, s=mailfrom, h=helo)
    print(result)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "verify":
        verify(sys.argv[2], sys.argv[3])
    elif cmd == "sign":
        sign(*sys.argv[2:6])
    elif cmd == "dns-server":
        dns_server(sys.argv[2], sys.argv[3])
    elif cmd == "spf":
        spf_check(*sys.argv[2:6])
    else:
        sys.exit("unknown command " + cmd)

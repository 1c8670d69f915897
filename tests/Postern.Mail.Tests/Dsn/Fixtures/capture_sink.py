#!/usr/bin/env python3
# A tiny SMTP server for making the Postfix bounce fixture: refuses RCPT to "nobody@..."
# with 550 5.1.1 and writes every accepted message to OUTDIR/N.eml. Usage: capture_sink.py PORT OUTDIR
import socket, sys, os, threading

port, outdir = int(sys.argv[1]), sys.argv[2]
count = 0

def handle(conn):
    global count
    f = conn.makefile('rb')
    def send(s): conn.sendall(s.encode() + b"\r\n")
    send("220 sink.test ESMTP")
    while True:
        line = f.readline()
        if not line: break
        cmd = line.decode('utf-8', 'replace').strip()
        up = cmd.upper()
        if up.startswith("EHLO"):
            send("250-sink.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 DSN")
        elif up.startswith("HELO"): send("250 sink.test")
        elif up.startswith("MAIL"): send("250 2.1.0 ok")
        elif up.startswith("RCPT"):
            if "<NOBODY@" in up: send("550 5.1.1 <nobody@remote.test>: Recipient address rejected: no such user here")
            else: send("250 2.1.5 ok")
        elif up == "DATA":
            send("354 go")
            data = b""
            while True:
                l = f.readline()
                if l in (b".\r\n", b""): break
                if l.startswith(b".."): l = l[1:]
                data += l
            count += 1
            with open(os.path.join(outdir, "%d.eml" % count), "wb") as o: o.write(data)
            send("250 2.0.0 saved")
        elif up == "QUIT":
            send("221 bye"); break
        elif up == "RSET" or up == "NOOP": send("250 ok")
        else: send("502 no")
    conn.close()

s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(5)
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()

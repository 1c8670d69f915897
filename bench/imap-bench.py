#!/usr/bin/python3
"""IMAP load driver for bench/imap.sh: times commands against a running `postern localserve`.

usage: imap-bench.py HOST PORT SERVER_PID [--idle N,N...] [--append-seconds S]

Expects the account postern@localhost/postern with mailboxes INBOX (the big one) and
Bench20k (about 20,000 messages of about 10 KB); see bench/imap.sh, which prepares them.
Prints one line per measurement.
"""
import asyncio
import base64
import hashlib
import hmac
import imaplib
import os
import socket
import statistics
import sys
import threading
import time

USER, PASSWORD = "postern@localhost", "postern"


def timed(fn, rounds=5):
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return min(times), statistics.median(times)


def connect(host, port):
    c = imaplib.IMAP4(host, port)
    c.login(USER, PASSWORD)
    return c


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class RawClient:
    """Sends a command and reads until its tagged response without parsing the untagged ones, so
    that the figures are the server's (plus loopback transfer), not Python's response parsing."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port))
        self.buf = b""
        self.n = 0
        self.read_until(b"\r\n")
        self.command(f'LOGIN "{USER}" "{PASSWORD}"')

    def read_until(self, marker):
        """Reads through the first line that contains marker; a marker starting with CRLF also
        matches at the start of the buffer (a tagged response with no untagged lines before it)."""
        while True:
            i = (b"\r\n" + self.buf).find(marker) if marker.startswith(b"\r\n") else self.buf.find(marker)
            if i >= 0:
                line_end = self.buf.find(b"\r\n", i + 2 if marker.startswith(b"\r\n") else i)
            if i >= 0 and line_end >= 0:
                line_end += 2
                data, self.buf = self.buf[:line_end], self.buf[line_end:]
                return data
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk

    def command(self, text):
        self.n += 1
        tag = f"r{self.n}"
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        data = self.read_until(f"\r\n{tag} ".encode())
        last = data[(b"\r\n" + data).rindex(f"\r\n{tag} ".encode()):]
        if not last.startswith(f"{tag} OK".encode()):
            raise RuntimeError(last.decode(errors="replace"))
        return data


def cpu_ms(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def server_cpu(host, port, pid, raw, warmup=30, rounds=40):
    """Server CPU time (utime + stime) per SELECT after a change and per FETCH, once the JIT has
    warmed up: a figure that depends little on the load of the rest of the machine."""
    changer = RawClient(host, port)
    changer.command("SELECT INBOX")
    per_select = []
    for i in range(warmup + rounds):
        changer.command("UID STORE 1 -FLAGS.SILENT ($BenchToggle)")
        changer.command("UID STORE 1 +FLAGS.SILENT ($BenchToggle)")
        c0 = cpu_ms(pid)
        raw.command("EXAMINE INBOX")
        if i >= warmup:
            per_select.append(cpu_ms(pid) - c0)
    changer.sock.close()
    c0 = cpu_ms(pid)
    for _ in range(rounds):
        raw.command("UID FETCH 1:* (UID FLAGS)")
    per_fetch = (cpu_ms(pid) - c0) / rounds
    print(f"server CPU once warm: {sum(per_select) / rounds:.1f} ms per SELECT after a change, "
          f"{per_fetch:.1f} ms per UID FETCH 1:* (UID FLAGS) ({rounds} rounds each)")


def commands(host, port, pid):
    c = connect(host, port)
    typ, data = c.select("INBOX", readonly=True)
    count = int(data[0])
    c.logout()
    raw = RawClient(host, port)
    # Another session changes a flag before each round, so no listing can be shared: the cost of listing.
    changer = RawClient(host, port)
    changer.command("SELECT INBOX")
    times = []
    for _ in range(5):
        changer.command("UID STORE 1 -FLAGS.SILENT ($BenchToggle)")
        changer.command("UID STORE 1 +FLAGS.SILENT ($BenchToggle)")
        t0 = time.perf_counter()
        raw.command("EXAMINE INBOX")
        times.append((time.perf_counter() - t0) * 1000)
    changer.sock.close()
    print(f"SELECT INBOX ({count} messages) after a change: best {min(times):.1f} ms, median {statistics.median(times):.1f} ms")
    best, med = timed(lambda: raw.command("EXAMINE INBOX"))
    print(f"SELECT INBOX ({count} messages) unchanged (listing shared between sessions): best {best:.1f} ms, median {med:.1f} ms")
    best, med = timed(lambda: raw.command("UID FETCH 1:* (UID FLAGS)"))
    print(f"UID FETCH 1:* (UID FLAGS) ({count} messages): best {best:.1f} ms, median {med:.1f} ms")
    server_cpu(host, port, pid, raw)
    raw.sock.close()
    c = connect(host, port)
    typ, data = c.select("Bench20k", readonly=True)
    count = int(data[0])
    best, med = timed(lambda: c.fetch("1:1000", "(ENVELOPE BODYSTRUCTURE)"))
    print(f"FETCH 1:1000 (ENVELOPE BODYSTRUCTURE): best {best:.1f} ms, median {med:.1f} ms")
    result = {}

    def search():
        result["r"] = c.search(None, "TEXT", '"pneumonoultramicroscopic"')
    best, med = timed(search, rounds=3)
    print(f"SEARCH TEXT over {count} messages: best {best:.0f} ms, median {med:.0f} ms")
    c.logout()


def append(host, port, seconds, clients=10, size=10240):
    body = ("From: bench@example.org\r\nTo: postern@localhost\r\nSubject: append benchmark\r\n"
            "Message-ID: <append@example.org>\r\n\r\n").encode()
    line = b"The quick brown fox jumps over the lazy dog 0123456789.\r\n"
    while len(body) < size:
        body += line
    body = body[:size - 2] + b"\r\n"
    setup = connect(host, port)
    setup.create("AppendBench")
    setup.logout()
    counts = [0] * clients
    lat = [[] for _ in range(clients)]
    # Log in first (a password login is deliberately expensive), then time the appends alone.
    conns = [connect(host, port) for _ in range(clients)]
    deadline = time.perf_counter() + seconds

    def worker(i):
        c = conns[i]
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            typ, _ = c.append("AppendBench", None, None, body)
            if typ != "OK":
                raise RuntimeError("APPEND failed")
            lat[i].append((time.perf_counter() - t0) * 1000)
            counts[i] += 1
        c.logout()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    all_lat = sorted(x for l in lat for x in l)
    n = sum(counts)
    print(f"APPEND {clients} clients, {size} bytes, durable: {n} in {elapsed:.1f} s = {n / elapsed:.0f} messages/s, "
          f"p50 {all_lat[len(all_lat) // 2]:.1f} ms, p99 {all_lat[int(len(all_lat) * 0.99)]:.1f} ms")


def append_raw(host, port, seconds, clients=10, size=10240):
    """APPEND as imaplib sends it (synchronising literal; the literal and its CRLF in two writes,
    no TCP_NODELAY) but without imaplib's per-command Python overhead."""
    body = b"From: bench@example.org\r\nTo: postern@localhost\r\nSubject: raw append\r\n\r\n"
    while len(body) < size:
        body += b"The quick brown fox jumps over the lazy dog 0123456789.\r\n"
    body = body[:size - 2] + b"\r\n"
    conns = [RawClient(host, port) for _ in range(clients)]
    counts, lat = [0] * clients, []
    deadline = time.perf_counter() + seconds

    def worker(i):
        c = conns[i]
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            c.n += 1
            tag = f"r{c.n}"
            c.sock.sendall(f"{tag} APPEND AppendBench {{{len(body)}}}\r\n".encode())
            if not c.read_until(b"\r\n").startswith(b"+"):
                raise RuntimeError("no continuation")
            c.sock.sendall(body)
            c.sock.sendall(b"\r\n")
            data = c.read_until(f"\r\n{tag} ".encode())
            if f"{tag} OK".encode() not in data:
                raise RuntimeError(data.decode(errors="replace"))
            lat.append((time.perf_counter() - t0) * 1000)
            counts[i] += 1
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in conns:
        c.sock.close()
    lat.sort()
    n = sum(counts)
    print(f"APPEND {clients} raw-socket clients, {size} bytes, durable: {n} in {seconds:.1f} s = {n / seconds:.0f} messages/s, "
          f"p50 {lat[len(lat) // 2]:.1f} ms, p99 {lat[int(len(lat) * 0.99)]:.1f} ms")


class Scram:
    """SCRAM-SHA-256 client (RFC 7677): the server checks it against stored keys, so thousands of
    logins cost the server little; the salted password is computed once per salt."""
    cache = {}

    def __init__(self):
        self.cnonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n={USER},r={self.cnonce}"

    def first(self):
        return base64.b64encode(("n,," + self.first_bare).encode()).decode()

    def final(self, server_first_b64):
        server_first = base64.b64decode(server_first_b64).decode()
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        salt, iters = base64.b64decode(attrs["s"]), int(attrs["i"])
        key = (salt, iters)
        if key not in Scram.cache:
            Scram.cache[key] = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt, iters)
        salted = Scram.cache[key]
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={attrs['r']}"
        auth_msg = f"{self.first_bare},{server_first},{without_proof}".encode()
        sig = hmac.new(stored, auth_msg, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        return base64.b64encode(f"{without_proof},p={base64.b64encode(proof).decode()}".encode()).decode()


async def idle_conn(host, port, ready, stop):
    reader, writer = await asyncio.open_connection(host, port)
    await reader.readline()
    s = Scram()
    writer.write(f"a AUTHENTICATE SCRAM-SHA-256 {s.first()}\r\n".encode())
    line = await reader.readline()
    if not line.startswith(b"+ "):
        raise RuntimeError(f"AUTHENTICATE: {line!r}")
    writer.write((s.final(line[2:].strip().decode()) + "\r\n").encode())
    line = await reader.readline()
    if line.startswith(b"+ "):
        writer.write(b"\r\n")
        line = await reader.readline()
    while not line.startswith(b"a "):
        line = await reader.readline()
    if not line.startswith(b"a OK"):
        raise RuntimeError(f"AUTHENTICATE: {line!r}")
    writer.write(b"b SELECT IdleBox\r\n")
    line = await reader.readline()
    while not line.startswith(b"b "):
        line = await reader.readline()
    writer.write(b"c IDLE\r\n")
    line = await reader.readline()
    if not line.startswith(b"+"):
        raise RuntimeError(f"IDLE: {line!r}")
    ready()
    await stop.wait()
    writer.write(b"DONE\r\n")
    writer.close()


async def idle(host, port, pid, n):
    stop = asyncio.Event()
    done = 0

    def ready():
        nonlocal done
        done += 1
    before = rss_kb(pid)
    t0 = time.perf_counter()
    # Connections are opened at most 200 at a time; each holds its slot until it is idling.
    sem = asyncio.Semaphore(200)

    tasks = []

    async def opened(task, ev):
        try:
            await asyncio.wait([task, asyncio.ensure_future(ev.wait())], return_when=asyncio.FIRST_COMPLETED)
        finally:
            sem.release()
    for _ in range(n):
        await sem.acquire()
        idling = asyncio.Event()
        task = asyncio.ensure_future(idle_conn(host, port, lambda e=idling: (ready(), e.set()), stop))
        tasks.append(task)
        asyncio.ensure_future(opened(task, idling))
    while done + sum(1 for t in tasks if t.done()) < n:
        await asyncio.sleep(0.05)
    failed = [t.exception() for t in tasks if t.done() and t.exception()]
    if failed:
        print(f"{len(failed)} connections failed, first: {failed[0]!r}", file=sys.stderr)
    setup = time.perf_counter() - t0
    await asyncio.sleep(3)
    after = rss_kb(pid)
    print(f"IDLE {done} connections (set up in {setup:.1f} s): server RSS {after / 1024:.0f} MB "
          f"(before {before / 1024:.0f} MB, {(after - before) / max(done, 1):.1f} KB per connection)")
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


def main():
    host, port, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    idle_counts = [1000, 10000]
    append_seconds = 10
    args = sys.argv[4:]
    while args:
        if args[0] == "--idle":
            idle_counts = [int(x) for x in args[1].split(",") if x]
        elif args[0] == "--append-seconds":
            append_seconds = int(args[1])
        args = args[2:]
    print(f"server RSS at start {rss_kb(pid) / 1024:.0f} MB")
    commands(host, port, pid)
    if append_seconds > 0:
        append(host, port, append_seconds)
        append_raw(host, port, append_seconds)
    for n in idle_counts:
        asyncio.run(idle(host, port, pid, n))
        time.sleep(2)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""SMTP load driver (asyncio, raw sockets, PIPELINING of MAIL/RCPT/DATA).

  smtp-load.py load HOST PORT SESSIONS MESSAGES SIZE RCPT   messages/s, p50/p99 latency (MAIL sent -> 250 after data)
  smtp-load.py idle HOST PORT COUNT PID                     RSS of PID with COUNT sessions open after EHLO
  smtp-load.py big HOST PORT MEGABYTES PID RCPT             peak RSS of PID while one message of that size streams in
"""
import asyncio
import sys
import threading
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def reply(reader):
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            return line


async def session(host, port, count, body, rcpt, latencies):
    reader, writer = await asyncio.open_connection(host, port)
    await reply(reader)
    writer.write(b"EHLO load.example\r\n")
    await reply(reader)
    envelope = f"MAIL FROM:<load@bench.example> SIZE={len(body)}\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode()
    for _ in range(count):
        t0 = time.perf_counter()
        writer.write(envelope)
        for expect in (b"250", b"250", b"354"):
            r = await reply(reader)
            if not r.startswith(expect):
                raise RuntimeError(r)
        writer.write(body)
        r = await reply(reader)
        if not r.startswith(b"250"):
            raise RuntimeError(r)
        latencies.append(time.perf_counter() - t0)
    writer.write(b"QUIT\r\n")
    await reply(reader)
    writer.close()


def message(size):
    line = b"x" * 76 + b"\r\n"
    head = b"From: load@bench.example\r\nTo: bench@localhost\r\nSubject: load\r\n\r\n"
    n = max(0, (size - len(head)) // len(line))
    return head + line * n + b".\r\n"


async def load(host, port, sessions, messages, size, rcpt):
    body = message(size)
    latencies = []
    per = [messages // sessions + (1 if i < messages % sessions else 0) for i in range(sessions)]
    t0 = time.perf_counter()
    await asyncio.gather(*(session(host, port, n, body, rcpt, latencies) for n in per))
    elapsed = time.perf_counter() - t0
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    print(f"  {messages} messages of {len(body) - 3} bytes, {sessions} sessions: {messages / elapsed:.0f} msg/s, "
          f"p50 {p(0.50):.1f} ms, p99 {p(0.99):.1f} ms, {elapsed:.1f} s")


async def idle(host, port, count, pid):
    base = rss_kb(pid)
    conns = []
    for i in range(count):
        reader, writer = await asyncio.open_connection(host, port)
        await reply(reader)
        writer.write(b"EHLO idle.example\r\n")
        await reply(reader)
        conns.append(writer)
    await asyncio.sleep(2)
    full = rss_kb(pid)
    print(f"  {count} idle sessions: server RSS {base / 1024:.0f} MB before, {full / 1024:.0f} MB with them "
          f"(+{(full - base) / 1024:.1f} MB, {(full - base) / count:.1f} KB each)")
    for w in conns:
        w.close()


async def big(host, port, megabytes, pid, rcpt):
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kb(pid))
            time.sleep(0.02)

    reader, writer = await asyncio.open_connection(host, port)
    await reply(reader)
    writer.write(b"EHLO big.example\r\n")
    await reply(reader)
    await asyncio.sleep(0.5)
    base = rss_kb(pid)
    threading.Thread(target=sample, daemon=True).start()
    writer.write(f"MAIL FROM:<big@bench.example>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
    for _ in range(3):
        await reply(reader)
    writer.write(b"Subject: big\r\n\r\n")
    chunk = (b"y" * 998 + b"\r\n") * 64
    t0 = time.perf_counter()
    sent = 0
    while sent < megabytes * 1024 * 1024:
        writer.write(chunk)
        await writer.drain()
        sent += len(chunk)
    writer.write(b".\r\n")
    r = await reply(reader)
    elapsed = time.perf_counter() - t0
    stop.set()
    print(f"  {megabytes} MB message: {r.decode().strip()[:40]}..., {megabytes / elapsed:.0f} MB/s; server RSS {base / 1024:.0f} MB before, "
          f"peak {peak[0] / 1024:.0f} MB (+{(peak[0] - base) / 1024:.1f} MB)")
    writer.close()


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "load":
        asyncio.run(load(host, port, int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]))
    elif mode == "idle":
        asyncio.run(idle(host, port, int(sys.argv[4]), int(sys.argv[5])))
    elif mode == "big":
        asyncio.run(big(host, port, int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]))


main()

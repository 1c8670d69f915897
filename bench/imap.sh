#!/usr/bin/env bash
# IMAP benchmark: builds Release, prepares a localserve data folder with a 100,000-message INBOX
# (about 1.5 KB each), a 20,000-message mailbox Bench20k (about 10 KB each) and a 1,000-message
# mailbox IdleBox (what the IDLE sessions select) by importing
# generated mboxes (kept in $BENCH_DIR between runs), starts `postern localserve` on a free
# loopback port, and runs bench/imap-bench.py against it: SELECT and UID FETCH 1:* (UID FLAGS)
# on 100k, FETCH 1:1000 (ENVELOPE BODYSTRUCTURE), SEARCH TEXT over 20k, APPEND with 10 clients,
# server RSS with 1,000 and 10,000 connections in IDLE.
#   bench/imap.sh [--idle 1000,10000] [--append-seconds 10]
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
work=${BENCH_DIR:-/tmp/postern-bench-imap}
mkdir -p "$work"
dotnet build -c Release src/Postern/Postern.csproj -nologo -v q > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
postern="dotnet src/Postern/bin/Release/net10.0/postern.dll"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tlsport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
serve() { $postern localserve --dir "$work/local" --imap-port "$port" --imaps-port "$tlsport" > "$work/serve.log" 2>&1 & pid=$!; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && return 0; sleep 0.2; done; echo "server did not start:"; cat "$work/serve.log"; exit 1; }

if [ ! -f "$work/local/.prepared" ]; then
  rm -rf "$work/local"
  [ -f "$work/inbox-100k.mbox" ] || /usr/bin/python3 bench/gen-mbox.py "$work/inbox-100k.mbox" 100000 11 0.1
  [ -f "$work/b20k.mbox" ] || /usr/bin/python3 bench/gen-mbox.py "$work/b20k.mbox" 20000 12
  serve; wait_port; kill "$pid"; wait "$pid" || true     # first start creates the account
  $postern import mbox "$work/inbox-100k.mbox" postern INBOX --dir "$work/local/data" | tail -1
  $postern import mbox "$work/b20k.mbox" postern Bench20k --dir "$work/local/data" | tail -1
  touch "$work/local/.prepared"
fi
if [ ! -f "$work/local/.prepared-idle" ]; then
  # IDLE sessions select a realistic small mailbox, not the 100k INBOX.
  [ -f "$work/idle-1k.mbox" ] || /usr/bin/python3 bench/gen-mbox.py "$work/idle-1k.mbox" 1000 13 0.1
  $postern import mbox "$work/idle-1k.mbox" postern IdleBox --dir "$work/local/data" | tail -1
  touch "$work/local/.prepared-idle"
fi

serve; wait_port
trap 'kill $pid 2>/dev/null || true' EXIT
echo "IMAP benchmark, $(date -u +%F), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 bench/imap-bench.py 127.0.0.1 "$port" "$pid" "$@"
kill "$pid"; wait "$pid" 2>/dev/null || true

#!/usr/bin/env bash
# SMTP benchmark: builds Release, starts `postern localserve` (deliveries are durable: fsync +
# SQLite commit before each 250) and Postfix's smtp-sink (accepts and discards: the protocol
# ceiling) and Postfix with its real queue (bench/postfix-durable.sh: a durable reference) on free
# loopback ports, then, side by side:
#   - Postfix's smtp-source: SESSIONS concurrent sessions, one message per connection;
#   - bench/smtp-load.py: the same with connections reused, giving p50/p99 latency;
#   - first, on the fresh server: RSS with 1,000 idle sessions, and while a 100 MB message streams in.
#   bench/smtp.sh [SESSIONS] [MESSAGES] [SIZE]        defaults: 20 sessions, 5000 messages, 10240 bytes
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
sessions=${1:-20}; messages=${2:-5000}; size=${3:-10240}
work=${BENCH_DIR:-/tmp/postern-bench-smtp}
mkdir -p "$work"
# A fresh data folder each run; earlier runs' folders are deleted only after the measurements. Creating files
# right after deleting tens of thousands costs much more on ext4 (for a few minutes the inode allocator scans
# past the recently freed inodes: up to 45 % of the server's CPU in perf), which measured the file system's
# cleanup instead of Postern.
data="$work/local-$(date +%s%N)"
command -v smtp-source >/dev/null || { echo "needs Debian's postfix (smtp-source, smtp-sink)"; exit 1; }
dotnet build -c Release src/Postern/Postern.csproj -nologo -v q > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
free() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 150); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.2; done; echo "no server on $1"; exit 1; }
smtp=$(free); sink=$(free); pfport=$(free)
dotnet src/Postern/bin/Release/net10.0/postern.dll localserve --dir "$data" --imap-port "$(free)" --imaps-port "$(free)" \
  --smtp-port "$smtp" --submission-port "$(free)" --submissions-port "$(free)" --max-message-size 200000000 > "$work/serve.log" 2>&1 &
pid=$!
setsid smtp-sink -u postfix -c "127.0.0.1:$sink" 5000 > "$work/sink.log" 2>&1 &
sinkpid=$!
# A durable reference: Postfix with its real queue (bench/postfix-durable.sh), when it can be started.
pfpid=$(bench/postfix-durable.sh "$pfport" "$work/postfix-$(date +%s%N)" 2> "$work/postfix.err" | tail -1) || pfpid=""
trap 'kill $pid $sinkpid $pfpid 2>/dev/null || true' EXIT
wait_port "$smtp"; wait_port "$sink"; [ -z "$pfpid" ] || wait_port "$pfport"
rss() { awk '/VmRSS/ {printf "%.0f MB", $2/1024}' "/proc/$1/status"; }
# Server CPU time (user + system, in clock ticks) from /proc: unlike wall-clock rates, CPU per message
# hardly depends on what else the machine is running, so it compares versions on a busy machine too.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu_per_message() {  # ticks-before ticks-after messages
  echo "$1 $2 $3 $(getconf CLK_TCK)" | awk '{printf "%.2f ms", ($2 - $1) * 1000 / $4 / $3}'
}

echo "SMTP benchmark, $(date -u +%F), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
# Memory first, on a fresh server (after the load runs the GC heap has grown).
echo "Memory:"
/usr/bin/python3 bench/smtp-load.py idle 127.0.0.1 "$smtp" 1000 "$pid"
/usr/bin/python3 bench/smtp-load.py big 127.0.0.1 "$smtp" 100 "$pid" bench@localhost
run_source() {  # port label [messages]
  local t0 t1 c0 c1 messages=${3:-$messages}
  t0=$(date +%s.%N); c0=$(cpu_ticks $pid)
  smtp-source -s "$sessions" -m "$messages" -l "$size" -f load@bench.example -t bench@localhost "127.0.0.1:$1"
  t1=$(date +%s.%N); c1=$(cpu_ticks $pid)
  local cpu=""
  [ "$1" = "$smtp" ] && cpu=", server CPU $(cpu_per_message "$c0" "$c1" "$messages") per message"
  rate=$(echo "$messages / ($t1 - $t0)" | bc -l | xargs printf '%.0f')
  echo "  $2: $rate msg/s ($messages x $size bytes, $sessions sessions, new connection per message$cpu)"
}
echo "smtp-source (Postfix) as the client:"
run_source "$sink" "smtp-sink (stores nothing)"; sink_rate=$rate
[ -z "$pfpid" ] || run_source "$pfport" "Postfix with its queue (fsync before the 250, then discarded)"
run_source "$smtp" "Postern (durable delivery; first run after start, the JIT still optimising)"
# The JIT keeps promoting hot methods for several thousand messages; these runs show the steady state.
run_source "$smtp" "Postern, warming up" 6000
run_source "$smtp" "Postern, warm"
echo "  Postern warm / smtp-sink: $((rate * 100 / sink_rate)) %"
echo "  Postern RSS after: $(rss $pid)"
echo "bench/smtp-load.py (connections reused, MAIL/RCPT/DATA pipelined):"
echo " smtp-sink:"; /usr/bin/python3 bench/smtp-load.py load 127.0.0.1 "$sink" "$sessions" "$messages" "$size" bench@localhost
echo " Postern:"
c0=$(cpu_ticks $pid)
/usr/bin/python3 bench/smtp-load.py load 127.0.0.1 "$smtp" "$sessions" "$messages" "$size" bench@localhost
echo "  server CPU $(cpu_per_message "$c0" "$(cpu_ticks $pid)" "$messages") per message"
echo "  Postern RSS after: $(rss $pid)"
kill "$pid" "$sinkpid" $pfpid; wait "$pid" 2>/dev/null || true
find "$work" -maxdepth 1 \( -name 'local-*' -o -name 'postfix-*' \) ! -path "$data" -exec rm -rf {} +

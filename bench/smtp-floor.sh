#!/usr/bin/env bash
# Where the SMTP rate's ceiling is on this machine: Postfix's smtp-sink (C, stores nothing), a minimal
# .NET receiver (bench/smtp-floor/DotnetSmtpSink.cs: the runtime's sockets, stores nothing) and
# Postern localserve (parses, delivers durably), each driven by Postfix's smtp-source with SESSIONS
# concurrent sessions, first with a new connection per message (as MTAs deliver to an MX), then with
# connections reused (smtp-source -d). Rounds alternate between the three servers so that the
# machine's drift (other VMs, the file system) touches each alike; the medians are printed, with
# the server's CPU time per message (user + system, from /proc), which varies less than rates do.
#   bench/smtp-floor.sh [ROUNDS] [SESSIONS] [MESSAGES] [SIZE]   defaults: 3 rounds, 20, 3000, 10240
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
rounds=${1:-3}; sessions=${2:-20}; messages=${3:-3000}; size=${4:-10240}
work=${BENCH_DIR:-/tmp/postern-bench-floor}
mkdir -p "$work"
command -v smtp-source >/dev/null || { echo "needs Debian's postfix (smtp-source, smtp-sink)"; exit 1; }
dotnet build -c Release src/Postern/Postern.csproj -nologo -v q > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
free() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.2; done; echo "no server on $1"; exit 1; }
data="$work/local-$(date +%s%N)"
sink=$(free); dn=$(free); smtp=$(free)
setsid smtp-sink -u postfix -c "127.0.0.1:$sink" 5000 > "$work/sink.log" 2>&1 &
sinkpid=$!
# The .NET receiver runs with Postern's thread-pool settings (no spin-waiting, see src/Postern/Postern.csproj).
(cd bench/smtp-floor && DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 exec dotnet run -c Release DotnetSmtpSink.cs -- "$dn") > "$work/dotnet-sink.log" 2>&1 &
dnrun=$!
dotnet src/Postern/bin/Release/net10.0/postern.dll localserve --dir "$data" --imap-port "$(free)" --imaps-port "$(free)" \
  --smtp-port "$smtp" --submission-port "$(free)" --submissions-port "$(free)" > "$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid $sinkpid $dnrun ${dnpid:-} 2>/dev/null || true' EXIT
wait_port "$sink"; wait_port "$dn"; wait_port "$smtp"
dnpid=$(awk '/^pid /{print $2}' "$work/dotnet-sink.log")
# smtp-sink is one process; `-u postfix` makes it drop privileges but it does not fork.
sinkproc=$(pgrep -f "smtp-sink -u postfix -c 127.0.0.1:$sink" | head -1)
echo "SMTP floor, $(date -u '+%F %H:%M') UTC, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$rounds rounds of $messages messages x $size bytes, $sessions sessions; warming up the .NET servers"
for port in "$dn" "$smtp"; do
  smtp-source -s "$sessions" -m 9000 -l "$size" -f load@bench.example -t bench@localhost "127.0.0.1:$port"
done
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
results="$work/results-$(date +%s%N)"
for r in $(seq "$rounds"); do
  for target in "smtp-sink:$sink:$sinkproc" "dotnet-sink:$dn:$dnpid" "postern:$smtp:$pid"; do
    IFS=: read -r name port proc <<< "$target"
    for mode in new reuse; do
      flag=""; [ "$mode" = reuse ] && flag="-d"
      t0=$(date +%s.%N); c0=$(ticks "$proc")
      smtp-source $flag -s "$sessions" -m "$messages" -l "$size" -f load@bench.example -t bench@localhost "127.0.0.1:$port"
      t1=$(date +%s.%N); c1=$(ticks "$proc")
      echo "$name $mode $(echo "$messages / ($t1 - $t0)" | bc -l) $(echo "($c1 - $c0) * 1000 / $(getconf CLK_TCK) / $messages" | bc -l)" >> "$results"
    done
  done
done
/usr/bin/python3 - "$results" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
med = {}
for name in ("smtp-sink", "dotnet-sink", "postern"):
    for mode in ("new", "reuse"):
        rates = [float(r[2]) for r in rows if r[0] == name and r[1] == mode]
        cpus = [float(r[3]) for r in rows if r[0] == name and r[1] == mode]
        med[name, mode] = statistics.median(rates)
        print(f"  {name:12} {'new connection per message' if mode == 'new' else 'connections reused':27} "
              f"{statistics.median(rates):7.0f} msg/s (runs {min(rates):.0f}-{max(rates):.0f}), "
              f"server CPU {statistics.median(cpus):.3f} ms/msg")
for mode in ("new", "reuse"):
    print(f"  {mode:5}: dotnet-sink / smtp-sink {100 * med['dotnet-sink', mode] / med['smtp-sink', mode]:.0f} %, "
          f"postern / smtp-sink {100 * med['postern', mode] / med['smtp-sink', mode]:.0f} %")
PY
kill "$pid" "$sinkpid" "$dnpid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
find "$work" -maxdepth 1 -name 'local-*' ! -path "$data" -exec rm -rf {} +

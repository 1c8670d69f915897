#!/usr/bin/env bash
# A/B comparison of the SMTP delivery speed of two builds, for changes smaller than the run-to-run noise of
# bench/smtp.sh (on a shared 2-core VM one run can differ from the next by 10-20 %). Each revision is built
# in a temporary git worktree; then, for ROUNDS rounds, each build in turn: a fresh `postern localserve`,
# 9,000 messages to warm up (the JIT), then 2 x 4,000 messages timed, all with Postfix's smtp-source
# (20 sessions, 10 KB, a new connection per message). Prints every run and the median rate and server CPU
# per message of each build.
#   bench/smtp-ab.sh REV_A REV_B [ROUNDS]        e.g. bench/smtp-ab.sh main HEAD 3      (default 3 rounds)
# Data folders are kept until the end (deleting tens of thousands of files makes creating files slower for
# a while on some file systems, see bench/README.md), then deleted.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
[ $# -ge 2 ] || { echo "usage: bench/smtp-ab.sh REV_A REV_B [ROUNDS]"; exit 2; }
revs=("$1" "$2"); rounds=${3:-3}
command -v smtp-source >/dev/null || { echo "needs Debian's postfix (smtp-source)"; exit 1; }
work=${BENCH_DIR:-/tmp/postern-bench-smtp-ab}
mkdir -p "$work"; rm -f "$work/results.txt"
for i in 0 1; do git worktree remove --force "$work/tree-$i" 2>/dev/null || rm -rf "$work/tree-$i"; done
git worktree prune
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
free() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
declare -A dll
for i in 0 1; do
  rev=${revs[$i]}; tree="$work/tree-$i"
  git worktree add --detach "$tree" "$rev" > /dev/null
  dotnet build -c Release "$tree/src/Postern/Postern.csproj" -nologo -v q > "$work/build-$i.log" 2>&1 || { cat "$work/build-$i.log"; exit 1; }
  dll[$i]="$tree/src/Postern/bin/Release/net10.0/postern.dll"
done
pid=""
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  for i in 0 1; do git worktree remove --force "$work/tree-$i" 2>/dev/null || true; done
}
trap cleanup EXIT
results="$work/results.txt"
measure() {  # index
  local data="$work/data-$1-$(date +%s%N)" smtp
  smtp=$(free)
  dotnet "${dll[$1]}" localserve --dir "$data" --imap-port "$(free)" --imaps-port "$(free)" --smtp-port "$smtp" \
    --submission-port "$(free)" --submissions-port "$(free)" > "$work/serve-$1.log" 2>&1 &
  pid=$!
  for _ in $(seq 150); do (exec 3<>/dev/tcp/127.0.0.1/$smtp) 2>/dev/null && break; sleep 0.2; done
  smtp-source -s 20 -m 9000 -l 10240 -f load@bench.example -t bench@localhost "127.0.0.1:$smtp"
  for _ in 1 2; do
    local t0 t1 c0 c1
    t0=$(date +%s.%N); c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    smtp-source -s 20 -m 4000 -l 10240 -f load@bench.example -t bench@localhost "127.0.0.1:$smtp"
    t1=$(date +%s.%N); c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    echo "$1 $(echo "4000 / ($t1 - $t0)" | bc -l) $(echo "($c1 - $c0) * 1000 / $(getconf CLK_TCK) / 4000" | bc -l)" >> "$results"
    tail -1 "$results" | awk -v rev="${revs[$1]}" '{printf "  %s: %.0f msg/s, server CPU %.3f ms per message\n", rev, $2, $3}'
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}
echo "SMTP A/B, $(date -u '+%F %H:%M') UTC, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); A=${revs[0]} B=${revs[1]}"
for r in $(seq "$rounds"); do
  echo "round $r"
  measure 0; measure 1
done
/usr/bin/python3 - "$results" "${revs[0]}" "${revs[1]}" <<'PY'
import statistics, sys
runs = {0: [], 1: []}
for line in open(sys.argv[1]):
    i, rate, cpu = line.split()
    runs[int(i)].append((float(rate), float(cpu)))
for i in (0, 1):
    rates = [r for r, _ in runs[i]]; cpus = [c for _, c in runs[i]]
    print(f"{'AB'[i]} {sys.argv[2 + i]}: median {statistics.median(rates):.0f} msg/s (range {min(rates):.0f}-{max(rates):.0f}), "
          f"server CPU median {statistics.median(cpus):.3f} ms per message, {len(rates)} runs")
PY
rm -rf "$work"/data-*

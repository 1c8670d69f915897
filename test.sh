#!/usr/bin/env bash
# Postern's test command: installs what the tests need, builds, runs every test project,
# and ends with one line "N passed, N failed" summed over all projects.
#   ./test.sh            all test projects
#   ./test.sh Store      only test projects whose name contains "Store"
set -uo pipefail
cd "$(dirname "$0")"
filter=${1:-}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

./scripts/install-test-deps.sh || echo "warning: could not install test packages" >&2

out=.test-output
rm -rf "$out"; mkdir -p "$out"
if ! dotnet build Postern.slnx -c Release -nologo -v q 2>&1 | tee "$out/build.log" | grep -E "error|Build succeeded" ; then :; fi
if grep -qE ": error " "$out/build.log" || ! grep -q "Build succeeded" "$out/build.log"; then
  echo "build failed (see $out/build.log)"
  echo "0 passed, 1 failed"
  exit 1
fi

passed=0; failed=0
for proj in tests/*/*.Tests.csproj; do
  name=$(basename "$proj" .csproj)
  [ -z "$filter" ] || [[ "$name" == *"$filter"* ]] || continue
  echo "== $name"
  dotnet test "$proj" -c Release --no-build -nologo \
    --logger "trx;LogFileName=$PWD/$out/$name.trx" --logger "console;verbosity=normal" \
    --blame-hang-timeout 10m > "$out/$name.log" 2>&1
  rc=$?
  # Each failed test with its error message (not the stack trace), so that a CI log tells why.
  awk '/^[[:space:]]+Failed [^!]/ {show=1; n=0} /^[[:space:]]+Stack Trace:/ {show=0} /^[[:space:]]+Passed / {show=0}
       show && n++ < 25 {print}' "$out/$name.log" | head -200
  grep -E "^\s*(Passed|Failed)!|error CS|\[xUnit.net.*(error|Error)" "$out/$name.log" | tail -10
  trx="$out/$name.trx"
  if [ -f "$trx" ] && counters=$(grep -o '<Counters [^>]*>' "$trx"); then
    p=$(echo "$counters" | sed -E 's/.* passed="([0-9]+)".*/\1/')
    f=$(echo "$counters" | sed -E 's/.* failed="([0-9]+)".*/\1/')
    e=$(echo "$counters" | sed -E 's/.* error="([0-9]+)".*/\1/')
    t=$(echo "$counters" | sed -E 's/.* timeout="([0-9]+)".*/\1/')
    a=$(echo "$counters" | sed -E 's/.* aborted="([0-9]+)".*/\1/')
    f=$((f + e + t + a))
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; echo "   $name: test run failed (exit $rc), see $out/$name.log"; fi
  else
    p=0; f=1; echo "   $name: no test results (exit $rc), see $out/$name.log"
  fi
  echo "   $name: $p passed, $f failed"
  passed=$((passed + p)); failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

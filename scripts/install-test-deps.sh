#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/test-packages.txt that are missing.
# Needs root (or sudo) on Debian; elsewhere it says what is missing and goes on.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
missing=()
while read -r pkg; do
  pkg=${pkg%%#*}; pkg=$(echo "$pkg" | xargs)
  [ -n "$pkg" ] || continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < "$here/test-packages.txt"
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "install-test-deps: not Debian; please install: ${missing[*]}" >&2
  exit 0
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Postfix: the tests run their own instances; the system one stays unconfigured (never listens on 25).
echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections 2>/dev/null || true
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/bin/sh
# Verifies a message with the opendkim filter's test mode (opendkim -t). Keys come from a
# DNS server of dkim_peer.py on 127.0.0.1:PORT, which opendkim's libunbound resolver is
# told to forward to. Prints opendkim's verdict line; exits 0 only when it says "verified".
#   opendkim_verify.sh RECORDS.json MSGFILE PORT
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
/usr/bin/python3 "$here/dkim_peer.py" dns-server "$3" "$1" > "$work/dns.log" 2>&1 &
pid=$!
i=0
while ! grep -q ready "$work/dns.log" 2>/dev/null; do
  i=$((i+1)); [ $i -gt 200 ] && { cat "$work/dns.log" >&2; exit 99; }; sleep 0.05
done
cat > "$work/unbound.conf" <<CONF
server:
  do-not-query-localhost: no
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@$3
CONF
cat > "$work/opendkim.conf" <<CONF
Mode v
Syslog no
ResolverConfiguration $work/unbound.conf
CONF
out=$(opendkim -x "$work/opendkim.conf" -t "$2" 2>&1 || true)
echo "$out"
case "$out" in *"verified"*|*"succeeded"*) exit 0 ;; *) exit 1 ;; esac

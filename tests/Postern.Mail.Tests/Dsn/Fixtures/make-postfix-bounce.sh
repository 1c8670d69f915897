#!/bin/sh
# Makes postfix-bounce.eml: a real bounce written by Debian's Postfix (run as root).
# A throwaway Postfix instance relays everything to capture_sink.py, which refuses
# nobody@remote.test with 550 5.1.1; Postfix then bounces to sender@sender.test through the
# same sink, which saves the bounce. The message is sent with ENVID, RET=HDRS, NOTIFY and ORCPT.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/pf-bounce.XXXXXX); chmod 755 "$dir"
mkdir -p "$dir/conf" "$dir/queue" "$dir/data" "$dir/out"
sinkport=${SINKPORT:-52525}; pfport=${PFPORT:-52526}
cat > "$dir/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.test
mydomain = test
myorigin = relay.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
relayhost = [127.0.0.1]:$sinkport
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
alias_maps =
alias_database =
smtputf8_enable = yes
CF
sed -E -e "s/^smtp( +)inet .*/127.0.0.1:$pfport inet n - n - - smtpd/" \
    -e 's/^(\S+\s+(unix|inet|unix-dgram|fifo|pass)\s+\S+\s+\S+\s+)y(\s.*)$/\1n\3/' \
    /usr/share/postfix/master.cf.dist > "$dir/conf/master.cf"
chown postfix "$dir/data"
/usr/sbin/postfix -c "$dir/conf" check
python3 "$here/capture_sink.py" "$sinkport" "$dir/out" & sink=$!
setsid /usr/lib/postfix/sbin/master -c "$dir/conf" -d & master=$!
sleep 2
python3 - "$pfport" <<'PY'
import smtplib, sys
msg = b"From: Sender <sender@sender.test>\r\nTo: nobody@remote.test\r\nSubject: fixture\r\nMessage-ID: <fixture-1@sender.test>\r\nDate: Mon, 30 Nov 2026 09:00:00 +0000\r\n\r\nHello.\r\n"
with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
    s.ehlo("client.test")
    s.sendmail("sender@sender.test", ["nobody@remote.test"], msg,
               mail_options=["ENVID=fixture+2Benvid", "RET=HDRS"],
               rcpt_options=["NOTIFY=FAILURE,DELAY", "ORCPT=rfc822;Nobody@remote.test"])
PY
for i in $(seq 1 60); do [ -f "$dir/out/1.eml" ] && break; sleep 1; done
kill -TERM "$master"; kill "$sink"
cp "$dir/out/1.eml" "$here/postfix-bounce.eml"
rm -rf "$dir"
echo "wrote $here/postfix-bounce.eml"

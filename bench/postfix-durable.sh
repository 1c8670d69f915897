#!/usr/bin/env bash
# Starts Debian's Postfix as a durable reference receiver for bench/smtp.sh: smtpd hands each message to
# cleanup, which writes the queue file and fsyncs it before the 250 (as Postern's store does), then the
# discard transport drops it. Own config, queue and log in FOLDER; master in the foreground under setsid.
#   bench/postfix-durable.sh PORT FOLDER     prints master's PID (stop it with kill PID)
set -euo pipefail
port=$1; dir=$2
mkdir -p "$dir"/conf "$dir"/queue "$dir"/data; chmod 755 "$dir"
cat > "$dir/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
alias_maps =
alias_database =
smtpd_peername_lookup = no
mydestination = localhost
local_recipient_maps =
local_transport = discard:
default_transport = discard:
default_process_limit = 200
CF
# The shipped master.cf with smtpd on our endpoint and nothing chrooted.
sed -E -e "s/^smtp[[:space:]]+inet[[:space:]].*/127.0.0.1:$port inet n - n - - smtpd/" \
  -e 's/^(\S+\s+(unix|inet|unix-dgram|fifo|pass)\s+\S+\s+\S+\s+)y(\s.*)$/\1n\3/' /usr/share/postfix/master.cf.dist > "$dir/conf/master.cf"
chown postfix "$dir/data"
/usr/sbin/postfix -c "$dir/conf" check   # creates the queue folders with their owners
setsid /usr/lib/postfix/sbin/master -c "$dir/conf" -d > "$dir/master.out" 2>&1 < /dev/null &
echo $!

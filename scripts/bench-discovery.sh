#!/usr/bin/env bash
# Discovery benchmarks:
#  - HTTP: one scan of the guide's five ports (3000, 3001, 8000, 8080,
#    5000) on every address of 127.0.0.1-127.0.0.254, against the floor of
#    bare TCP connects to the same 1270 addresses with the same pool.
#  - mDNS: a fresh DNS-SD browse (every type enumerated, empty cache) until
#    20 services published by avahi-daemon are resolved, inside a network
#    namespace created here (needs root, iproute2 and avahi-daemon), next
#    to avahi-browse resolving the same 20 services in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-scripts/out}
mkdir -p "$out"

metric() {
	awk -v b="$2" -v u="$3" '$1 ~ "^"b"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == u) print $i }' "$1" | tail -n 1
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
ms() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1e6 }'; }

f="$out/discovery-http.txt"
go test -run '^$' -bench 'BenchmarkScanLoopback254|BenchmarkDialOnly254' -benchtime "${DISCOVERY_BENCH_N:-20}x" ./host/discovery/httpscan | tee "$f"
s=$(metric "$f" BenchmarkScanLoopback254 ns/op)
d=$(metric "$f" BenchmarkDialOnly254 ns/op)
echo
echo "discovery http: 5 ports x 254 loopback addresses in $(ms "$s") ms; bare TCP connects $(ms "$d") ms; scan/connects $(ratio "$s" "$d")"

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v avahi-daemon >/dev/null; then
	echo "discovery mdns: skipped (needs root, iproute2 and avahi-daemon; apt-get install avahi-daemon avahi-utils dbus)"
	exit 0
fi
ns="heady-bench-$$"
tmp=$(mktemp -d)
cleanup() {
	for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link set lo multicast on
ip -n "$ns" route add 224.0.0.0/4 dev lo src 127.0.0.1
mkdir -p "$tmp/services"
for i in $(seq -w 1 20); do
	cat >"$tmp/services/svc$i.service" <<XML
<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<service-group>
  <name>bench service $i</name>
  <service><type>_http._tcp</type><port>80$i</port><txt-record>n=$i</txt-record></service>
</service-group>
XML
done
cat >"$tmp/avahi.conf" <<CONF
[server]
host-name=heady-bench
use-ipv4=yes
use-ipv6=no
allow-interfaces=lo
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
CONF
go test -c -o "$tmp/mdns.test" ./host/discovery/mdns
cat >"$tmp/run.sh" <<SH
set -e
mkdir -p /run/dbus /run/avahi-daemon
mount -t tmpfs tmpfs /run/dbus
mount -t tmpfs tmpfs /run/avahi-daemon
mount --bind $tmp/services /etc/avahi/services
dbus-daemon --system --fork --nopidfile
avahi-daemon -f $tmp/avahi.conf --no-drop-root --no-chroot >$tmp/avahi.log 2>&1 &
for i in \$(seq 1 100); do
	[ "\$(grep -c 'successfully established' $tmp/avahi.log 2>/dev/null)" -ge 20 ] && break
	sleep 0.1
done
cd $tmp
HEADY_MDNS_LIVE=1 ./mdns.test -test.run '^\$' -test.bench BenchmarkBrowse20 -test.benchtime ${MDNS_BENCH_N:-10}x
if command -v avahi-browse >/dev/null; then
	best=0
	for i in 1 2 3; do
		s=\$(date +%s%N)
		avahi-browse -r -t -p _http._tcp 2>/dev/null | grep -c '^=' >$tmp/n || true
		e=\$(date +%s%N)
		echo "avahi-browse-run \$(( e - s )) ns/op \$(cat $tmp/n) resolved"
	done
fi
SH
f="$out/discovery-mdns.txt"
ip netns exec "$ns" unshare -m --propagation private sh "$tmp/run.sh" | tee "$f"
b=$(metric "$f" BenchmarkBrowse20 ns/op)
a=$(awk '$1 == "avahi-browse-run" { v = $2 } END { print v }' "$f")
echo
echo "discovery mdns: browse resolving 20 published services in $(ms "$b") ms; avahi-browse (-r -t, same services, same run) $(ms "${a:-0}") ms; heady/avahi-browse $(ratio "$b" "${a:-0}")"

#!/usr/bin/env bash
# The .deb as a technician meets it: built from the tree, checked by
# lintian (no errors), installed with dpkg on this machine, its unit
# verified and scored by systemd-analyze (exposure at most 2.0), and
# purged again. Needs root (CI runs as root). Prints its figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
fail() { echo "FAIL: $*" >&2; exit 1; }

deb=$(scripts/package.sh | tail -1)
echo "FIGURE deb: $(basename "$deb"), $(stat -c %s "$deb") bytes"

lintian_out=$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -v "running with root privileges" || true)
echo "$lintian_out" | sed 's/^/lintian: /'
if echo "$lintian_out" | grep -q "^E: "; then fail "lintian reports errors"; fi
echo "FIGURE deb: lintian $(echo "$lintian_out" | grep -c '^E: ' || true) errors," \
  "$(echo "$lintian_out" | grep -c '^W: ' || true) warnings"

unit=packaging/sensor-gateway.service
exposure=$(systemd-analyze security --offline=true "$unit" 2>/dev/null |
  sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || fail "systemd-analyze printed no exposure level"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "exposure $exposure is above 2.0"
echo "FIGURE unit: systemd-analyze security exposure $exposure (at most 2.0)"

cleanup() {
  dpkg --purge sensor-gateway >/dev/null 2>&1 || true
  deluser --system sensor-gateway >/dev/null 2>&1 || true
}
trap cleanup EXIT
dpkg -i "$deb" >/dev/null
/usr/bin/sensor-gateway --version | grep -q "sensor-gateway" || fail "the installed binary does not run"
id -nG sensor-gateway | grep -qw dialout || fail "user sensor-gateway is not in group dialout"
[ "$(stat -c '%a %G' /etc/sensor-gateway/gateway.ini)" = "640 sensor-gateway" ] ||
  fail "gateway.ini is $(stat -c '%a %G' /etc/sensor-gateway/gateway.ini), not 640 sensor-gateway"
grep -qx /etc/sensor-gateway/gateway.ini /var/lib/dpkg/info/sensor-gateway.conffiles ||
  fail "gateway.ini is not a conffile"
for page in man8/sensor-gateway.8.gz man5/sensor-gateway.ini.5.gz; do
  zcat "/usr/share/man/$page" | grep -q '^\.TH' || fail "no man page $page"
done
/usr/bin/sensor-gateway --check-config /etc/sensor-gateway/gateway.ini --offline >/dev/null ||
  fail "the shipped configuration does not pass --check-config --offline"
# This machine has no RS-485 adapter: the full check must say so (exit 1).
set +e
host_check=$(/usr/bin/sensor-gateway --check-config /etc/sensor-gateway/gateway.ini 2>&1)
host_rc=$?
set -e
[ $host_rc -eq 1 ] && echo "$host_check" | grep -q "/dev/ttyUSB0 does not exist" ||
  fail "--check-config did not report the missing serial adapter (exit $host_rc): $host_check"
verify=$(systemd-analyze verify /lib/systemd/system/sensor-gateway.service 2>&1) ||
  fail "systemd-analyze verify failed: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify complains: $verify"
echo "FIGURE deb: installed (binary, unit, user in dialout, conffile 640, man pages), the shipped" \
  "configuration passes --check-config --offline (the full check names the missing adapter)," \
  "systemd-analyze verify clean"

dpkg --purge sensor-gateway >/dev/null
[ ! -e /usr/bin/sensor-gateway ] || fail "the binary is still there after purge"
[ ! -e /etc/sensor-gateway/gateway.ini ] || fail "the conffile is still there after purge"
echo "FIGURE deb: purged cleanly"

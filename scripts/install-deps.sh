#!/usr/bin/env bash
# Installs the Debian 12 packages the gateway and its demo need; with --test
# also what only the test suite uses (libfaketime for clock jumps, clang's
# libFuzzer for the fuzz targets, valgrind for memcheck, python3-jsonschema
# to check every message against docs/schemas, sqlite3 to write an old-version
# store file, mbpoll to read the stubs as an independent Modbus master,
# python3-prometheus-client to parse the metrics file as Prometheus does,
# postgresql-15 and python3-psycopg for the consumer on PostgreSQL).
# Runs apt-get only when something is missing, so it is cheap to repeat.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libmodbus-dev libpaho-mqtt-dev libsqlite3-dev libinih-dev libsystemd-dev libjson-c-dev
  libssl-dev
  libcmocka-dev
  mosquitto mosquitto-clients openssl
  python3 tzdata
  # the reference dashboard consumer the demo starts (examples/dashboard-consumer)
  python3-paho-mqtt python3-matplotlib
)
if [ "${1:-}" = "--test" ]; then
  PACKAGES+=(faketime clang libclang-rt-dev valgrind python3-jsonschema python3-jinja2 python3-prometheus-client sqlite3 mbpoll)
  # The county side: the reference consumer on PostgreSQL (test_county_ingest
  # and tests/bench/county.sh start servers of their own from these binaries).
  PACKAGES+=(postgresql-15 python3-psycopg)
  # The .deb: man pages, shared-library dependencies, its checks, the unit's.
  PACKAGES+=(scdoc dpkg-dev lintian file adduser systemd)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# A mirror caught mid-sync fails one index (seen: bookworm-security's
# armhf list); the others are fine, and so is installing from them.
$SUDO apt-get update -qq ||
  echo "install-deps: apt-get update reported errors; going on with the package lists it has" >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Installing postgresql-15 makes and starts a "main" cluster on port 5432;
# nothing here uses it (the tests run servers of their own): stop it.
if [[ " ${missing[*]} " == *" postgresql-15 "* ]] && command -v pg_ctlcluster >/dev/null; then
  $SUDO pg_ctlcluster 15 main stop 2>/dev/null || true
fi

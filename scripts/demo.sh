#!/usr/bin/env bash
# The demo: a local mosquitto on 127.0.0.1:18830, the visitor-counter stub over
# Modbus TCP (127.0.0.1:15020), the environmental stub over Modbus RTU on a
# pseudo-terminal, the gateway with config/examples/demo.ini, a subscriber
# printing the messages as they arrive, and the reference dashboard consumer
# (examples/dashboard-consumer) writing its daily report and chart every 10 s.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh >/dev/null

RUN=/tmp/sensor-gateway-demo
mkdir -p "$RUN"
pids=()
# The helpers run in sessions of their own so that Ctrl-C reaches only the
# gateway; cleanup then stops the rest in reverse order, broker last, so the
# gateway can still say 'offline'.
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping"
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
    [ "$i" -eq $((${#pids[@]}-1)) ] && sleep 0.3  # the subscriber prints 'offline'
  done
}
trap cleanup INT TERM EXIT

cat > "$RUN/mosquitto.conf" <<CONF
listener 18830 127.0.0.1
allow_anonymous true
CONF
setsid mosquitto -c "$RUN/mosquitto.conf" >"$RUN/mosquitto.log" 2>&1 &
pids+=($!)
setsid build/visitor-counter-stub --tcp 15020 >"$RUN/visitor-counter.log" 2>&1 &
pids+=($!)
setsid build/env-sensor-stub --rtu-pty --pty-link "$RUN/rs485-0" --unit 3 --baud 19200 --parity E \
  >"$RUN/env-sensor.log" 2>&1 &
pids+=($!)
# Wait (at most 5 s) until the stubs listen and the broker takes a client:
# a subscriber started earlier would be refused and show nothing.
for _ in $(seq 50); do
  [ -e "$RUN/rs485-0" ] && grep -q LISTENING "$RUN/visitor-counter.log" &&
    mosquitto_pub -h 127.0.0.1 -p 18830 -t demo/ready -n 2>/dev/null && break
  sleep 0.1
done

setsid mosquitto_sub -h 127.0.0.1 -p 18830 -v -t 'smartregion/#' &
pids+=($!)
setsid /usr/bin/python3 examples/dashboard-consumer/consumer.py run --port 18830 \
  --db "$RUN/dashboard.db" --report-dir "$RUN/report" --report-every 10 >"$RUN/consumer.log" 2>&1 &
pids+=($!)
sleep 0.3
echo "demo: gateway log in $RUN/gateway.log; dashboard report (every 10 s, counts each minute)"
echo "demo: in $RUN/report/report.md and report.png; messages below (Ctrl-C to stop)"
build/sensor-gateway --config config/examples/demo.ini 2>"$RUN/gateway.log" &
pids+=($!)
wait "${pids[-1]}"

#!/bin/bash
# SIPp caller driven by a scenario CSV in the report's format (3.3.3):
#   caller;callee;wait_before_next_in_ms;seconds_since_start;arrival_rate_in_s
# SIPp starts at the first second's rate; every second the rate of that
# second is sent to its control port (`cset rate N`), and at the end `q`
# lets the calls in progress finish. Per-call ids are not used: SIPp calls
# the one registered `callee` as `caller` (see config/sipp/).
# Env: POD_IP, SIP_TARGET, SCENARIO (file), CALL_MS, CONTROL_PORT, WARMUP_S;
#      SIPP_DIR (scenario XMLs, default /etc/siplat/sipp), TMPDIR.
set -euo pipefail
SIPP_DIR=${SIPP_DIR:-/etc/siplat/sipp}
cd "${TMPDIR:-/tmp}"
# One "second rate" line per second, in order; a second without calls in
# the CSV has rate 0.
rates=$(awk -F';' 'NR > 1 && !($4 in seen) { seen[$4] = 1; print $4, $5 }' "$SCENARIO" \
    | sort -n | awk 'NR > 1 { for (s = prev + 1; s < $1; s++) print s, 0 } { print; prev = $1 }')
[ -n "$rates" ] || { echo "run-caller: no calls in $SCENARIO" >&2; exit 1; }
first_rate=$(printf '%s\n' "$rates" | head -n1 | cut -d' ' -f2)
last_sec=$(printf '%s\n' "$rates" | tail -n1 | cut -d' ' -f1)
echo "run-caller: $(($(wc -l < "$SCENARIO") - 1)) calls over $((last_sec + 1)) s; warm-up ${WARMUP_S} s"
sleep "$WARMUP_S"
sipp -sf "$SIPP_DIR"/caller.xml -i "$POD_IP" -p 5070 -cp "$CONTROL_PORT" \
    -r "$first_rate" -rp 1000 -d "$CALL_MS" -recv_timeout 10000 -nostdin \
    -trace_stat -stf "${TMPDIR:-/tmp}/caller-stats.csv" -fd 10 "$SIP_TARGET" &
sipp_pid=$!
# Sleep until start + $1 seconds on the microsecond clock (bash 5
# EPOCHREALTIME): `date +%s` would put each rate change up to a second early.
sleep_until() {
    local due_us=$((start_us + $1 * 1000000)) now_us=${EPOCHREALTIME/./}
    if ((due_us > now_us)); then
        local wait_us=$((due_us - now_us))
        sleep "$((wait_us / 1000000)).$(printf '%06d' $((wait_us % 1000000)))"
    fi
}
# Only changes are sent: SIPp restarts its rate period on every `cset rate`,
# which costs about one call each time.
start_us=${EPOCHREALTIME/./}
current=$first_rate
while read -r sec rate; do
    [ "$rate" = "$current" ] && continue
    current=$rate
    sleep_until "$sec"
    echo "cset rate $rate" > "/dev/udp/127.0.0.1/$CONTROL_PORT"
done <<< "$rates"
# Play the last second out, then let the calls in progress finish.
sleep_until $((last_sec + 1))
echo q > "/dev/udp/127.0.0.1/$CONTROL_PORT"
rc=0
wait "$sipp_pid" || rc=$?
tail -n 1 "${TMPDIR:-/tmp}/caller-stats.csv" || true
exit "$rc"

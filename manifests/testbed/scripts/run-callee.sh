#!/bin/bash
# SIPp callee: register the `callee` AoR through the load balancer (its
# Contact is this pod's IP and the UAS port), re-register every
# REREGISTER_S seconds (the report's periodic re-registration load, 4.5) and
# answer calls on CALLEE_PORT until the pod stops.
# Env: POD_IP, SIP_TARGET (host:port of sip-loadb), CALLEE_PORT,
#      REGISTER_PORT, REREGISTER_S; SIPP_DIR (scenario XMLs), TMPDIR.
set -euo pipefail
SIPP_DIR=${SIPP_DIR:-/etc/siplat/sipp}
cd "${TMPDIR:-/tmp}"
# Two SIPp processes in one pod: each needs its own control port (SIPp
# exits when it cannot bind its default 8888).
sipp -sf "$SIPP_DIR"/callee.xml -i "$POD_IP" -p "$CALLEE_PORT" -cp 8890 \
    -nostdin -recv_timeout 30000 "$SIP_TARGET" &
uas=$!
trap 'kill "$uas" 2>/dev/null; exit 0' TERM INT
while kill -0 "$uas" 2>/dev/null; do
    if ! sipp -sf "$SIPP_DIR"/register.xml -i "$POD_IP" -p "$REGISTER_PORT" \
        -cp 8891 -key callee_port "$CALLEE_PORT" -m 1 -nostdin -timeout 10s "$SIP_TARGET"; then
        echo "run-callee: REGISTER failed, retrying in 5 s" >&2
        sleep 5
        continue
    fi
    sleep "$REREGISTER_S" &
    wait $! || true
done
wait "$uas"

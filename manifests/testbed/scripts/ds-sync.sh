#!/bin/sh
# Keep Kamailio's dispatcher set 1 equal to the ready sip-proxy pods.
# The headless Service's DNS name resolves to ready endpoints only; when the
# sorted address list changes, rewrite the list file atomically and reload.
# Sorted, so every load-balancer replica holds the same order and therefore
# hashes a Call-ID to the same proxy.
# Env: DS_SERVICE, DS_LIST_FILE, CTL_SOCKET, DS_SYNC_PERIOD (s),
#      DS_EMPTY_CONFIRM (polls an empty answer must persist, default 3).
set -u
: "${DS_SERVICE:?}" "${DS_LIST_FILE:?}" "${CTL_SOCKET:?}"
period=${DS_SYNC_PERIOD:-2}
confirm=${DS_EMPTY_CONFIRM:-3}
applied="unset"
empty_polls=0
[ -e "$DS_LIST_FILE" ] || : > "$DS_LIST_FILE"
while :; do
    addrs=$(getent ahostsv4 "$DS_SERVICE" 2>/dev/null | awk '{print $1}' \
        | sort -u -t. -k1,1n -k2,2n -k3,3n -k4,4n)
    if [ -z "$addrs" ]; then
        # No ready proxy, or a DNS hiccup: only believe it when it lasts.
        empty_polls=$((empty_polls + 1))
        if [ "$empty_polls" -lt "$confirm" ] && [ "$applied" != "unset" ]; then
            sleep "$period"
            continue
        fi
    else
        empty_polls=0
    fi
    want=$(for a in $addrs; do printf '1 sip:%s:5060\n' "$a"; done)
    if [ "$want" != "$applied" ]; then
        tmp="$DS_LIST_FILE.tmp"
        if [ -n "$want" ]; then printf '%s\n' "$want" > "$tmp"; else : > "$tmp"; fi
        mv "$tmp" "$DS_LIST_FILE"
        # kamcmd exits 0 even when the reload is refused: check the reply.
        if out=$(kamcmd -s "$CTL_SOCKET" dispatcher.reload 2>&1) \
            && ! printf '%s' "$out" | grep -qi 'error\|500'; then
            applied=$want
            echo "ds-sync: dispatcher set now $(printf '%s' "$addrs" | grep -c .) proxies"
        else
            # Kamailio not up yet (first round) or busy: retry next poll.
            echo "ds-sync: reload not applied: $out" >&2
        fi
    fi
    sleep "$period"
done

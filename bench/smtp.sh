#!/usr/bin/env bash
# Inbound SMTP: Postfix's smtp-source sends N messages of SIZE bytes over SESSIONS parallel
# sessions to Tern's MX, and the same to the reference pipeline (Postfix -> Dovecot LMTP).
# Prints accepted/s (all 250s received) and delivered/s (all messages visible in the
# recipients' INBOX) for both, and the Tern/reference ratios. Every message Tern accepts is
# durable when its 250 is sent; Postfix's 250 means "in Postfix's queue".
#
#   bench/smtp.sh [N=5000] [SIZE=5120] [SESSIONS=20]
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

count=${1:-5000}
size=${2:-5120}
sessions=${3:-20}
(( count % sessions == 0 )) || die "N ($count) must be a multiple of SESSIONS ($sessions)"
per_session=$((count / sessions))
command -v smtp-source >/dev/null || apt_install postfix
mkdir -p "$WORK/results"

# One user per session, on both sides (users.sh starts the reference servers).
"$BENCH_DIR/users.sh" "$sessions" >&2
ensure_tern

now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# Runs the load against host:port, one smtp-source per user, SESSIONS in parallel.
send_load() {
    local port=$1 i pids=()
    for i in $(seq 1 "$sessions"); do
        smtp-source -s 1 -m "$per_session" -l "$size" -M bench-client.test \
            -f "sender@remote.test" -t "user$i@$BENCH_DOMAIN" "127.0.0.1:$port" &
        pids+=($!)
    done
    local failed=0
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    [[ $failed == 0 ]] || die "smtp-source failed against port $port"
}

# Messages in every bench user's INBOX, summed.
tern_count() {
    local total=0 i n
    for i in $(seq 1 "$sessions"); do
        n=$("$TERN_BIN" --data-dir "$TERN_DATA" mail list "user$i@$BENCH_DOMAIN" 2>/dev/null | wc -l)
        total=$((total + n))
    done
    echo "$total"
}
dovecot_count() {
    local total=0 i n
    for i in $(seq 1 "$sessions"); do
        n=$(doveadm -c "$DOVECOT_CONF" mailbox status -u "user$i@$BENCH_DOMAIN" messages INBOX \
            2>/dev/null | grep -oE '[0-9]+$' || echo 0)
        total=$((total + n))
    done
    echo "$total"
}

# Waits until COUNTER reports TARGET messages; prints the time it happened.
wait_delivered() {
    local counter=$1 target=$2 deadline
    deadline=$(( $(date +%s) + 600 ))
    while (( $($counter) < target )); do
        (( $(date +%s) < deadline )) || die "$counter: only $($counter) of $target delivered after 600 s"
        sleep 0.2
    done
    now
}

# --- Tern ------------------------------------------------------------------------------------
conf="$WORK/tern-smtp-bench.toml"
cat >"$conf" <<CONF
data_dir = "$TERN_DATA"
hostname = "tern.bench.test"

[smtp]
verify = false                     # the reference does no SPF/DKIM/DMARC either
greeting_delay_ms = 0              # nor a postscreen-style greeting pause
max_messages_per_connection = 1000000

[listen]
smtp = "127.0.0.1:0"
CONF
rm -f "$TERN_DATA/listening.json"
"$TERN_BIN" --config "$conf" serve >"$WORK/results/tern-smtp-serve.log" 2>&1 &
tern_pid=$!
trap 'kill -TERM "$tern_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
    [[ -s "$TERN_DATA/listening.json" ]] && break
    kill -0 "$tern_pid" 2>/dev/null || { cat "$WORK/results/tern-smtp-serve.log" >&2; die "tern serve exited"; }
    sleep 0.1
done
tern_port=$(grep -oE '"smtp": "127.0.0.1:[0-9]+"' "$TERN_DATA/listening.json" | grep -oE '[0-9]+"$' | tr -d '"')
[[ -n $tern_port ]] || die "no smtp port in $TERN_DATA/listening.json"

base=$(tern_count)
log "Tern: $count messages of $size bytes over $sessions sessions to 127.0.0.1:$tern_port"
t0=$(now)
send_load "$tern_port"
t_accept=$(now)
t_deliver=$(wait_delivered tern_count $((base + count)))
kill -TERM "$tern_pid"; wait "$tern_pid" 2>/dev/null || true
trap - EXIT

# --- reference: Postfix -> Dovecot LMTP --------------------------------------------------------
base=$(dovecot_count)
log "reference: the same to Postfix 127.0.0.1:$POSTFIX_SMTP_PORT -> Dovecot LMTP"
r0=$(now)
send_load "$POSTFIX_SMTP_PORT"
r_accept=$(now)
r_deliver=$(wait_delivered dovecot_count $((base + count)))

tern_acc=$(rate "$count" "$(awk -v a="$t_accept" -v b="$t0" 'BEGIN{print a-b}')")
tern_del=$(rate "$count" "$(awk -v a="$t_deliver" -v b="$t0" 'BEGIN{print a-b}')")
ref_acc=$(rate "$count" "$(awk -v a="$r_accept" -v b="$r0" 'BEGIN{print a-b}')")
ref_del=$(rate "$count" "$(awk -v a="$r_deliver" -v b="$r0" 'BEGIN{print a-b}')")
report="$WORK/results/smtp-$count.txt"
{
    echo "SMTP inbound: $count messages x $size bytes, $sessions parallel sessions (smtp-source)"
    printf '%-28s %12s %14s\n' server accepted/s delivered/s
    printf '%-28s %12s %14s\n' "Tern MX" "$tern_acc" "$tern_del"
    printf '%-28s %12s %14s\n' "Postfix -> Dovecot LMTP" "$ref_acc" "$ref_del"
    printf '%-28s %12s %14s\n' "ratio Tern/reference" "$(ratio "$tern_acc" "$ref_acc")" "$(ratio "$tern_del" "$ref_del")"
} | tee "$report"

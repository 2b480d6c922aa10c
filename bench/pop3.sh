#!/usr/bin/env bash
# POP3 benchmark, Tern vs Dovecot, in one run on this machine: USERS users with MESSAGES
# messages each; CLIENTS clients loop LOGIN, STAT, UIDL, RETR of every message, QUIT (no
# deletes) for SECONDS against each server in turn. Prints RETR/s, sessions/s and the peak
# memory of each server's process tree during the run, and the Tern/Dovecot ratios.
#
#   bench/pop3.sh [USERS=100] [MESSAGES=200] [CLIENTS=20] [SECONDS=30]
#
# The load generator is tests/src/bin/pop3_bench.rs (release build). Both servers get the
# same mailboxes: one generated mbox (bench/genmail.py, fixed seed) imported into every user.
# A copy of the report goes to bench/work/results/.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

users=${1:-100}
messages=${2:-200}
clients=${3:-20}
seconds=${4:-30}
for n in "$users" "$messages" "$clients" "$seconds"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "usage: $0 [USERS] [MESSAGES] [CLIENTS] [SECONDS] (positive numbers)"
done
(( users % clients == 0 )) || die "USERS must be a multiple of CLIENTS (one session per maildrop)"

"$BENCH_DIR/reference.sh" start
ensure_tern
mkdir -p "$CACHE_DIR" "$WORK/results"
log "building the load generator (release)"
(cd "$REPO_DIR" && cargo build --release -q -p tern-tests --bin pop3-bench) >&2
target_dir=${CARGO_TARGET_DIR:-$REPO_DIR/target}
loadgen="$target_dir/release/pop3-bench"
[[ -x $loadgen ]] || die "no load generator at $loadgen"

# Users on both sides (idempotent), then the same mbox into every INBOX that lacks it.
"$BENCH_DIR/users.sh" "$users"
gen_hash=$(sha256sum "$BENCH_DIR/genmail.py" | cut -c1-8)
mbox="$CACHE_DIR/pop3-$messages-$gen_hash.mbox"
if [[ ! -s $mbox ]]; then
    log "generating $messages messages into $mbox"
    python3 "$BENCH_DIR/genmail.py" --count "$messages" --out "$mbox" --format mbox \
        --to "user1@$BENCH_DOMAIN" 2>/dev/null
fi
chmod a+r "$mbox"

log "filling $users mailboxes on both sides (skipped where already full)"
for i in $(seq 1 "$users"); do
    user="user$i@$BENCH_DOMAIN"
    have=$(doveadm -c "$DOVECOT_CONF" mailbox status -u "$user" messages INBOX 2>/dev/null | grep -oE '[0-9]+$' || echo 0)
    if [[ $have != "$messages" ]]; then
        doveadm -c "$DOVECOT_CONF" expunge -u "$user" mailbox INBOX all 2>/dev/null || true
        doveadm -c "$DOVECOT_CONF" import -u "$user" "mbox:/nonexistent:INBOX=$mbox:INDEX=MEMORY" "" all \
            || die "doveadm import for $user failed"
    fi
    # Tern's import skips messages the mailbox already holds, so re-running adds nothing.
    tern --data-dir "$TERN_DATA" import "$user" --mbox "$mbox" >/dev/null 2>&1 \
        || die "tern import for $user failed"
done

# Sums VmRSS and Pss over a process tree every half second while a command runs; prints
# "peak_rss_kb peak_pss_kb" when it ends.
peak_memory_during() {
    local root=$1 out=$2
    shift 2
    "$@" >"$out" &
    local load=$! peak_rss=0 peak_pss=0 rss pss pid
    while kill -0 "$load" 2>/dev/null; do
        rss=0 pss=0
        for pid in $(proc_tree "$root"); do
            rss=$((rss + $(proc_rss_kb "$pid")))
            pss=$((pss + $(proc_pss_kb "$pid")))
        done
        (( rss > peak_rss )) && peak_rss=$rss
        (( pss > peak_pss )) && peak_pss=$pss
        sleep 0.5
    done
    wait "$load" || die "load generator failed: $(tail -3 "$out")"
    echo "$peak_rss $peak_pss"
}

results=()   # lines: name sessions retrs bytes errors seconds peak_rss_kb peak_pss_kb

# --- Tern --------------------------------------------------------------------------------
serve_conf="$WORK/tern-pop3.toml"
cat >"$serve_conf" <<CONF
data_dir = "$TERN_DATA"
hostname = "localhost"

[listen]
pop3 = "127.0.0.1:0"
CONF
start_tern_serve "$TERN_DATA" "$serve_conf" "$WORK/results/tern-pop3-serve.log"
tern_pid=$TERN_SERVE_PID
tern_addr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pop3"])' "$TERN_DATA/listening.json")
log "Tern: $clients clients for $seconds s on $tern_addr"
memory=$(peak_memory_during "$tern_pid" "$WORK/results/tern-pop3.out" \
    "$loadgen" "$tern_addr" "$users" "$BENCH_DOMAIN" "$BENCH_PASSWORD" "$clients" "$seconds")
read -r _ s _ r _ b _ e _ t _ <"$WORK/results/tern-pop3.out"
results+=("Tern $s $r $b $e $t $memory")
kill -TERM "$tern_pid"
wait "$tern_pid" 2>/dev/null || true

# --- Dovecot -----------------------------------------------------------------------------
"$BENCH_DIR/reference.sh" restart dovecot
sleep 1
dovecot_pid=$(cat "$RUN_DIR/dovecot.pid")
log "Dovecot: $clients clients for $seconds s on 127.0.0.1:$DOVECOT_POP3_PORT"
memory=$(peak_memory_during "$dovecot_pid" "$WORK/results/dovecot-pop3.out" \
    "$loadgen" "127.0.0.1:$DOVECOT_POP3_PORT" "$users" "$BENCH_DOMAIN" "$BENCH_PASSWORD" "$clients" "$seconds")
read -r _ s _ r _ b _ e _ t _ <"$WORK/results/dovecot-pop3.out"
results+=("Dovecot $s $r $b $e $t $memory")

# --- report ------------------------------------------------------------------------------
report="$WORK/results/pop3-$users-$messages-$(date +%Y%m%d-%H%M%S).txt"
{
    echo "POP3: $users users x $messages messages, $clients clients, ${seconds} s each, $(nproc) cores"
    echo "loop: USER/PASS, STAT, UIDL, RETR 1..$messages, QUIT (no deletes); Dovecot $(dovecot --version | cut -d' ' -f1) ${DOVECOT_MAIL_FORMAT:-sdbox}"
    echo
    printf '%-8s %9s %9s %8s %10s %10s %7s %13s %13s\n' server sessions RETRs errors RETR/s sessions/s MB/s "peak RSS MB" "peak PSS MB"
    for line in "${results[@]}"; do
        read -r name s r b e t rss pss <<<"$line"
        awk -v n="$name" -v s="$s" -v r="$r" -v b="$b" -v e="$e" -v t="$t" -v rss="$rss" -v pss="$pss" 'BEGIN {
            printf "%-8s %9d %9d %8d %10.0f %10.1f %7.1f %13.1f %13.1f\n",
                n, s, r, e, r / t, s / t, b / t / 1048576, rss / 1024, pss / 1024 }'
    done
    read -r _ _ tr _ _ tt trss tpss <<<"${results[0]}"
    read -r _ _ dr _ _ dt drss dpss <<<"${results[1]}"
    awk -v tr="$tr" -v tt="$tt" -v dr="$dr" -v dt="$dt" -v trss="$trss" -v drss="$drss" \
        -v tpss="$tpss" -v dpss="$dpss" 'BEGIN {
        printf "Tern/Dovecot: RETR/s %.2fx (higher is better; target >= 2x), peak RSS %.2fx, peak PSS %.2fx (lower is better)\n",
            (tr / tt) / (dr / dt), trss / drss, tpss / dpss }'
    echo "Logins: Dovecot verifies Argon2id (users.sh hashes: m=64 MiB, t=3) at every login, even with"
    echo "its auth cache (which caches the hash, not the verification); Tern's hashes are m=19 MiB,"
    echo "t=2, and it caches successful verifications for 10 minutes, so repeated logins skip Argon2."
} | tee "$report"
log "report saved to $report"

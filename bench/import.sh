#!/usr/bin/env bash
# Import benchmark, Tern vs Dovecot, in one run on this machine:
#   (a) `tern import` of an N-message mbox into a fresh Tern data dir;
#   (b) `doveadm import` of the same mbox into a fresh Dovecot mailbox (sdbox, durable);
#   (c) idle memory: `tern serve` (IMAP+POP3+SMTP) vs the private Dovecot and Postfix.
# Prints time, msgs/s, peak RSS and on-disk size for each, and the Tern/Dovecot ratios.
#
#   bench/import.sh [N=100000]          SKIP_TERN=1 bench/import.sh N   (Dovecot side only)
#
# The mbox is generated once per N (bench/genmail.py, fixed seed) and cached under
# bench/work/cache. A copy of the report goes to bench/work/results/.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

count=${1:-100000}
[[ $count =~ ^[1-9][0-9]*$ ]] || die "usage: $0 [N] (a positive number of messages)"
user="user1@$BENCH_DOMAIN"
skip_tern=${SKIP_TERN:-0}

ensure_time
"$BENCH_DIR/reference.sh" start
[[ $skip_tern == 1 ]] || ensure_tern
mkdir -p "$CACHE_DIR" "$WORK/results"

# The Dovecot side needs user1 in its passwd-file; keep any larger user set users.sh made.
if ! grep -q "^$user:" "$DOVECOT_USERS" 2>/dev/null; then
    SKIP_TERN=1 "$BENCH_DIR/users.sh" 1
fi

mbox=$(generated_mbox "$count" "$user")
# Dovecot's import runs as $BENCH_USER and must be able to read the file.
chmod a+r "$mbox"
mbox_mb=$(du -m "$mbox" | cut -f1)
# Both importers read the mbox from the page cache, not from disk.
cat "$mbox" >/dev/null

results=()   # lines: name messages seconds peak_rss_mb store_mb

# Runs a command under GNU time; sets $elapsed (wall seconds) and $rss (peak RSS, MB).
timed() {
    local report=$1 out=$2 t0 t1
    shift 2
    sync
    t0=$(now)
    if ! /usr/bin/time -v -o "$report" "$@" >"$out" 2>&1; then
        cat "$out" >&2
        die "failed: $*"
    fi
    t1=$(now)
    elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    rss=$(peak_rss_mb "$report")
}

# --- (a) Tern ----------------------------------------------------------------------------
tern_import_dir="$WORK/tern-import"
if [[ $skip_tern != 1 ]]; then
    log "Tern: importing $count messages"
    rm -rf "$tern_import_dir"
    mkdir -p "$tern_import_dir"
    setup_log="$WORK/results/tern-setup.log"
    tern --data-dir "$tern_import_dir" domain add "$BENCH_DOMAIN" >"$setup_log" 2>&1 \
        || die "tern domain add failed: $(tail -3 "$setup_log")"
    tern --data-dir "$tern_import_dir" user add "$user" --password "$BENCH_PASSWORD" >>"$setup_log" 2>&1 \
        || die "tern user add failed: $(tail -3 "$setup_log")"
    timed "$WORK/results/tern-import.time" "$WORK/results/tern-import.out" \
        "$TERN_BIN" --data-dir "$tern_import_dir" import "$user" --mbox "$mbox"
    # The CLI's summary line: "imported N, skipped M".
    imported=$(grep -oE 'imported [0-9]+' "$WORK/results/tern-import.out" | tail -1 | cut -d' ' -f2)
    [[ -n $imported ]] || die "no 'imported N' line from tern import: $(tail -3 "$WORK/results/tern-import.out")"
    [[ $imported == "$count" ]] || log "warning: Tern imported $imported of $count"
    results+=("Tern $imported $elapsed $rss $(du -sm "$tern_import_dir" | cut -f1)")
fi

# --- (b) Dovecot -------------------------------------------------------------------------
# `doveadm import SOURCE DEST_PARENT QUERY` copies every message matching QUERY from another
# mail location into the user's mailboxes: here the mbox file as the source's INBOX, DEST_PARENT
# "" keeps the name (INBOX -> INBOX). INDEX=MEMORY keeps Dovecot from writing index files
# next to the source; the source root directory is never used (single-file mbox).
log "Dovecot: importing $count messages"
dovecot_home="$DOVECOT_DIR/mail/$BENCH_DOMAIN/user1"
rm -rf "$dovecot_home"
timed "$WORK/results/dovecot-import.time" "$WORK/results/dovecot-import.out" \
    doveadm -c "$DOVECOT_CONF" import -u "$user" "mbox:/nonexistent:INBOX=$mbox:INDEX=MEMORY" "" all
imported=$(doveadm -c "$DOVECOT_CONF" mailbox status -u "$user" messages INBOX | grep -oE '[0-9]+$')
[[ $imported == "$count" ]] || log "warning: Dovecot imported $imported of $count"
results+=("Dovecot $imported $elapsed $rss $(du -sm "$dovecot_home" | cut -f1)")

# --- (c) idle memory ---------------------------------------------------------------------
# Sum of VmRSS (counts shared pages once per process) and of Pss (shares them out) over a
# process tree: for one process both are close; for a forking server Pss is the fair sum.
tree_memory() {
    local pid rss_kb=0 pss_kb=0 n=0
    for pid in $(proc_tree "$1"); do
        rss_kb=$((rss_kb + $(proc_rss_kb "$pid")))
        pss_kb=$((pss_kb + $(proc_pss_kb "$pid")))
        n=$((n + 1))
    done
    echo "$n $rss_kb $pss_kb"
}

idle=()   # lines: name processes rss_kb pss_kb
if [[ $skip_tern != 1 ]]; then
    # Tern serves the data dir it just imported into: all services a Dovecot+Postfix pair
    # offers here (IMAP, POP3, SMTP), on ephemeral loopback ports.
    serve_conf="$WORK/tern-serve.toml"
    cat >"$serve_conf" <<CONF
data_dir = "$tern_import_dir"
hostname = "localhost"

[listen]
imap = "127.0.0.1:0"
pop3 = "127.0.0.1:0"
smtp = "127.0.0.1:0"
CONF
    start_tern_serve "$tern_import_dir" "$serve_conf" "$WORK/results/tern-serve.log"
    tern_pid=$TERN_SERVE_PID
    sleep 2   # let start-up allocations settle
    idle+=("Tern $(tree_memory "$tern_pid")")
    kill -TERM "$tern_pid"
    wait "$tern_pid" 2>/dev/null || true
fi
# Fresh reference processes, as fresh as the Tern process just measured.
"$BENCH_DIR/reference.sh" restart
sleep 2
idle+=("Dovecot $(tree_memory "$(cat "$RUN_DIR/dovecot.pid")")")
idle+=("Postfix $(tree_memory "$(cat "$RUN_DIR/postfix.pid")")")

# --- report ------------------------------------------------------------------------------
report="$WORK/results/import-$count-$(date +%Y%m%d-%H%M%S).txt"
{
    echo "Import: $count messages, mbox $mbox_mb MB ($(basename "$mbox")), $(nproc) cores"
    echo "Dovecot $(dovecot --version | cut -d' ' -f1) ${DOVECOT_MAIL_FORMAT:-sdbox}; Tern $([[ $skip_tern == 1 ]] && echo '(not run)' || "$TERN_BIN" --version 2>/dev/null || echo '(no --version)')"
    echo
    printf '%-10s %10s %10s %10s %12s %10s\n' server messages seconds msgs/s "peak RSS MB" "store MB"
    for line in "${results[@]}"; do
        read -r name n secs mb store <<<"$line"
        printf '%-10s %10s %10s %10.0f %12s %10s\n' "$name" "$n" "$secs" \
            "$(awk -v n="$n" -v s="$secs" 'BEGIN { print (s > 0 ? n / s : 0) }')" "$mb" "$store"
    done
    if [[ ${#results[@]} -eq 2 ]]; then
        read -r _ tn ts tm tstore <<<"${results[0]}"
        read -r _ dn ds dm dstore <<<"${results[1]}"
        awk -v tn="$tn" -v ts="$ts" -v tm="$tm" -v dn="$dn" -v ds="$ds" -v dm="$dm" \
            -v tst="$tstore" -v dst="$dstore" 'BEGIN {
            printf "Tern/Dovecot: msgs/s %.2fx (higher is better), peak RSS %.2fx, store size %.2fx (lower is better)\n",
                (tn / ts) / (dn / ds), tm / dm, tst / dst }'
    fi
    echo
    printf '%-30s %10s %10s %10s\n' "idle, freshly started" processes "RSS MB" "PSS MB"
    for line in "${idle[@]}"; do
        read -r name n rss_kb pss_kb <<<"$line"
        case $name in
        Tern) label="Tern serve (IMAP+POP3+SMTP)" ;;
        Dovecot) label="Dovecot (IMAP+POP3+LMTP)" ;;
        Postfix) label="Postfix (SMTP)" ;;
        esac
        printf '%-30s %10s %10.1f %10.1f\n' "$label" "$n" "$(awk -v k="$rss_kb" 'BEGIN { print k / 1024 }')" \
            "$(awk -v k="$pss_kb" 'BEGIN { print k / 1024 }')"
    done
    if [[ ${#idle[@]} -eq 3 ]]; then
        read -r _ _ t_rss t_pss <<<"${idle[0]}"
        read -r _ _ d_rss d_pss <<<"${idle[1]}"
        read -r _ _ p_rss p_pss <<<"${idle[2]}"
        awk -v tr="$t_rss" -v tp="$t_pss" -v dr="$d_rss" -v dp="$d_pss" -v pr="$p_rss" -v pp="$p_pss" 'BEGIN {
            printf "Tern/Dovecot: RSS %.2fx, PSS %.2fx; Tern/(Dovecot+Postfix): RSS %.2fx, PSS %.2fx (lower is better)\n",
                tr / dr, tp / dp, tr / (dr + pr), tp / (dp + pp) }'
    fi
} | tee "$report"
log "report saved to $report"

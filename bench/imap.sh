#!/usr/bin/env bash
# IMAP benchmark, Tern vs Dovecot, in one run on this machine (issue 3):
#   (1) mixed persistent sessions: SELECT, FETCH (flags, envelope, bodies), SEARCH, STORE,
#       APPEND, EXPUNGE from CLIENTS clients over USERS users: operations/s, memory, and the
#       protocol errors a model of each session found (bench/imap_load.py CheckedImap);
#   (2) a connect-LOGIN-SELECT-LOGOUT loop: logins/s;
#   (3) one BIG-message mailbox: SELECT, STATUS, `UID FETCH 1:* (UID FLAGS ENVELOPE)`, SEARCH TEXT,
#       each five times (medians), timed by a raw socket reader so the client's parsing is
#       not in the figures;
#   (4) memory of IDLE_CONNS concurrent authenticated connections in IDLE;
#   (5) FETCH BODY.PEEK[] of one BIGMSG_MB MB message by 1 session, then by FETCHERS at once:
#       the server's memory added (bench/imap_bigfetch.py samples it every 20 ms).
# Prints each figure and the Tern/Dovecot ratio. The same Python client drives both sides
# (bench/imap_load.py). Never run in CI.
#
#   bench/imap.sh        environment: USERS=100 CLIENTS=20 RUN_SECONDS=30 MAILS=200 BIG=100000
#                        IDLE_CONNS=10000 DOVECOT_IDLE_CONNS=90 BIGMSG_MB=50 FETCHERS=20
#                        STEPS=12345 (which to run)
#
# Dovecot's reference config keeps its default process limits (100 imap processes), so its
# IDLE memory is measured over DOVECOT_IDLE_CONNS connections and reported per connection.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

users=${USERS:-100}
clients=${CLIENTS:-20}
seconds=${RUN_SECONDS:-30}
mails=${MAILS:-200}
big=${BIG:-100000}
idle_conns=${IDLE_CONNS:-10000}
steps=${STEPS:-12345}
bigmsg_mb=${BIGMSG_MB:-50}
fetchers=${FETCHERS:-20}
dovecot_idle=${DOVECOT_IDLE_CONNS:-90}
load="python3 $BENCH_DIR/imap_load.py"

ulimit -n 65536 2>/dev/null || log "cannot raise the open-file limit: $(ulimit -n)"
"$BENCH_DIR/reference.sh" start
ensure_tern
mkdir -p "$CACHE_DIR" "$WORK/results"
"$BENCH_DIR/users.sh" "$users"

gen_hash=$(sha256sum "$BENCH_DIR/genmail.py" | cut -c1-8)
mailbox() {   # mailbox N -> path of a cached N-message mbox
    local n=$1 mbox="$CACHE_DIR/mail-$1-$gen_hash.mbox"
    if [[ ! -s $mbox ]]; then
        log "generating $n messages into $mbox"
        python3 "$BENCH_DIR/genmail.py" --count "$n" --out "$mbox" --format mbox \
            --to "user1@$BENCH_DOMAIN" --stats "$mbox.stats.json" 2>/dev/null
    fi
    chmod a+r "$mbox"
    echo "$mbox"
}

# --- mail for every user, on both sides (skipped when already there) ---------------------
small=$(mailbox "$mails")
stamp="$WORK/imap-bench-mail-$users-$mails"
if [[ ! -e $stamp ]]; then
    log "importing $mails messages into each of $users users, both sides"
    for i in $(seq 1 "$users"); do
        u="user$i@$BENCH_DOMAIN"
        tern --data-dir "$TERN_DATA" import "$u" --mbox "$small" >/dev/null
        doveadm -c "$DOVECOT_CONF" import -u "$u" "mbox:/nonexistent:INBOX=$small:INDEX=MEMORY" "" all
    done
    touch "$stamp"
fi
bigbox=$(mailbox "$big")
big_user="user$users@$BENCH_DOMAIN"
big_stamp="$WORK/imap-bench-big-$users-$big"
if [[ ! -e $big_stamp ]]; then
    log "importing $big messages into $big_user's INBOX, both sides"
    tern --data-dir "$TERN_DATA" import "$big_user" --mbox "$bigbox" >/dev/null
    doveadm -c "$DOVECOT_CONF" import -u "$big_user" "mbox:/nonexistent:INBOX=$bigbox:INDEX=MEMORY" "" all
    touch "$big_stamp"
fi
# One message of about BIGMSG_MB MB (a base64 attachment) for step (5), in its own user's INBOX.
bigmsg_user="user$((users > 1 ? users - 1 : 1))@$BENCH_DOMAIN"
bigmsg_stamp="$WORK/imap-bench-bigmsg-$users-$bigmsg_mb"
if [[ $steps == *5* && ! -e $bigmsg_stamp ]]; then
    bigmsg="$CACHE_DIR/bigmsg-$bigmsg_mb.mbox"
    python3 - "$bigmsg" "$bigmsg_mb" "$bigmsg_user" <<'PY'
import base64, os, sys
path, mb, to = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = base64.encodebytes(os.urandom(mb * 1024 * 1024 * 3 // 4))
with open(path, "wb") as f:
    f.write(b"From bench@example.test Thu Jan  1 00:00:00 2026\n")
    f.write(f"From: bench@example.test\nTo: {to}\nSubject: big\nMIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=bb\n\n--bb\nContent-Type: text/plain\n\n"
            "see attachment\n--bb\nContent-Type: application/octet-stream\n"
            "Content-Transfer-Encoding: base64\n\n".encode())
    f.write(data.replace(b"\nFrom ", b"\n>From "))
    f.write(b"--bb--\n\n")
PY
    chmod a+r "$bigmsg"
    log "importing a $bigmsg_mb MB message into $bigmsg_user's INBOX, both sides"
    tern --data-dir "$TERN_DATA" import "$bigmsg_user" --mbox "$bigmsg" >/dev/null
    doveadm -c "$DOVECOT_CONF" import -u "$bigmsg_user" "mbox:/nonexistent:INBOX=$bigmsg:INDEX=MEMORY" "" all
    rm -f "$bigmsg"
    touch "$bigmsg_stamp"
fi
word=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(sorted(s["markers"], key=lambda k: s["markers"][k])[0])' "$bigbox.stats.json" 2>/dev/null || echo aardvark)

# --- Tern serve --------------------------------------------------------------------------
serve_conf="$WORK/tern-imap-bench.toml"
cat >"$serve_conf" <<CONF
data_dir = "$TERN_DATA"
hostname = "localhost"

[limits]
max_connections = $((idle_conns + 1000))
max_connections_per_ip = $((idle_conns + 1000))

[listen]
imap = "127.0.0.1:0"
CONF
rm -f "$TERN_DATA/listening.json"
"$TERN_BIN" --data-dir "$TERN_DATA" --config "$serve_conf" serve >"$WORK/results/tern-imap-serve.log" 2>&1 &
tern_pid=$!
trap 'kill -TERM $tern_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
    [[ -s "$TERN_DATA/listening.json" ]] && break
    sleep 0.1
done
tern_port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["imap"].rsplit(":",1)[1])' "$TERN_DATA/listening.json")

# An import leaves message text to the server's background indexer (crates/store/src/sqlite/
# search.rs); a server that has been up a while has indexed it. Wait for that, and report
# how long it took, before measuring.
pending() {
    python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro", uri=True); print(c.execute("SELECT count(*) FROM text_pending").fetchone()[0])' \
        "$TERN_DATA/store.sqlite"
}
t_index=$(date +%s.%N)
left=$(pending)
log "tern: waiting for the text index ($left messages pending)"
while (( $(pending) > 0 )); do sleep 1; done
log "tern: text index caught up: $left messages in $(awk -v a="$(date +%s.%N)" -v b="$t_index" 'BEGIN{printf "%.1f", a-b}') s"

tree_kb() {   # total PSS (kB) of a process tree
    local pid total=0
    for pid in $(proc_tree "$1"); do total=$((total + $(proc_pss_kb "$pid"))); done
    echo "$total"
}
dovecot_pid=$(cat "$RUN_DIR/dovecot.pid")
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

declare -A r
for k in mixed mixed_mem mixed_errors logins select_ms select_first_ms status_ms fetch_s search_s hits idle_conns idle_kb \
    big_one_kb big_many_kb big_many_peak_kb big_one_s big_many_s; do
    r[tern.$k]=-; r[dovecot.$k]=-
done
for side in tern dovecot; do
    if [[ $side == tern ]]; then port=$tern_port; pid=$tern_pid; else port=$DOVECOT_IMAP_PORT; pid=$dovecot_pid; fi
    if [[ $steps == *1* ]]; then
        log "$side: (1) mixed load, $clients clients over $users users, ${seconds}s"
        # Memory is sampled while the load runs: Dovecot's per-session processes exit after it.
        mixed_out="$WORK/results/mixed-$side.out"
        $load mixed --port "$port" --users "$users" --clients "$clients" --seconds "$seconds" >"$mixed_out" &
        loader=$!
        peak=0
        while kill -0 "$loader" 2>/dev/null; do
            now_kb=$(tree_kb "$pid")
            ((now_kb > peak)) && peak=$now_kb
            sleep 1
        done
        wait "$loader" || die "the mixed load failed on $side"
        r[$side.mixed]=$(field "$(cat "$mixed_out")" ops_per_s)
        r[$side.mixed_errors]=$(field "$(cat "$mixed_out")" protocol_errors)
        r[$side.mixed_mem]=$peak
    fi
    if [[ $steps == *2* ]]; then
        log "$side: (2) login loop, ${seconds}s"
        out=$($load logins --port "$port" --users "$users" --clients "$clients" --seconds "$seconds")
        r[$side.logins]=$(field "$out" logins_per_s)
    fi
    if [[ $steps == *3* ]]; then
        log "$side: (3) big mailbox ($big messages)"
        out=$($load bigbox --port "$port" --user "$big_user" --word "$word")
        for k in select_ms select_first_ms status_ms fetch_s search_s hits; do r[$side.$k]=$(field "$out" "$k"); done
    fi
    if [[ $steps == *4* ]]; then
        conns=$idle_conns
        [[ $side == dovecot ]] && conns=$dovecot_idle
        log "$side: (4) $conns connections in IDLE"
        before=$(tree_kb "$pid")
        # The idler holds its connections until its stdin (a fifo held open here) closes.
        fifo="$WORK/run/idle.fifo"
        idle_out="$WORK/results/idle-$side.out"
        rm -f "$fifo" "$idle_out"
        mkfifo "$fifo"
        $load idle --port "$port" --users "$users" --conns "$conns" <"$fifo" >"$idle_out" &
        idler=$!
        exec 7>"$fifo"
        until [[ -s $idle_out ]]; do
            kill -0 "$idler" 2>/dev/null || die "the IDLE client exited"
            sleep 0.5
        done
        ready_line=$(head -1 "$idle_out")
        sleep 2
        after=$(tree_kb "$pid")
        exec 7>&-
        wait "$idler" 2>/dev/null || true
        ready=$(field "$ready_line" ready)
        r[$side.idle_conns]=$ready
        r[$side.idle_kb]=$(awk -v a="$after" -v b="$before" -v n="$ready" 'BEGIN { printf "%.1f", (n > 0 ? (a - b) / n : 0) }')
    fi
    if [[ $steps == *5* ]]; then
        log "$side: (5) FETCH BODY.PEEK[] of a $bigmsg_mb MB message, 1 then $fetchers sessions"
        out=$(python3 "$BENCH_DIR/imap_bigfetch.py" --port "$port" --pid "$pid" --user "$bigmsg_user" \
            --sessions "$fetchers" --larger $((bigmsg_mb * 1000000 * 8 / 10)))
        echo "$out" >"$WORK/results/bigfetch-$side.json"
        # Tern is one process: its RSS. Dovecot forks per session: the PSS of its tree.
        kind=rss
        [[ $side == dovecot ]] && kind=pss
        r[$side.big_one_kb]=$(field "$out" "one_added_${kind}_kb")
        r[$side.big_many_kb]=$(field "$out" "many_added_${kind}_kb")
        r[$side.big_many_peak_kb]=$(field "$out" "many_peak_${kind}_kb")
        r[$side.big_one_s]=$(field "$out" one_s)
        r[$side.big_many_s]=$(field "$out" many_s)
    fi
done

report="$WORK/results/imap-$(date +%Y%m%d-%H%M%S).txt"
{
    echo "IMAP: $users users x $mails messages, $clients clients, ${seconds}s per run; big mailbox $big messages; $(nproc) cores"
    printf '%-44s %14s %14s %10s\n' measure Tern Dovecot Tern/Dovecot
    row() { printf '%-44s %14s %14s %10s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }
    row "(1) mixed ops/s (higher is better)" "${r[tern.mixed]}" "${r[dovecot.mixed]}"
    row "(1) protocol errors the session model saw (target 0)" "${r[tern.mixed_errors]}" "${r[dovecot.mixed_errors]}"
    row "(1) server peak PSS during the mixed run, kB" "${r[tern.mixed_mem]}" "${r[dovecot.mixed_mem]}"
    row "(2) logins/s (higher is better)" "${r[tern.logins]}" "${r[dovecot.logins]}"
    row "(3) SELECT ms, median of 5 (lower is better)" "${r[tern.select_ms]}" "${r[dovecot.select_ms]}"
    row "(3) the first of those SELECTs, ms" "${r[tern.select_first_ms]}" "${r[dovecot.select_first_ms]}"
    row "(3) STATUS (MESSAGES UNSEEN SIZE) ms, median" "${r[tern.status_ms]}" "${r[dovecot.status_ms]}"
    row "(3) UID FETCH 1:* (UID FLAGS ENVELOPE) s" "${r[tern.fetch_s]}" "${r[dovecot.fetch_s]}"
    row "(3) SEARCH TEXT \"$word\" s (hits ${r[tern.hits]}/${r[dovecot.hits]})" "${r[tern.search_s]}" "${r[dovecot.search_s]}"
    row "(4) kB per IDLE connection (${r[tern.idle_conns]}/${r[dovecot.idle_conns]})" "${r[tern.idle_kb]}" "${r[dovecot.idle_kb]}"
    row "(5) kB added, 1 session FETCH ${bigmsg_mb} MB" "${r[tern.big_one_kb]}" "${r[dovecot.big_one_kb]}"
    row "(5) kB added, $fetchers sessions at once" "${r[tern.big_many_kb]}" "${r[dovecot.big_many_kb]}"
    row "(5) server peak kB, $fetchers sessions" "${r[tern.big_many_peak_kb]}" "${r[dovecot.big_many_peak_kb]}"
    row "(5) s for 1 session / $fetchers sessions" "${r[tern.big_one_s]}/${r[tern.big_many_s]}" "${r[dovecot.big_one_s]}/${r[dovecot.big_many_s]}"
} | tee "$report"
log "report saved to $report"

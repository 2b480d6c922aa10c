# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts that source this file
# Shared settings for the bench/ scripts. Source it; it defines paths and helpers only.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
# Everything the reference servers and the benchmarks write lives here (gitignored).
WORK="${BENCH_WORK:-$BENCH_DIR/work}"
RUN_DIR="$WORK/run"          # pid files of what reference.sh started
CACHE_DIR="$WORK/cache"      # generated mail, kept between runs

# The unprivileged account that owns and runs the private Dovecot (created on demand).
BENCH_USER="${BENCH_USER:-ternbench}"
BENCH_DOMAIN="bench.test"
BENCH_PASSWORD="benchpass"

# Non-standard loopback ports, so nothing collides with a real mail server (25/110/143)
# nor with Tern's own defaults (2525/2110/2143).
# Each can be overridden from the environment to run a second reference set side by side.
DOVECOT_IMAP_PORT=${DOVECOT_IMAP_PORT:-3143}
DOVECOT_POP3_PORT=${DOVECOT_POP3_PORT:-3110}
DOVECOT_LMTP_PORT=${DOVECOT_LMTP_PORT:-3024}
POSTFIX_SMTP_PORT=${POSTFIX_SMTP_PORT:-3025}

DOVECOT_DIR="$WORK/dovecot"
DOVECOT_CONF="$DOVECOT_DIR/dovecot.conf"
DOVECOT_USERS="$DOVECOT_DIR/users"
POSTFIX_DIR="$WORK/postfix"
POSTFIX_CONF="$POSTFIX_DIR/etc"

# Tern: the binary under test and the data dir the serve-based benchmarks share.
TERN_BIN="${TERN_BIN:-$REPO_DIR/target/release/tern}"
TERN_DATA="$WORK/tern-data"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# Install Debian packages once per machine; `apt-get update` at most once per script run.
APT_UPDATED=0
apt_install() {
    if [[ $APT_UPDATED -eq 0 ]]; then
        apt-get update -qq >/dev/null
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

ensure_time() {
    [[ -x /usr/bin/time ]] || { log "installing GNU time"; apt_install time; }
}

# The Tern binary, built in release mode when missing (never gated on: benchmarks only).
ensure_tern() {
    if [[ ! -x "$TERN_BIN" ]]; then
        log "building Tern (release): $TERN_BIN missing"
        (cd "$REPO_DIR" && cargo build --release -p tern) >&2
    fi
    [[ -x "$TERN_BIN" ]] || die "no Tern binary at $TERN_BIN"
}

tern() { "$TERN_BIN" "$@"; }

# Starts `tern serve` on DATA_DIR with CONFIG (its log in LOG) in the background and waits,
# 30 s at most, for its listening.json. Sets TERN_SERVE_PID.
start_tern_serve() {
    local data_dir=$1 config=$2 log_file=$3
    rm -f "$data_dir/listening.json"
    "$TERN_BIN" --data-dir "$data_dir" --config "$config" serve >"$log_file" 2>&1 &
    TERN_SERVE_PID=$!
    for _ in $(seq 1 300); do
        [[ -s "$data_dir/listening.json" ]] && return 0
        kill -0 "$TERN_SERVE_PID" 2>/dev/null || { cat "$log_file" >&2; die "tern serve exited"; }
        sleep 0.1
    done
    kill "$TERN_SERVE_PID"
    die "tern serve wrote no listening.json in 30 s"
}

# Prints the path of the cached N-message mbox for USER, generating it when missing. The cache
# key includes the generator's hash: a changed genmail.py makes a new file.
generated_mbox() {
    local count=$1 user=$2 gen_hash mbox
    gen_hash=$(sha256sum "$BENCH_DIR/genmail.py" | cut -c1-8)
    mbox="$CACHE_DIR/mail-$count-$gen_hash.mbox"
    if [[ ! -s $mbox ]]; then
        log "generating $count messages into $mbox"
        python3 "$BENCH_DIR/genmail.py" --count "$count" --out "$mbox" --format mbox \
            --to "$user" --stats "$mbox.stats.json" 2>/dev/null
    fi
    printf '%s\n' "$mbox"
}

# Wall-clock seconds with nanoseconds, for timing a command.
now() { date +%s.%N; }

# Peak RSS in MB from a `/usr/bin/time -v -o FILE` report.
peak_rss_mb() {
    awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$1"
}

# Resident memory of one process in kB (VmRSS) and its proportional share (Pss), which
# does not double-count pages shared between processes (libraries, a forked master's).
proc_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
proc_pss_kb() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }

# A pid and all its descendants.
proc_tree() {
    local pid=$1 child
    echo "$pid"
    for child in $(pgrep -P "$pid" || true); do
        proc_tree "$child"
    done
}

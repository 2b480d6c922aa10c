#!/usr/bin/env bash
# Webmail benchmark (issue 6): a 10,000-message folder in Tern's webmail.
#   - server time (the W3C Server-Timing header Tern sends) and wall time over loopback for
#     the message list page, for opening a message, and for a body-text search over the folder;
#   - page weight of the list page (HTML plus its CSS, script and icon).
# Prints median and 95th percentile next to the issue's targets (list < 50 ms, search
# < 200 ms, list page < 100 KB). Never gates CI.
#
#   bench/webmail.sh [N=10000]
#
# No reference webmail runs alongside: Roundcube needs PHP, a web server and its own
# database on top of Dovecot, which this harness does not set up; the figures are compared
# with the targets instead.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

count=${1:-10000}
[[ $count =~ ^[1-9][0-9]*$ ]] || die "usage: $0 [N] (a positive number of messages)"
user="user1@$BENCH_DOMAIN"
ensure_tern
mkdir -p "$CACHE_DIR" "$WORK/results"

mbox=$(generated_mbox "$count" "$user")

data="$WORK/webmail-data"
rm -rf "$data"
mkdir -p "$data"
log "importing $count messages into a fresh Tern data dir"
tern --data-dir "$data" domain add "$BENCH_DOMAIN" >/dev/null
printf '%s\n' "$BENCH_PASSWORD" | tern --data-dir "$data" user add "$user" --password-stdin >/dev/null
tern --data-dir "$data" import "$user" --mbox "$mbox" >/dev/null 2>&1

report="$WORK/results/webmail-$count-$(date +%Y%m%d-%H%M%S).txt"
python3 "$BENCH_DIR/webmail.py" --tern "$TERN_BIN" --data-dir "$data" --user "$user" \
    --password "$BENCH_PASSWORD" --stats "$mbox.stats.json" | tee "$report"
log "report: $report"

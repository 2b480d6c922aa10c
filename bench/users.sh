#!/usr/bin/env bash
# Creates N users user1..userN@bench.test with password "benchpass" on both sides:
# the private Dovecot (passwd-file with ARGON2ID hashes; Postfix's mailbox table) and Tern
# (its CLI, on the data dir the serve-based benchmarks use, bench/work/tern-data).
#
#   bench/users.sh N            SKIP_TERN=1 bench/users.sh N   (reference side only)
#
# Re-running is fine: the Dovecot and Postfix tables are rewritten, and Tern users that
# already exist are reported and kept.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

count=${1:-}
[[ $count =~ ^[1-9][0-9]*$ ]] || die "usage: $0 N (a positive number of users)"

"$BENCH_DIR/reference.sh" start

# One hash for all users: they share the password, and `doveadm pw` costs ~0.1 s per call
# (Argon2id, 64 MiB, t=3). Each login still pays one full Argon2id verification.
hash=$(doveadm pw -s ARGON2ID -p "$BENCH_PASSWORD")
# shellcheck disable=SC2016  # literal dollars of the hash format
[[ $hash == '{ARGON2ID}$argon2id$'* ]] || die "unexpected doveadm pw output: $hash"

users_tmp="$DOVECOT_USERS.tmp"
mailbox_tmp="$POSTFIX_CONF/vmailbox.tmp"
: >"$users_tmp"
: >"$mailbox_tmp"
for i in $(seq 1 "$count"); do
    # passwd-file: user:password:uid:gid:gecos:home:shell:extra (userdb is static).
    printf 'user%d@%s:%s::::::\n' "$i" "$BENCH_DOMAIN" "$hash" >>"$users_tmp"
    printf 'user%d@%s OK\n' "$i" "$BENCH_DOMAIN" >>"$mailbox_tmp"
done
chown "$BENCH_USER:$BENCH_USER" "$users_tmp"
chmod 600 "$users_tmp"
# Dovecot re-reads a passwd-file when its mtime changes; Postfix's texthash tables are
# read at process start, hence the reload.
mv "$users_tmp" "$DOVECOT_USERS"
mv "$mailbox_tmp" "$POSTFIX_CONF/vmailbox"
postfix -c "$POSTFIX_CONF" reload >/dev/null 2>&1 || log "postfix reload failed"
# shellcheck disable=SC2016
log "reference: $count users in $DOVECOT_USERS ($(sed -E 's/.*\$(m=[^$]*)\$.*/\1/' <<<"$hash"))"

if [[ ${SKIP_TERN:-0} == 1 ]]; then
    log "SKIP_TERN=1: Tern users not created"
    exit 0
fi
ensure_tern
mkdir -p "$TERN_DATA"
tern --data-dir "$TERN_DATA" domain add "$BENCH_DOMAIN" >/dev/null 2>&1 \
    || log "tern: domain $BENCH_DOMAIN not added (already there?)"
existing=0
for i in $(seq 1 "$count"); do
    if ! tern --data-dir "$TERN_DATA" user add "user$i@$BENCH_DOMAIN" --password "$BENCH_PASSWORD" >/dev/null 2>&1; then
        existing=$((existing + 1))
    fi
done
log "tern: $count users in $TERN_DATA ($existing not added: already there, or failed)"

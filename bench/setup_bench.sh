#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Compare our swtpm_setup with Debian's (/usr/bin/swtpm_setup, which runs
# swtpm and swtpm_localca as child processes) for a full TPM 2
# manufacturing run.  Runs are interleaved (ours, theirs, ours, ...) with
# a CA that already exists, and the median wall time of each is printed
# with the ratio.  Usage: bench/setup_bench.sh [runs]   (default 11)
set -eu

RUNS=${1:-11}
OURS=${OURS:-$(cd "$(dirname "$0")/.." && pwd)/build/bin/swtpm_setup}
THEIRS=${THEIRS:-/usr/bin/swtpm_setup}
ARGS="--tpm2 --create-ek-cert --create-platform-cert --lock-nvram"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

# Debian's tool with its own CA in $work (never the shared /var/lib one).
cat > "$work/localca.conf" <<EOC
statedir = $work/dca
signingkey = $work/dca/signkey.pem
issuercert = $work/dca/issuercert.pem
certserial = $work/dca/certserial
EOC
cat > "$work/setup.conf" <<EOC
create_certs_tool = /usr/bin/swtpm_localca
create_certs_tool_config = $work/localca.conf
create_certs_tool_options = /etc/swtpm-localca.options
EOC

now_ms() {
    date +%s%N | cut -c1-13
}

# one_run <tool> <config-args...>: prints milliseconds
one_run() {
    t=$1
    shift
    rm -rf "$work/state"
    mkdir "$work/state"
    start=$(now_ms)
    # shellcheck disable=SC2086
    XDG_CONFIG_HOME="$work/xdg" "$t" $ARGS --tpmstate "$work/state" "$@" \
        > "$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
    end=$(now_ms)
    echo $((end - start))
}

median() {
    sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

# warm up: creates both CAs so that key generation is not measured
one_run "$OURS" > /dev/null
one_run "$THEIRS" --config "$work/setup.conf" > /dev/null

: > "$work/ours"
: > "$work/theirs"
i=0
while [ "$i" -lt "$RUNS" ]; do
    one_run "$OURS" >> "$work/ours"
    one_run "$THEIRS" --config "$work/setup.conf" >> "$work/theirs"
    i=$((i + 1))
done
m_ours=$(median < "$work/ours")
m_theirs=$(median < "$work/theirs")
echo "runs: $RUNS each, interleaved; args: $ARGS"
echo "ours   ($OURS): median ${m_ours} ms"
echo "debian ($THEIRS): median ${m_theirs} ms"
awk -v a="$m_ours" -v b="$m_theirs" \
    'BEGIN { printf "ratio ours/debian: %.2f\n", (b > 0 ? a / b : 0) }'

#!/usr/bin/env bash
# Live zero-cost proxies: throughput at NB201 size and correctness against NAS-Bench-Suite-Zero.
# Usage: benchmarks/proxy_throughput.sh TABLE.csv [OUT_DIR] [N_CHECK] [DATASET]
#   TABLE.csv  NB201 table with zc_* columns (e.g. ../shared/data/nb201/cifar10.csv)
#   OUT_DIR    where the JSON reports go (default: benchmarks/results)
#   N_CHECK    architectures for the check (default: 300)
#   DATASET    batch source for data-dependent proxies (default: fashion-mnist)
# THREADS (env) sets torch's CPU threads (default 1: fastest on a shared machine; 0 = torch default).
set -euo pipefail
TABLE=${1:?usage: $0 TABLE.csv [OUT_DIR] [N_CHECK] [DATASET]}
OUT=${2:-benchmarks/results}
N=${3:-300}
DATASET=${4:-fashion-mnist}
THREADS=${THREADS:-1}
PROXYBO=${PROXYBO:-proxybo}
mkdir -p "$OUT"
"$PROXYBO" proxies bench --proxies jacov,synflow,snip --n 20 --threads "$THREADS" \
    --out "$OUT/proxy_bench.json"
"$PROXYBO" proxies check --table "$TABLE" --n "$N" --dataset "$DATASET" --threads "$THREADS" \
    --proxies params,flops,synflow,l2_norm,jacov,snip,nwot --out "$OUT/proxy_check.json"

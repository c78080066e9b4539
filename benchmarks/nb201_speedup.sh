#!/usr/bin/env bash
# Search-quality benchmark of issue 2 on the NAS-Bench-201 tables (paths are arguments: the
# tables are not part of the repository).
#   benchmarks/nb201_speedup.sh ../shared/data/nb201 [SEEDS] [OUT]
set -euo pipefail
DATA=${1:?usage: nb201_speedup.sh DATA_DIR [SEEDS] [OUT]}
SEEDS=${2:-30}
OUT=${3:-benchmarks/results}
BIN=${BIN:-.venv/bin}
# proxybo-features has the local phase and the sampled scorer with a design of 5 and a floor of
# 0.2 for the proxies by default; bo gets the same design size and pool (local_after,
# global_every) so the gain from the proxies shows on its own. proxy_floor=0 is the default
# before 2026-12-03, fusion=rank the default with the published rank sum, fusion=rank;n_init=10
# the default before 2026-12-02 (bo:n_init=10;... its design size and pool without proxies),
# local_after=null the default without the local phase. Every GP strategy has the noise floor 0.1
# by default; noise_floor=null is each one without it (the defaults before 2026-11-29's third
# session).
METHODS="proxybo-features,proxybo,bo,bo:local_after=30;global_every=4,proxybo-features:proxy_floor=0,proxybo-features:fusion=rank,proxybo-features:fusion=rank;n_init=10,bo:n_init=10;local_after=30;global_every=4,proxybo-features:local_after=null,proxybo-features:noise_floor=null,proxybo:noise_floor=null,bo:noise_floor=null,proxybo-features:kernel=ard,proxybo:kernel=ard,bo:kernel=ard,proxybo-features:kernel=hamming,proxybo:kernel=hamming,bo:kernel=hamming,rea,random,proxy-warmup,optuna-tpe,optuna-gp"

for table in cifar10 imagenet16-120; do
  "$BIN/proxybo" benchmark --table "$DATA/$table.csv" --methods "$METHODS" \
    --proxies jacov,synflow,snip --seeds "$SEEDS" --budget 150 --reference-budget 300 \
    --out "$OUT/$table"
done

# Robustness: the CIFAR-10 table with every proxy negated (a misleading proxy).
NEG=$(mktemp -d)/cifar10-negated.csv
"$BIN/python" benchmarks/negate_proxies.py "$DATA/cifar10.csv" "$NEG"
"$BIN/proxybo" benchmark --table "$NEG" --methods "proxybo-features,proxybo,bo,bo:local_after=30;global_every=4,proxybo-features:proxy_floor=0,proxybo-features:fusion=rank,proxybo-features:fusion=rank;n_init=10,bo:n_init=10;local_after=30;global_every=4,proxybo-features:noise_floor=null,proxybo:noise_floor=null,bo:noise_floor=null,rea" \
  --proxies jacov,synflow,snip --seeds "$SEEDS" --budget 150 --reference-budget 300 \
  --out "$OUT/cifar10-negated"

# The 15-minute budget of the quick run (10 seeds, the four methods the issue names).
/usr/bin/time -f "quick run wall: %e s" "$BIN/proxybo" benchmark --table "$DATA/cifar10.csv" \
  --methods proxybo,bo,rea,random --seeds 10 --budget 150 --reference-budget 300 \
  --out "$OUT/quick-cifar10"

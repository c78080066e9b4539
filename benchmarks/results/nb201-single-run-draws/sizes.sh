#!/usr/bin/env bash
# Does a run with more seeds pass more often? The draws of draws.sh (this Xeon's 120 seeds per
# method) with runs of 30, 60 and 120 seeds, drawn with replacement, each against REA's mean best
# at 300 over its own seeds.
# Run from the repository root: benchmarks/results/nb201-single-run-draws/sizes.sh > sizes.txt
set -euo pipefail
source benchmarks/results/nb201-single-run-draws/records.sh
for size in 30 60 120; do
  echo "## runs of $size seeds"
  echo "### ImageNet16-120"
  draws --size "$size" "${OLD[@]}" \
    --methods proxybo-features,proxybo,bo "$HERE/imagenet16-120_rea_seeds0-119.json" \
    "${XEON_IN16_DEFAULT[@]}" "${XEON_IN16_BO[@]}"
  echo "### CIFAR-10, every proxy negated"
  draws --size "$size" "${OLD[@]}" \
    --methods proxybo-features,bo "$HERE/cifar10_rea_seeds0-119.json" \
    "$X"/cifar10-negated_default-bo_seeds*.json
done

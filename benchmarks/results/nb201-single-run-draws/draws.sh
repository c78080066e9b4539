#!/usr/bin/env bash
# How often one run of the size (30 seeds) passes each point, on the records of two
# numeric settings: the Intel Xeon (120 seeds of every method) and the AMD EPYC Zen 5 (120
# seeds of faithful ProxyBO and plain BO, 60 of the default). Each drawn run sets its own
# target from REA's records here (REA's searches are the same on every machine).
# Run from the repository root: benchmarks/results/nb201-single-run-draws/draws.sh > draws.txt
set -euo pipefail
source benchmarks/results/nb201-single-run-draws/records.sh
# proxybo-features: the default until 2026-12-04 (design_screen=null); its records since
# (design_screen=0.5) were made with a patch that the option reproduces
OLD+=(--rename "proxybo-features+design-random-top-0.5->design_screen=0.5")
M=proxybo-features,design_screen=0.5,proxybo,bo

echo "## Intel Xeon (family 6, model 167), 120 seeds"
echo "### ImageNet16-120"
draws "${OLD[@]}" --methods $M "$HERE/imagenet16-120_rea_seeds0-119.json" \
  "$T/imagenet16-120_design-random-top-0.5_seeds0-119.json" "${XEON_IN16_DEFAULT[@]}" \
  "${XEON_IN16_BO[@]}"
echo "### CIFAR-10"
draws "${OLD[@]}" --methods $M "$HERE/cifar10_rea_seeds0-119.json" \
  "$T/cifar10_design-random-top-0.5_seeds0-119.json" \
  "$T/cifar10_default-and-local-patience-10-15_seeds0-59.json" "$X/cifar10_default_seeds60-119.json" \
  "$D/cifar10_bo-proxybo_seeds0-29.json" "$D/cifar10_bo-proxybo_seeds30-59.json" \
  "$X/cifar10_proxybo_seeds60-119.json" "$X/cifar10_bo_seeds60-119.json"
echo "### CIFAR-10, every proxy negated (plain BO reads no proxy)"
draws "${OLD[@]}" "$HERE/cifar10_rea_seeds0-119.json" "$X"/cifar10-negated_default-bo_seeds*.json \
  "$T/cifar10-negated_design-random-top-0.5_seeds0-119.json"

echo
echo "## AMD EPYC Zen 5 (and the Zen 4 with OPENBLAS_CORETYPE=Haswell, which gives its searches)"
NEW=(--rename "proxybo-features:proxy_floor=0.2->proxybo-features")
echo "### ImageNet16-120: faithful ProxyBO and plain BO, 120 seeds"
draws --methods proxybo,bo "$HERE/imagenet16-120_rea_seeds0-119.json" \
  "$F"/in16_faithful_sample_bo_seeds{0-29,30-59}.json "$F/in16_bo-proxybo-auto_seeds60-119.json"
echo "### CIFAR-10: faithful ProxyBO and plain BO, 120 seeds"
draws --methods proxybo,bo "$HERE/cifar10_rea_seeds0-119.json" \
  "$F"/cifar10_bo-proxybo-auto_seeds{0-29,30-59,60-119}.json
echo "### ImageNet16-120: the default and plain BO, 60 seeds"
draws "${NEW[@]}" --methods proxybo-features,bo "$HERE/imagenet16-120_rea_seeds0-119.json" \
  "$P/imagenet16-120_floor-0.1-0.2_seeds0-59.json" "$F"/in16_faithful_sample_bo_seeds{0-29,30-59}.json
echo "### CIFAR-10: the default and plain BO, 60 seeds"
draws "${NEW[@]}" --methods proxybo-features,bo "$HERE/cifar10_rea_seeds0-119.json" \
  "$P/cifar10_floor-0.2_seeds0-59.json" "$F"/cifar10_bo-proxybo-auto_seeds{0-29,30-59}.json
echo "### CIFAR-10, every proxy negated: the default and plain BO, 60 seeds"
draws "${NEW[@]}" --methods proxybo-features,bo "$HERE/cifar10_rea_seeds0-119.json" \
  "$P/cifar10-negated_floor-0.2_seeds0-59.json" "$F"/cifar10_bo-proxybo-auto_seeds{0-29,30-59}.json

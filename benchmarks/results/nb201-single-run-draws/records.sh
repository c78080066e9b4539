# Sourced by draws.sh and sizes.sh: where the records are, and the labels to pool.
PY=${PYTHON:-.venv/bin/python}
HERE=benchmarks/results/nb201-single-run-draws
X=benchmarks/results/nb201-intel-xeon-2026-12-04
D=benchmarks/results/nb201-default-floor
T=benchmarks/results/nb201-throwaway-patches
P=benchmarks/results/nb201-proxy-floor
F=benchmarks/results/nb201-faithful-amd
draws() { "$PY" benchmarks/seed_range.py draws --against bo "$@"; }
# plain and faithful BO's records of seeds 0-59 carry the noise floor in their labels
OLD=(--rename "proxybo:noise_floor=0.1->proxybo" --rename "bo:noise_floor=0.1->bo")
# This Xeon's 120 seeds on ImageNet16-120: the default, and plain and faithful BO
XEON_IN16_DEFAULT=("$T/imagenet16-120_default-and-local-patience-10-15_seeds0-59.json"
  "$X/imagenet16-120_default_seeds60-119.json")
XEON_IN16_BO=("$D/imagenet16-120_bo-proxybo_seeds0-29.json"
  "$D/imagenet16-120_bo-proxybo_seeds30-59.json" "$X/imagenet16-120_proxybo-bo_seeds60-119.json")

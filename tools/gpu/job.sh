#!/usr/bin/env bash
# On the GPU machine, from the project root (a device run with carry [".gpu"], after tools/gpu/pack.sh):
#   tools/gpu/job.sh bench SHAPE TYPE [bench flags...]   synthesize the model (on the GPU machine: never sent), then bench it
#   tools/gpu/job.sh passkey [passkey flags...]          passkey on the embedded default model
# Every run folder ends up under $OUT/results; a bench interrupted by LIMIT seconds (SIGTERM: it stops after the
# current chunk and keeps every finished length) is continued in a later call with `--resume results/RUN` after
# copying the folder back into results/ and carrying it.
set -euo pipefail
source .gpu/enter.sh
export CASCADE_EVAL_MODELS=$PWD/.cache/models
out=${OUT:-/tmp/cascade-eval-out}
limit=${LIMIT:-560}
mkdir -p "$out" results
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true
command=$1; shift
status=0
case "$command" in
  bench)
    shape=$1 type=$2; shift 2
    model=/tmp/models/$shape-$type.gguf
    [ -f "$model" ] || node bin/cascade-eval.js model synth --shape "$shape" --type "$type" -o "$model"
    model_flag=(--model "$model")
    for arg in "$@"; do [ "$arg" = --resume ] && model_flag=(); done
    timeout -s TERM "$limit" node bin/cascade-eval.js bench "${model_flag[@]}" --gpu "${GPU:-cuda}" --no-progress --results results --format markdown "$@" || status=$?
    ;;
  passkey)
    timeout -s TERM "$limit" node bin/cascade-eval.js passkey --gpu "${GPU:-cuda}" --no-progress --results results --format markdown "$@" || status=$?
    ;;
  *) echo "usage: tools/gpu/job.sh bench SHAPE TYPE [flags] | passkey [flags]" >&2; exit 2 ;;
esac
cp -r results "$out/"
exit "$status"

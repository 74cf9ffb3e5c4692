#!/usr/bin/env bash
# On the GPU machine, from the project root (a device run with carry [".gpu"], after tools/gpu/pack.sh):
#   tools/gpu/job.sh bench SHAPE TYPE [bench flags...]   synthesize the model (on the GPU machine: never sent), then bench it
#   tools/gpu/job.sh passkey [passkey flags...]          passkey on the embedded default model
#   tools/gpu/job.sh reproduce [reproduce flags...]      a reproduction (its report is written back here: no Vega there)
# Runs write straight into $OUT/results, so a call cut short by the device still returns finished records (the
# device returns at most 8 files); a job that ends on its own packs them into $OUT/results.tar.xz, which
# `tar -xJf DIR/results.tar.xz` unpacks here as results/RUN.
# LIMIT (seconds, default 560) counts from the job's start, the model's synthesis included: the task gets what is
# left, then SIGTERM (it stops after the current chunk, keeps every finished length and writes its tables). A bench
# cut short continues in a later call with `--resume results/RUN` after copying the folder back into results/ and
# carrying it; the job copies carried run folders into $OUT/results first.
set -euo pipefail
started=$SECONDS
source .gpu/enter.sh
# contexts decoding side by side (--parallel) each hold one of libuv's threads while they wait for the GPU
export UV_THREADPOOL_SIZE=${UV_THREADPOOL_SIZE:-16}
export CASCADE_EVAL_MODELS=$PWD/.cache/models
out=${OUT:-/tmp/cascade-eval-out}
limit=${LIMIT:-560}
mkdir -p "$out/results"
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true
[ -d results ] && cp -r results/. "$out/results/"
left() { echo $(( limit - (SECONDS - started) )); }
command=$1; shift
[ "$command" = bench ] && { shape=$1 type=$2; shift 2; }
resuming=
args=()
for arg in "$@"; do
  [ "$arg" = --resume ] && resuming=1
  # a carried run resumes from its copy under $OUT, where its new records are written
  case "$arg" in results/*) arg="$out/$arg" ;; esac
  args+=("$arg")
done
status=0
case "$command" in
  bench)
    model=/tmp/models/$shape-$type.gguf
    [ -f "$model" ] || node bin/cascade-eval.js model synth --shape "$shape" --type "$type" -o "$model"
    model_flag=(--model "$model"); [ -n "$resuming" ] && model_flag=()
    timeout -s TERM "$(left)" node bin/cascade-eval.js bench "${model_flag[@]}" --gpu "${GPU:-cuda}" --no-progress --results "$out/results" --format markdown "${args[@]}" || status=$?
    ;;
  passkey)
    timeout -s TERM "$(left)" node bin/cascade-eval.js passkey --gpu "${GPU:-cuda}" --no-progress --results "$out/results" --format markdown "${args[@]}" || status=$?
    ;;
  reproduce)
    gpu=(--gpu "${GPU:-cuda}"); [ -n "$resuming" ] && gpu=()
    timeout -s TERM "$(left)" node bin/cascade-eval.js reproduce "${gpu[@]}" --no-progress --results "$out/results" "${args[@]}" || status=$?
    ;;
  *) echo "usage: tools/gpu/job.sh bench SHAPE TYPE [flags] | passkey [flags] | reproduce [flags]" >&2; exit 2 ;;
esac
tar -cJf "$out/results.tar.xz" -C "$out" results && rm -rf "$out/results"
exit "$status"

#!/usr/bin/env bash
# The eviction's native cost per chunk, stock against batched, at the GPU setup's occupancy (64 sinks + 65,536,
# 4 cascades, stride 4,096), with no model: see bench/evict-cells.cpp. Needs `npm run build` and the extension
# applied to node-llama-cpp's llama.cpp source (`cascade-eval extensions build`).
set -euo pipefail
cd "$(dirname "$0")/.."
source=${EVICT_SOURCE:-node_modules/node-llama-cpp/llama/llama.cpp}  # EVICT_SOURCE: another patched copy (an earlier version)
grep -q llama_memory_seq_evict "$source/include/llama.h" 2>/dev/null || { echo "evict-cells: run cascade-eval extensions build first" >&2; exit 2; }
work=${EVICT_WORK:-$(mktemp -d)}; [ -n "${EVICT_WORK:-}" ] || trap "rm -rf \"$work\"" EXIT
node --input-type=module -e "
  import { createPolicy } from './dist/src/policies/registry.js';
  import { writeFileSync } from 'node:fs';
  for (const name of ['sink-window', 'cascading']) {
    const policy = createPolicy({ name, sinks: 64, window: 65536, cascades: 4 });
    const rounds = [];
    for (let chunk = 0; chunk < 80; chunk++) { const evicted = policy.update(4096); if (evicted.length > 0) rounds.push(evicted); }
    writeFileSync('$work/' + name, rounds.slice(-40).map((evicted) => evicted.join(' ')).join('\n') + '\n');
  }"
c++ -O3 -std=c++17 -I"$source/include" -I"$source/src" -I"$source/ggml/include" bench/evict-cells.cpp -o "$work/evict-cells"
cd "$work" && ./evict-cells sink-window && ./evict-cells cascading

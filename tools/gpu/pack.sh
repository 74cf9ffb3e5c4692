#!/usr/bin/env bash
# On this machine, from anywhere in the repository: build, cache the tokenizer vocabularies that `model synth`
# needs (the GPU machine has no llama.cpp source bundle to extract them from), and stage .gpu/ with
# ../shared/gpu/pack. Then run a device command with carry [".gpu"] (see docs/PERFORMANCE.md).
#   usage: tools/gpu/pack.sh [--cuda-binaries DIR] [VOCAB ...]    (default vocabularies: llama-bpe llama-spm; qwen2 for the Qwen2.5 shapes;
#            none: no vocabulary, 1.7 MB less, for jobs on the embedded model that synthesize none: passkey, pg19, reproduce)
#          --cuda-binaries DIR: the llama-cuda-sm90-extensions.tar.xz.part* that tools/gpu/extensions-build.sh returned,
#            staged in place of the stock CUDA binaries (the runs then use cascade-eval's extensions)
#          tools/gpu/pack.sh --extensions: only stage .gpu-ext/ (the CUDA source kit, and what .gpu/ has of Node, node_modules
#            and dist, so run it after a plain pack) for tools/gpu/extensions-build.sh
# jieba-wasm (16 MB, LongBench's Chinese scoring only) and Vega (the reproduction report's charts) are left out so
# that .gpu/ plus the tree fit 64 MiB.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
if [ "${1:-}" = --extensions ]; then
  mkdir -p .git/info; grep -qx '/.gpu-ext/' .git/info/exclude 2>/dev/null || echo '/.gpu-ext/' >> .git/info/exclude
  rm -rf .gpu-ext && mkdir -p .gpu-ext && cp ../shared/gpu/build/kit-src.tar.xz .gpu-ext/
  # Node, the node_modules and dist without the stock CUDA binaries: the build's smoke test loads the new ones
  [ -f .gpu/enter.sh ] && cp .gpu/enter.sh .gpu/node-v20.20.2-linux-x64.xz .gpu/node_modules.tar.xz .gpu/extra.tar.xz .gpu-ext/
  echo "tools/gpu/pack.sh: .gpu-ext staged; on the GPU machine: tools/gpu/extensions-build.sh (carry [\".gpu-ext\"])"
  exit 0
fi
cuda_binaries=
if [ "${1:-}" = --cuda-binaries ]; then cuda_binaries=$(cd "$2" && pwd); shift 2; fi
vocabs=("$@"); [ ${#vocabs[@]} -eq 0 ] && vocabs=(llama-bpe llama-spm)
npm run build >/dev/null
export CASCADE_EVAL_MODELS=$PWD/.cache/models
rm -rf .cache/models/vocab
[ "${vocabs[*]}" = none ] && vocabs=() && mkdir -p .cache/models/vocab
for vocab in "${vocabs[@]}"; do
  node --input-type=module -e "
    import { vocabularyFile } from './dist/src/gguf/synth-model.js';
    await vocabularyFile('$vocab', process.env.CASCADE_EVAL_MODELS + '/vocab');"
done
# source maps: nothing on the GPU machine reads them
find dist/src -name '*.map' -delete
../shared/gpu/pack dist/src .cache/models/vocab >/dev/null
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
xz -dc .gpu/node_modules.tar.xz | tar -xf - -C "$tmp"
# Vega and what only it needs (the reproduction report's charts): rebuild a report here with reproduce --resume.
vega_only=$(node -e '
  const lock = require("./package-lock.json").packages;
  const deps = (name) => Object.keys((lock["node_modules/" + name] || {}).dependencies || {});
  const reach = (roots) => { const seen = new Set(); const stack = [...roots];
    while (stack.length) { const name = stack.pop(); if (!seen.has(name)) { seen.add(name); stack.push(...deps(name)); } } return seen; };
  const others = reach(Object.keys(lock[""].dependencies).filter((name) => name !== "vega" && name !== "vega-lite"));
  console.log([...reach(["vega", "vega-lite"])].filter((name) => !others.has(name)).join(" "));')
rm -rf "$tmp/node_modules/jieba-wasm"
# nothing reads these at run time: source maps, type declarations, documents, lock files
find "$tmp/node_modules" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.md' -o -name 'yarn.lock' \) -delete
for name in $vega_only; do rm -rf "$tmp/node_modules/$name"; done
# xz -9e in one block (../shared/gpu/pack and the CUDA build use -6 or 8 MiB blocks for speed): 0.7 MB less, which
# the 64 MiB limit needed once the tree had grown. Node's recompressed copy is kept, keyed by the original's checksum.
tar -cf - -C "$tmp" node_modules | xz -T1 -9e > .gpu/node_modules.tar.xz
xz -dc .gpu/extra.tar.xz | xz -T1 -9e > "$tmp/extra.tar.xz" && mv -f "$tmp/extra.tar.xz" .gpu/extra.tar.xz
node_xz=.gpu/node-v20.20.2-linux-x64.xz
node_cache=.cache/gpu-node-$(sha256sum "$node_xz" | cut -c1-16).xz
[ -f "$node_cache" ] || { mkdir -p .cache && xz -dc "$node_xz" | xz -T1 -9e > "$node_cache.part" && mv "$node_cache.part" "$node_cache"; }
cp -f "$node_cache" "$node_xz"
if [ -n "$cuda_binaries" ]; then
  cat "$cuda_binaries"/llama-cuda-sm90-extensions.tar.xz.part* | xz -dc | xz -T1 -9e > .gpu/llama-cuda-sm90.tar.xz
  xz -dc .gpu/llama-cuda-sm90.tar.xz | tar -tf - | grep linux-x64-cuda/llama-addon.node >/dev/null || { echo "tools/gpu/pack.sh: $cuda_binaries holds no CUDA addon" >&2; exit 2; }
else
  xz -dc .gpu/llama-cuda-sm90.tar.xz | xz -T1 -9e > "$tmp/binaries.tar.xz" && mv -f "$tmp/binaries.tar.xz" .gpu/llama-cuda-sm90.tar.xz
fi
# the device counts the disk blocks the files take, not their bytes
gpu=$(du -s --block-size=1 .gpu | cut -f1)
tree=$(git ls-files -co --exclude-standard -z | xargs -0 du -c --block-size=1 2>/dev/null | tail -1 | cut -f1)
echo "tools/gpu/pack.sh: .gpu $gpu + tree $tree bytes on disk = $(( (gpu + tree) * 100 / 67108864 ))% of the 64 MiB a call may send"
[ $(( gpu + tree )) -le 67108864 ] || { echo "tools/gpu/pack.sh: over the limit: the device will refuse the call" >&2; exit 1; }

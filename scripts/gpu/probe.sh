#!/usr/bin/env bash
# Where a decode step's time goes on the device, after bench.py's setup, build and models steps
# (same /root layout): the decode kernel's check at 4 bits, its tilings side by side
# (MLX_NATIVE_QMV_TILING), and engine_bench's step profile with the engine's kernels on and off
# and under MLX's CUDA graph settings (PROFILE_VARIANTS: "default" and VAR=VALUE words).
#
#   bash scripts/gpu/probe.sh [check,sweep,profile] [model name, default llama-3.1-8b]
#
# Logs go to $OUT (probe-*.log); the summaries are printed. After test-cuda.sh's install instead
# (the addon's build in the repository, no /root/build): ENGINE_BENCH=build/engine_bench; the
# profile then makes the model with .venv/bin/python if /root/models lacks it.
set -uo pipefail
parts=${1:-check,sweep,profile}
model=${2:-llama-3.1-8b}
root=/root
out=${OUT:-gpu-out}
mkdir -p "$out"
site=$(python3 -c 'import site; print(site.getsitepackages()[0])')
LD_LIBRARY_PATH=$(ls -d "$site"/nvidia/*/lib | tr '\n' ':')$root/mlx/mlx/lib:$root/mlx/mlx_cuda_13.libs
export LD_LIBRARY_PATH MLX_PTX_CACHE_DIR=$root/ptx-cache
has() { [[ ",$parts," == *",$1,"* ]]; }

if has check; then
  # The default tilings, and one of each other kind, must be exact.
  for t in default 1,4,4 8,1,2; do
    [ "$t" = default ] && unset MLX_NATIVE_QMV_TILING || export MLX_NATIVE_QMV_TILING=$t
    echo "== check --bits 4, tiling $t"
    timeout 300 $root/build/qmv_test check --bits 4 > "$out/probe-check-$t.log" 2>&1
    grep -E "^FAIL| passed, " "$out/probe-check-$t.log" | head -20
  done
  unset MLX_NATIVE_QMV_TILING
fi

if has sweep; then
  log=$out/probe-sweep.log
  : > "$log"
  echo "== tilings (columns,ahead,warps), µs per call; qmm = quantized_matmul"
  timeout 120 $root/build/qmv_test bench --rows 1,2,4,8 >> "$log" 2>&1
  for t in 1,2,4 1,4,4 2,2,4 2,4,4 4,1,4 4,4,4 8,1,4 4,2,8 2,2,8 4,2,2; do
    MLX_NATIVE_QMV_TILING=$t timeout 90 $root/build/qmv_test bench --rows 1,2,4,8 --baseline no \
      >> "$log" 2>&1
  done
  python3 - "$log" <<'EOF'
import sys, collections
rows = collections.defaultdict(dict)  # (shape, rows) -> {tiling: us}
tiling = None
for line in open(sys.argv[1]):
    f = line.split()
    if line.startswith("tiling "):
        tiling = f[1]
    elif len(f) >= 9 and f[-1].endswith("x"):
        try:
            shape = " ".join(f[:-8]); r = int(f[-6]); us = float(f[-5]); q = float(f[-4])
        except ValueError:
            continue
        rows[(shape, r)][tiling] = us
        if q == q:
            rows[(shape, r)]["qmm"] = q
tilings = sorted({t for v in rows.values() for t in v})
print("shape/rows".ljust(22) + "".join(t.rjust(9) for t in tilings))
for (shape, r), v in rows.items():
    best = min((us, t) for t, us in v.items() if t != "qmm")[1]
    print(f"{shape} {r}".ljust(22) + "".join(
        (f"{v[t]:.1f}" + ("*" if t == best else " ")).rjust(9) if t in v else " " * 9
        for t in tilings))
EOF
fi

if has profile; then
  d=$root/models/$model-bfloat16
  bench=${ENGINE_BENCH:-$root/build/engine_bench}
  if [ ! -s "$d/config.json" ] && [ -x .venv/bin/python ]; then
    echo "== make_model.py $model"
    timeout 300 .venv/bin/python scripts/gpu/make_model.py "$model" "$d" --dtype bfloat16 \
      >> "$out/probe-profile.log" 2>&1 || tail -5 "$out/probe-profile.log"
  fi
  echo "== engine_bench profile, $model (32 steps at a 160-token context)"
  for v in ${PROFILE_VARIANTS:-default MLX_NATIVE_FUSED=off MLX_USE_CUDA_GRAPHS=0 MLX_NATIVE_QMV=off}; do
    env_args=()
    [ "$v" != default ] && env_args=("$v")
    r=$( (echo "profile 32 160 1"; echo "profile 32 160 64"; echo quit) |
      env "${env_args[@]}" timeout 240 "$bench" --model "$d" --max-batch 64 \
        --dtype bfloat16 2>> "$out/probe-profile.log" | grep '"profile"')
    echo "$r" >> "$out/probe-profile.jsonl"
    # One line per batch size: host ms (build + encode), synchronous eval, pipelined step, ops.
    echo "$r" | python3 -c '
import json, sys
for line in sys.stdin:
    if not line.strip(): continue
    d = json.loads(line)
    print("%-34s batch %-3d build %.2f encode %.2f eval %.2f step %.2f ms, ops %d (custom kernels %d)" % (
        sys.argv[1], d["batch"], d["buildMs"], d["encodeMs"], d["evalMs"], d["pipelinedStepMs"],
        d["ops"]["total"], d["ops"].get("CustomKernel", 0)))' "$v"
  done
fi

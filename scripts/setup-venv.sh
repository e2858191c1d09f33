#!/usr/bin/env bash
# Create the project-local Python venv (.venv/) holding the mlx-lm reference
# implementation used by parity tests and benchmarks (scripts/reference.py,
# scripts/make-tiny-models.py).
#
# Idempotent: when .venv/.stamp already records the pinned versions, nothing is
# done. Set PYTHON=/path/to/python3.11 to choose the interpreter (>= 3.11,
# required by mlx-lm). Set FORCE=1 to reinstall.
#
# torch is NOT needed: mlx-lm only uses transformers for its tokenizer code.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.stamp"

# MLX pin: read from scripts/mlx-version.mjs (export const MLX_VERSION = 'x.y.z').
MLX_VERSION=""
if [[ -f "$ROOT/scripts/mlx-version.mjs" ]]; then
  MLX_VERSION="$(grep -Eo "MLX_VERSION[[:space:]]*=[[:space:]]*['\"][0-9][0-9A-Za-z.+-]*['\"]" \
    "$ROOT/scripts/mlx-version.mjs" | head -n1 | grep -Eo "[0-9][0-9A-Za-z.+-]*" || true)"
fi
MLX_VERSION="${MLX_VERSION:-0.32.4}"
# mlx-lm 0.32.2 is the newest release; it requires mlx>=0.32.2 (Darwin) and
# mlx[cpu]>=0.32.2 via its 'cpu' extra, so it is compatible with mlx 0.32.4.
MLX_LM_VERSION="${MLX_LM_VERSION:-0.32.2}"
# mlx-lm only asks for transformers>=5.7.0; pin the tokenizer stack too so the
# reference tokenization does not drift between machines.
TRANSFORMERS_VERSION="${TRANSFORMERS_VERSION:-5.23.0}"
TOKENIZERS_VERSION="${TOKENIZERS_VERSION:-0.23.3}"
# llama.cpp's own GGUF reader (gguf.quants.dequantize: the reference for mlx-native's GGUF tensor
# reading) and SentencePiece (the reference for SentencePiece tokenizers rebuilt from GGUF).
GGUF_VERSION="${GGUF_VERSION:-0.19.0}"
SENTENCEPIECE_VERSION="${SENTENCEPIECE_VERSION:-0.2.3}"

case "$(uname -s)-$(uname -m)" in
  Darwin-arm64) MLX_REQ="mlx==$MLX_VERSION" ;;
  Darwin-*) echo "setup-venv: MLX needs Apple silicon (arm64) on macOS" >&2; exit 1 ;;
  *) MLX_REQ="mlx[cpu]==$MLX_VERSION" ;;
esac
WANT="mlx=$MLX_VERSION mlx-lm=$MLX_LM_VERSION transformers=$TRANSFORMERS_VERSION tokenizers=$TOKENIZERS_VERSION gguf=$GGUF_VERSION sentencepiece=$SENTENCEPIECE_VERSION req=$MLX_REQ"

if [[ -z "${FORCE:-}" && -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  echo "setup-venv: $VENV is up to date ($WANT)"
  exit 0
fi

# Pick an interpreter >= 3.11.
pick_python() {
  local c
  for c in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [[ -n "$c" ]] || continue
    command -v "$c" >/dev/null 2>&1 || continue
    if "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  return 1
}
if ! PY="$(pick_python)"; then
  echo "setup-venv: need Python >= 3.11 (mlx-lm requires it); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

start=$(date +%s)
if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "setup-venv: reusing $VENV"
else
  echo "setup-venv: creating $VENV with $($PY --version 2>&1)"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
fi

rm -f "$STAMP"
echo "setup-venv: installing $MLX_REQ mlx-lm==$MLX_LM_VERSION transformers==$TRANSFORMERS_VERSION tokenizers==$TOKENIZERS_VERSION"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip
# Installing both pins in one resolve keeps mlx-lm from choosing another mlx.
"$VENV/bin/python" -m pip install --disable-pip-version-check "$MLX_REQ" "mlx-lm==$MLX_LM_VERSION" \
  "transformers==$TRANSFORMERS_VERSION" "tokenizers==$TOKENIZERS_VERSION" \
  "gguf==$GGUF_VERSION" "sentencepiece==$SENTENCEPIECE_VERSION"

# Verify the versions pip actually left in the venv.
"$VENV/bin/python" - "$MLX_VERSION" "$MLX_LM_VERSION" <<'EOF'
import sys
from importlib.metadata import version, PackageNotFoundError
want_mlx, want_lm = sys.argv[1], sys.argv[2]
got_mlx, got_lm = version("mlx"), version("mlx-lm")
if (got_mlx, got_lm) != (want_mlx, want_lm):
    sys.exit(f"setup-venv: version mismatch: mlx {got_mlx} (want {want_mlx}), mlx-lm {got_lm} (want {want_lm})")
try:
    version("torch")
    print("setup-venv: note: torch is installed but not needed")
except PackageNotFoundError:
    pass
import mlx.core as mx
import mlx_lm  # noqa: F401
print(f"setup-venv: ok: mlx {got_mlx}, mlx-lm {got_lm}, device {mx.default_device()}")
EOF

echo "$WANT" > "$STAMP"
echo "setup-venv: done in $(( $(date +%s) - start ))s; venv size $(du -sh "$VENV" | cut -f1)"
echo "setup-venv: use $VENV/bin/python scripts/reference.py ..."

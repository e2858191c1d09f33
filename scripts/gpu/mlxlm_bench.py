#!/usr/bin/env python3
"""`python3 -m mlx_lm.benchmark` with one change: --completion-batch-size N sets
BatchGenerator's completion_batch_size (default 32: batch_generate decodes at most 32
sequences together, so `-b 64` runs in waves). Every other argument goes to mlx_lm.benchmark.

    python3 mlxlm_bench.py --completion-batch-size 64 --model DIR -p 32 -g 256 -b 64 -n 2
"""
import sys

argv = sys.argv[1:]
cbs = None
if "--completion-batch-size" in argv:
    i = argv.index("--completion-batch-size")
    cbs = int(argv[i + 1])
    del argv[i : i + 2]

import importlib  # noqa: E402

from mlx_lm import benchmark  # noqa: E402

generate = importlib.import_module("mlx_lm.generate")  # the module, not mlx_lm.generate()

if cbs:
    init = generate.BatchGenerator.__init__

    def patched(self, *args, **kwargs):
        kwargs.setdefault("completion_batch_size", cbs)
        init(self, *args, **kwargs)

    generate.BatchGenerator.__init__ = patched
    print(f"[mlxlm_bench] completion_batch_size={cbs}", flush=True)

sys.argv = ["mlx_lm.benchmark", *argv]
benchmark.main()

#!/usr/bin/env python3
"""Compile the engine's decode kernel for a GPU architecture without a GPU: registers, spills and
(--sass) the instruction mix of each variant, from NVIDIA's compiler wheels on PyPI.

MLX compiles the kernel at run time with NVRTC (native/engine/cuda/qmv_kernel.cpp); this script
assembles the same text the way MLX's cuda_kernel does (the variant's constants, then the body,
inside a __global__ function whose parameters are the inputs, their shapes and the output) and
hands it to nvcc with `-Xptxas -v`. A compile error, a spill or a register count that halves the
occupancy shows here before any device time is spent.

    python3 scripts/gpu/kernel_ptxas.py                        # the defaults at 1, 2, 4, 8 rows
    python3 scripts/gpu/kernel_ptxas.py MR=1,NC=4,U=2 MR=1,PRE=1,EPI=2 --sass

Each variant is KEY=VALUE pairs over the defaults T=bfloat16, BITS=4, GS=64, MR=1, NC=4, U=1,
PRE=0, EPI=0 (qmv_device.cpp says what each means). The wheels (nvcc, its headers, cccl; with
--sass cuobjdump and nvdisasm) are downloaded once with pip into --cache.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import zipfile
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CUDA = os.path.join(ROOT, "native", "engine", "cuda")
WHEELS = ["nvidia-cuda-nvcc", "nvidia-cuda-runtime", "nvidia-cuda-crt", "nvidia-nvvm",
          "nvidia-cuda-cccl"]
SASS_WHEELS = ["nvidia-cuda-cuobjdump", "nvidia-cuda-nvdisasm"]
DEFAULTS = dict(T="bfloat16", BITS=4, GS=64, MR=1, NC=4, U=1, PRE=0, EPI=0)
TYPES = {"bfloat16": "__nv_bfloat16", "float16": "__half", "float32": "float"}

# What MLX's default header gives a custom kernel that this kernel uses (the real one is
# mlx/backend/cuda/device/utils.cuh, compiled into libmlx, not shipped in the wheel).
STAND_IN = """#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda/std/array>
namespace mlx::core::cu { using Shape = cuda::std::array<int32_t, 10>; }
"""


def toolkit(cache, sass):
    """The unpacked wheels' cu13 folder, downloading what is missing."""
    base = os.path.join(cache, "x", "nvidia", "cu13")
    for name in WHEELS + (SASS_WHEELS if sass else []):
        marker = os.path.join(cache, name + ".done")
        if os.path.exists(marker):
            continue
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", cache,
                        name + "==13.*"], check=True)
        whl = sorted(glob.glob(os.path.join(cache, name.replace("-", "_") + "-*.whl")))[-1]
        zipfile.ZipFile(whl).extractall(os.path.join(cache, "x"))
        open(marker, "w").close()
    for tool in glob.glob(os.path.join(base, "bin", "*")) + glob.glob(
            os.path.join(base, "nvvm", "bin", "*")):
        if os.path.isfile(tool):
            os.chmod(tool, 0o755)
    return base


def raw_strings(path):
    """name → text of each `const char* const kName = R"(...)";` in a C++ file."""
    text = open(path).read()
    return dict(re.findall(r'const char\* const (k\w+) = R"\((.*?)\)"', text, re.S))


def source(v):
    jit = raw_strings(os.path.join(CUDA, "jit.cpp"))
    dev = raw_strings(os.path.join(CUDA, "qmv_device.cpp"))
    t = TYPES[v["T"]]
    params = [f"const {t}* x", "const __grid_constant__ Shape x_shape",
              "const __grid_constant__ int x_ndim", "const uint32_t* w",
              "const __grid_constant__ Shape w_shape", f"const {t}* scales", f"const {t}* biases",
              f"const {t}* nw", f"const {t}* res", f"{t}* y"]
    consts = ", ".join(f"{k} = {v[k]}" for k in ["BITS", "GS", "MR", "NC", "U", "PRE", "EPI"])
    return (STAND_IN + jit["kConversions"] + dev["kDeviceHelpers"] +
            "namespace mlx::core::cu {\n"
            f"__global__ void mlxn_qmv({', '.join(params)}) {{\n"
            f"using T = {t};\nconstexpr int {consts}, EPS = 0;\n" + dev["kDeviceBody"] +
            "\n}\n}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("variants", nargs="*", help="KEY=VALUE,... over the defaults")
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--sass", action="store_true", help="also count the SASS instructions")
    ap.add_argument("--cache", default=os.path.join(ROOT, ".cache", "nvcc"))
    a = ap.parse_args()
    os.makedirs(a.cache, exist_ok=True)
    base = toolkit(a.cache, a.sass)
    env = dict(os.environ, PATH=os.path.join(base, "bin") + os.pathsep + os.environ["PATH"])
    specs = a.variants or [f"MR={r},NC={4 if r <= 2 else 2}" for r in (1, 2, 4, 8)]
    failed = 0
    for spec in specs:
        v = dict(DEFAULTS)
        for kv in filter(None, spec.split(",")):
            k, _, val = kv.partition("=")
            if k not in DEFAULTS:
                sys.exit(f"unknown key {k} (keys: {', '.join(DEFAULTS)})")
            v[k] = val if k == "T" else int(val)
        name = "_".join(f"{k}{v[k]}" for k in DEFAULTS)
        cu = os.path.join(a.cache, name + ".cu")
        cubin = cu[:-3] + ".cubin"
        open(cu, "w").write(source(v))
        r = subprocess.run(["nvcc", f"-arch={a.arch}", "-cubin", "-std=c++17", "-Xptxas", "-v",
                            "-I", os.path.join(base, "include", "cccl"), cu, "-o", cubin],
                           capture_output=True, text=True, env=env)
        out = r.stdout + r.stderr
        regs = re.search(r"Used (\d+) registers", out)
        spill = re.search(r"(\d+) bytes spill stores", out)
        if r.returncode != 0 or not regs:
            failed += 1
            print(f"{spec}: compile failed\n{out}")
            continue
        line = f"{spec:32} {regs.group(1):>4} registers, {spill.group(1) if spill else '?'} bytes spilled"
        if a.sass:
            dump = subprocess.run(["cuobjdump", "-sass", cubin], capture_output=True, text=True,
                                  env=env).stdout
            ops = Counter(m.split(".")[0] for m in re.findall(
                r"/\*[0-9a-f]{4}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]+)", dump))
            line += "; " + " ".join(f"{op} {n}" for op, n in ops.most_common(8))
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""GPU benchmark steps that prepare the machine (bench.py): setup (the wheels into ROOT/mlx),
the kernel checks (qmv), the build of the native tools, and the random-weight models."""
import glob
import hashlib
import os
import shutil
import site
import subprocess
import sys
import tarfile
import threading
import time
import zipfile

from bench_common import HERE, OUT, log, sh, child_env, model_dir


def step_setup(a):
    os.makedirs(a.mlx_dir, exist_ok=True)
    parts = []
    for pattern in a.parts.split(","):
        parts += glob.glob(pattern)
    parts = sorted(set(parts), key=os.path.basename)
    log("wheel parts:", parts)
    want = open(os.path.join(HERE, "mlx-cuda-13.sha256")).read().split()[0]
    h = hashlib.sha256()
    wheel = os.path.join(a.root, "mlx_cuda_13.whl")
    with open(wheel, "wb") as out:
        for p in parts:
            with open(p, "rb") as f:
                while chunk := f.read(1 << 24):
                    h.update(chunk)
                    out.write(chunk)
    if h.hexdigest() != want:
        raise RuntimeError(f"joined wheel sha256 {h.hexdigest()} != {want}: a part is missing "
                           "(part one is copied to /root by the first call; was the second "
                           "call more than 30 s later?)")
    wheels = [wheel] + sorted(glob.glob(a.wheels))
    for w in wheels:
        t0 = time.time()
        zipfile.ZipFile(w).extractall(a.mlx_dir)
        log(f"unpacked {os.path.basename(w)} in {time.time() - t0:.1f} s")
    # libmlx's RPATH looks for $ORIGIN/../../nvidia/*/lib: point that at the image's wheels.
    link = os.path.join(a.mlx_dir, "nvidia")
    for sp in site.getsitepackages():
        if os.path.isdir(os.path.join(sp, "nvidia")) and not os.path.exists(link):
            os.symlink(os.path.join(sp, "nvidia"), link)
    llg_tar = ".gpu-llg/llguidance.tar.gz"
    if os.path.exists(llg_tar):
        with tarfile.open(llg_tar) as t:
            t.extractall(os.path.dirname(a.llguidance))
        log("unpacked", llg_tar, "into", a.llguidance)
    sh([sys.executable, "-c", "import mlx.core as mx; print('mlx', mx.__version__, "
        "mx.default_device(), mx.array([1.0, 2.0]).sum().item())"], env=child_env(a))


def step_qmv(a):
    """The decode kernel (native/tools/qmv_test.cpp): exactness against quantized_matmul for
    every format (qmv-check.log), then µs and GB/s per call for Llama-3.1-8B's projections at
    1-64 rows against quantized_matmul (qmv-bench.log; the table is printed)."""
    binary = os.path.join(a.build_dir, "qmv_test")
    if not os.path.exists(binary):
        log("qmv: no", binary, "(a commit without native/tools/qmv_test.cpp?)")
        return
    # The check, one process per bit width side by side (most of its time is NVRTC compiling
    # a kernel per format and row tile, single-threaded), then the bench alone on the GPU.
    t0 = time.time()
    env = child_env(a)
    procs = [subprocess.Popen([binary, "check", "--bits", str(b)], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for b in (2, 3, 4, 5, 6, 8)]
    outs = []
    for p in procs:
        try:
            outs.append(p.communicate(timeout=a.step_timeout)[0])
        except subprocess.TimeoutExpired:
            p.kill()
            outs.append(p.communicate()[0] + "\n[bench.py] killed\n")
    text = "".join(outs)
    open(os.path.join(OUT, "qmv-check.log"), "w").write(text)
    summary = [l for l in text.splitlines() if l.startswith("FAIL") or " passed, " in l]
    log(f"qmv check in {time.time() - t0:.0f} s:\n" + "\n".join(summary[:40]))
    with open(os.path.join(OUT, "qmv-bench.log"), "w") as f:
        out = sh([binary, "bench"], env=env, timeout=a.step_timeout, logfile=f, check=False)
    log(out)


# ---------------------------------------------------------------------------------------------
# Build


def start_build(a):
    """Starts configure + build of engine_bench; returns a function that waits for it."""
    if a.src_dir:
        src = os.path.abspath(a.src_dir)
    else:
        src = os.path.join(a.root, "src")
        shutil.rmtree(src, ignore_errors=True)
        with tarfile.open(a.src) as t:
            t.extractall(src)
    cudnn_h = (glob.glob(os.path.join(a.mlx_dir, "nvidia", "cudnn", "include", "cudnn.h")) +
               [h for sp in site.getsitepackages()
                for h in glob.glob(os.path.join(sp, "nvidia", "*", "include", "cudnn.h"))])
    configure = ["cmake", "-S", src, "-B", a.build_dir, "-G", "Ninja",
                 f"-DCMAKE_BUILD_TYPE={a.build_type}",
                 f"-DMLX_DIR={os.path.join(a.mlx_dir, 'mlx', 'share', 'cmake', 'MLX')}",
                 # libmlx's own NEEDED libraries are found at run time (LD_LIBRARY_PATH)
                 "-DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined"]
    if cudnn_h:  # MLX's CUDA config looks for cuDNN; the image has it as a pip wheel
        inc = os.path.dirname(cudnn_h[0])
        configure += [f"-DCUDNN_INCLUDE_PATH={inc}",
                      f"-DCUDNN_LIBRARY_PATH={os.path.join(os.path.dirname(inc), 'lib')}"]
    llg = a.llguidance  # prepare.sh: the static library built here, unpacked by step setup
    if os.path.exists(os.path.join(llg, "include", "llguidance.h")):
        configure.append(f"-DLLGUIDANCE_DIR={llg}")
    nlohmann = os.path.join(a.mlx_dir, "nlohmann_json", "include")  # from .gpu-whl (setup)
    if os.path.exists(os.path.join(nlohmann, "nlohmann", "json.hpp")):
        configure.append(f"-DNLOHMANN_JSON_INCLUDE_DIR={nlohmann}")
    if not shutil.which("nvcc"):  # MLX's config needs the CUDA toolkit (CUDAToolkit)
        nvcc = sorted(glob.glob("/usr/local/cuda*/bin/nvcc"))
        if nvcc:
            configure.append(f"-DCUDAToolkit_ROOT={os.path.dirname(os.path.dirname(nvcc[-1]))}")
    targets = ["engine_bench"]
    for tool in ("qmv_test", "fused_test"):  # the engine's CUDA kernels: checks and benches
        if os.path.exists(os.path.join(src, "native", "tools", tool + ".cpp")):
            targets.append(tool)
    build = ["cmake", "--build", a.build_dir, "--target", *targets,
             "-j", str(os.cpu_count() or 8)]
    blog = open(os.path.join(OUT, "build.log"), "w")
    result = {}

    def work():
        try:
            env = child_env(a)
            if os.path.exists(os.path.join(a.build_dir, "CMakeCache.txt")) and not a.src_dir:
                shutil.rmtree(a.build_dir)  # a fresh tree from the tarball: build it clean
            sh(configure, env=env, logfile=blog)
            sh(build, env=env, logfile=blog)
            result["ok"] = True
        except Exception as e:  # noqa: BLE001
            result["error"] = str(e)

    t = threading.Thread(target=work)
    t.start()

    def wait():
        t.join()
        blog.close()
        if "error" in result:
            print(open(os.path.join(OUT, "build.log")).read()[-6000:], flush=True)
            raise RuntimeError("build failed: " + result["error"])
        log("built", os.path.join(a.build_dir, "engine_bench"))

    return wait




def step_models(a, names):
    for name in names:
        d = model_dir(a, name)
        if os.path.exists(os.path.join(d, "config.json")) and not a.force_models:
            log("model exists:", d)
            continue
        sh([sys.executable, os.path.join(HERE, "make_model.py"), name, d, "--dtype", a.dtype],
           env=child_env(a), timeout=900)

#!/usr/bin/env bash
# Everything that needs a GPU, as one command:
#
#   bash benchmarks/gpu_check.sh [OUTDIR [STEP ...]]    STEP: tests memcheck racecheck bench
#
# All four steps by default; name some to run only those (e.g. where one command may run for
# 10 minutes at most: `... OUT tests memcheck`, then `... OUT racecheck bench`).
#
#   1. the GPU tests: tests/kernels/test_cuda_runtime.py (every kernel vs the reference, output
#      buffers poisoned with NaN) and test_cuda_compile.py (NVRTC of this machine's CUDA)
#   2. compute-sanitizer --tool memcheck over the GPU tests, with CuPy's memory pool off so
#      that every array is its own allocation and an out-of-bounds access cannot land inside
#      a neighbour
#   3. compute-sanitizer --tool racecheck over attention (the only kernels with shared memory)
#   4. benchmarks/bench_gpu.py: each kernel vs PyTorch on the GPU, and a GPT training step
#
# Expects a python3 with CuPy, NumPy, Numba, pytest and hypothesis (PyTorch with CUDA for the
# comparisons); installs tinylm from this checkout without dependencies (works offline).
# Each step runs under a time limit and the script goes on after a failure: OUTDIR (default
# $OUT, else gpu_check_out) gets one log per step and summary.txt with each step's status.
set -uo pipefail
cd "$(dirname "$0")/.."

out="${1:-${OUT:-gpu_check_out}}"
shift $(($# > 0 ? 1 : 0))
steps=" ${*:-tests memcheck racecheck bench} "
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg HYPOTHESIS_PROFILE=ci NUMBA_CACHE_DIR="$PWD/.numba_cache"
PY="${PYTHON:-python3}"
GPU_TESTS=tests/kernels/test_cuda_runtime.py

step() {  # step NAME SECONDS COMMAND...: run it, log it, record its status
    local name=$1 limit=$2
    shift 2
    echo "== $name (limit ${limit}s)"
    local t0=$SECONDS
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    local rc=$?
    tail -n 15 "$out/$name.log"
    local verdict="ok"
    [ "$rc" -ne 0 ] && verdict="FAILED (exit $rc$([ "$rc" -eq 124 ] && echo ', timed out'))"
    echo "$name: $verdict in $((SECONDS - t0)) s" | tee -a "$summary"
}

# pytest with CuPy's memory pool off: each array a cudaMalloc of its own
NO_POOL='import sys, cupy, pytest; cupy.cuda.set_allocator(None);
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[1:]]))'
SANITIZE=(compute-sanitizer --target-processes all --error-exitcode 97 --print-limit 20)

{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    "$PY" -c "import sys, numpy, cupy; print(sys.version); print('numpy', numpy.__version__, \
'cupy', cupy.__version__, 'cuda runtime', cupy.cuda.runtime.runtimeGetVersion())"
    "$PY" -c "import torch; print('torch', torch.__version__, torch.cuda.is_available())"
    command -v compute-sanitizer || echo "compute-sanitizer not on PATH"
} >"$out/env.log" 2>&1
cat "$out/env.log"

"$PY" -c "import tinylm.kernels.cuda" 2>/dev/null ||
    step install 120 "$PY" -m pip install -q --no-deps --no-build-isolation -e .
case $steps in *" tests "*)
    step gpu_tests 240 "$PY" -m pytest -q -p no:cacheprovider -ra "$GPU_TESTS" \
        tests/kernels/test_cuda_compile.py ;;
esac
case $steps in *" memcheck "*)
    step memcheck 300 "${SANITIZE[@]}" --tool memcheck "$PY" -c "$NO_POOL" "$GPU_TESTS" \
        -k "not more_than_65535 and not 50257" ;;
esac
case $steps in *" racecheck "*)
    step racecheck 240 "${SANITIZE[@]}" --tool racecheck "$PY" -c "$NO_POOL" \
        "$GPU_TESTS::test_flash_attention[64-100-100-True]" \
        "$GPU_TESTS::test_flash_attention[32-130-33-False]" \
        "$GPU_TESTS::test_flash_attention[64-33-130-True]" \
        "$GPU_TESTS::test_attention_into_packed_destinations[True]" ;;
esac
case $steps in *" bench "*)
    step bench 240 "$PY" benchmarks/bench_gpu.py --repeats 20 ;;
esac

echo "== summary ($summary)"
cat "$summary"
! grep -q FAILED "$summary"

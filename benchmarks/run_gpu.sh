#!/usr/bin/env bash
# The GPU benchmark as one command for the GPU machine (what it measures: benchmarks/gpu.py).
#
#   OUT=/an/empty/folder bash benchmarks/run_gpu.sh        # from the repository root
#
# Needs, beside the repository (both git-ignored; carry them to the machine):
#   .gpu-wheels/         wheels of skorch, safetensors, tabulate and tqdm (the machine has
#                        numpy, scipy, torch and scikit-learn, and no internet), made with
#                        pip download --no-deps --only-binary=:all: --python-version 3.12 \
#                          --platform manylinux2014_x86_64 -d .gpu-wheels \
#                          skorch safetensors tabulate tqdm
#   .gpu-data/mnist10k/  the MNIST t10k IDX files (cp -r ../shared/data/mnist10k .gpu-data/)
# Writes $OUT/results/gpu.{md,json}, $OUT/results/gpu-profile-*.txt and the log $OUT/gpu.log.
# No timeout here: the caller sets one. gpu.py keeps to its --budget-s (300 s by default) and
# writes its results after every section, so a run cut short still leaves them.
# Environment: PYTHON (default: python, else python3); GPU_BENCH_ARGS, more arguments for
# gpu.py (e.g. GPU_BENCH_ARGS="--device cpu --quick" to rehearse where there is no GPU).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
: "${OUT:?set OUT to the folder the results go to}"
mkdir -p "$OUT/results"
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"

{
  echo "== $(date -u '+%Y-%m-%d %H:%M:%S') UTC, $(hostname)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,utilization.gpu \
    --format=csv 2>&1 || echo "nvidia-smi: not available"
  "$PYTHON" -c 'import sys, numpy, torch, sklearn
print("python", sys.version.split()[0], "| numpy", numpy.__version__, "| torch",
      torch.__version__, "(CUDA", torch.version.cuda, ", available:",
      torch.cuda.is_available(), ") | scikit-learn", sklearn.__version__)'

  echo "== install the carried wheels"
  if ! "$PYTHON" -m pip install --no-index --find-links .gpu-wheels skorch safetensors; then
    # e.g. an externally managed Python (PEP 668) or no write access: a private folder
    echo "pip install failed; installing the wheels into .gpu-site instead"
    if ! "$PYTHON" -m pip install --no-index --no-deps --target .gpu-site .gpu-wheels/*.whl; then
      echo "pip install --target failed too; unpacking the wheels into .gpu-site"
      "$PYTHON" -c 'import glob, zipfile
wheels = glob.glob(".gpu-wheels/*.whl")
assert wheels, "no wheels in .gpu-wheels"
for wheel in wheels:
    zipfile.ZipFile(wheel).extractall(".gpu-site")' || { echo "no way to install the wheels"; exit 3; }
    fi
    export PYTHONPATH=".gpu-site${PYTHONPATH:+:$PYTHONPATH}"
  fi

  echo "== benchmarks/gpu.py"
  # shellcheck disable=SC2086  # GPU_BENCH_ARGS is a list of arguments
  PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -u benchmarks/gpu.py \
    --mnist-dir .gpu-data/mnist10k --out "$OUT/results" ${GPU_BENCH_ARGS:-}
  status=$?
  echo "== gpu.py exit status $status (0: all checks passed, 1: a check failed, 2: no CUDA)"
  exit $status
} 2>&1 | tee "$OUT/gpu.log"
exit "${PIPESTATUS[0]}"

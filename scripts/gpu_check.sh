#!/usr/bin/env bash
# The prepared GPU check: run on a lent GPU machine from the repository root.
# 1. installs carried wheels (.whl/, see README "GPU") into /tmp/site when present;
# 2. runs every lesson in the gpu profile into $OUT/reports (or reports/);
# 3. times the training loop's speed-ups (scripts/bench_train.py).
set -uo pipefail
OUT=${OUT:-.}
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD JUPYTER_PATH=/tmp/site/share/jupyter  # nbconvert's HTML templates
else
  export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1 TRANSFER_LESSONS_CACHE=/tmp/tl-cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 - <<'PY'
import sys, site
print(sys.version.split()[0])
PY
python3 -m ipykernel install --user --name python3 >/dev/null 2>&1 || true
python3 -m transfer_lessons doctor
python3 -m transfer_lessons run --profile gpu --out "$OUT/reports"; course=$?
python3 scripts/bench_train.py --json "$OUT/bench_train.json"; bench=$?
echo "course exit $course, bench exit $bench"

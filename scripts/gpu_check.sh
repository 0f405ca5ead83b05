#!/usr/bin/env bash
# The prepared GPU check: run on a lent GPU machine from the repository root.
# 1. installs carried wheels (.whl/, see README "GPU") into /tmp/site when present;
# 2. runs the lessons in the gpu profile into $OUT/reports (or reports/): all of them, or the
#    numbers in $LESSONS (e.g. LESSONS="02 05"); data from $TRANSFER_LESSONS_DATA if set;
# 3. times the training loop's speed-ups against a bare loop, with MFU (python -m transfer_lessons bench,
#    into $OUT/bench.json), unless BENCH=0.
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
python3 -m transfer_lessons run --profile gpu ${LESSONS:+--lessons $LESSONS} --out "$OUT/reports"; course=$?
bench=skipped
if [ "${BENCH:-1}" != 0 ]; then python3 -m transfer_lessons bench --json "$OUT/bench.json"; bench=$?; fi
echo "course exit $course, bench exit $bench"

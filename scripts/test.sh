#!/usr/bin/env bash
# Set up (see setup.sh), lint, and run the whole test suite in a virtual display.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check napari_calcium tests benchmarks scripts
.venv/bin/ruff format --check napari_calcium tests benchmarks scripts
if [ -n "${DISPLAY:-}" ]; then
  exec .venv/bin/python -m pytest "$@"
fi
exec xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m pytest "$@"

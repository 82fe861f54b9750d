#!/usr/bin/env bash
# Set up (see setup.sh), then run the main job on the checkout's sample_data/: with a
# display it opens napari with the samples and the plugin's widgets; without one
# it writes the report to demo-report/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/napari-calcium demo --out demo-report --samples sample_data "$@"

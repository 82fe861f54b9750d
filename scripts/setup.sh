#!/usr/bin/env bash
# Set up everything napari-calcium needs, idempotently: the system libraries for a
# headless napari (Xvfb, Mesa, Qt's xcb libraries; only when run as root on Debian/
# Ubuntu and something is missing) and a virtual environment in .venv with the
# package (editable) and its development tools.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES="xvfb xauth libgl1 libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxcb-icccm4 \
libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-xinerama0 libxcb-shape0 \
libxcb-xfixes0 libxcb-cursor0 libxcb-xinput0 libdbus-1-3 libfontconfig1"

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=$(dpkg-query -W -f='${Package} ${Status}\n' $SYSTEM_PACKAGES 2>/dev/null \
    | awk '$NF != "installed" {print $1}'; for p in $SYSTEM_PACKAGES; do
      dpkg-query -W "$p" >/dev/null 2>&1 || echo "$p"; done)
  missing=$(echo "$missing" | sort -u | tr '\n' ' ')
  if [ -n "${missing// /}" ]; then
    echo "setup: installing system packages: $missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.napari-calcium-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing napari-calcium and its development tools into .venv"
  .venv/bin/python -m pip install -q --upgrade "pip>=25.1"
  .venv/bin/python -m pip install -q -e . --group dev
  touch "$stamp"
fi

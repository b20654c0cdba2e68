#!/usr/bin/env bash
# CI check: rebuild the UI from web/ and fail if src/amplio/server/static differs (see check_build.py).
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" web/check_build.py

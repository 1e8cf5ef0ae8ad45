#!/usr/bin/env bash
# Build a wheel from this checkout, install it with the train extra in a fresh venv outside
# the clone, and run .ci/wheel_check.py with it (what a `pip install sadt` user gets).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip wheel -q --no-deps -w "$work/dist" "$repo"
python3 -m venv "$work/venv"
wheel="$(ls "$work"/dist/sadt-*.whl)"
"$work/venv/bin/pip" install -q "sadt[train] @ file://$wheel"
cd "$work" && PATH="$work/venv/bin:$PATH" "$work/venv/bin/python" "$repo/.ci/wheel_check.py"

#!/usr/bin/env bash
# Write requirements/lock.txt: every distribution in the tested venv, pinned with ==.
# setup.sh (`make setup`) passes the lock to every `pip install` as a constraints file (-c), so a
# fresh machine gets the versions tested here and `-e ".[tests]"` cannot pull newer releases.
#
#   bash tools/misc/refresh_lock.sh           # = make lock: rewrite requirements/lock.txt
#   bash tools/misc/refresh_lock.sh --check   # exit 1 (and print a diff) if venv and lock differ
#
# Refresh after changing a pin (pyproject.toml, setup.sh) once the venv has the new versions and
# the tests pass; see docs/install.md, "The lock file".
#
# Why `pip list --format=freeze` and not pip-tools' `pip-compile`:
#   * The lock has to record the environment that was tested, and `pip list` reads exactly the
#     installed distributions. pip-compile re-resolves from the indexes and writes whatever is
#     newest on the day it runs, which is not necessarily what the tests ran against.
#   * pip-compile must build metadata for the mmcv 2.1.0 sdist in an isolated build env. That
#     depends on the pip version under pip-tools: with pip 23.2 it worked, with pip 26.3 (the pip
#     this project uses) it fails ("No module named 'pkg_resources'": the isolated build env gets
#     setuptools >= 82). Tested with pip-tools 7.6.2, 2026-12-01. It also leaves out pip /
#     setuptools / wheel / ninja (`--allow-unsafe` adds only what a dependency asks for).
#   * `pip freeze` writes the locally built mmcv as `mmcv @ file:///.../mmcv-2.1.0-...whl#sha256=`,
#     a machine-specific path and hash (a local build is not byte-reproducible), useless as a
#     constraint elsewhere. `pip list --format=freeze` writes `mmcv==2.1.0`, and it always lists
#     pip, setuptools and wheel (pip freeze needs --all for those).
#   * Local version labels are kept as installed: torch from PyPI has metadata version 2.14.1
#     (torch.__version__ says 2.14.1+cu130), so the lock says torch==2.14.1; a `==2.14.1`
#     constraint also accepts 2.14.1+cu130 / +cpu builds (PEP 440 ignores the label), and it
#     combines with the machine-wide `torch<=2.14.1` constraint of /etc/xdg/pip/pip.conf.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${ACSDET_VENV:-$here/.venv}"
PY="$venv/bin/python"
lock="$here/requirements/lock.txt"

fail() { printf '[lock] ERROR: %s\n' "$*" >&2; exit 1; }

mode=write
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) fail "unknown argument '$1' (use --check or nothing)" ;;
esac

[ -x "$PY" ] || fail "no venv at $venv: run 'make setup' first"

# name==version for every installed distribution except acsdet itself (the editable install)
pins() {
  "$PY" -m pip --disable-pip-version-check list --format=freeze --exclude-editable --exclude acsdet
}

if [ "$mode" = check ]; then
  [ -f "$lock" ] || fail "no lock file at $lock"
  if diff -u --label "$lock" <(grep -v '^#' "$lock") --label "$venv (pip list)" <(pins); then
    echo "[lock] $venv matches $lock"
  else
    echo "[lock] $venv differs from $lock (+: installed but not locked). If the venv is the" \
         "tested one, refresh with: make lock" >&2
    exit 1
  fi
  exit 0
fi

mkdir -p "$(dirname "$lock")"
tmp="$(mktemp "$(dirname "$lock")/.lock.txt.XXXXXX")"
trap 'rm -f "$tmp"' EXIT

"$PY" - "$(date -u +%Y-%m-%d)" >"$tmp" <<'PYCODE'
import platform, sys
from importlib import metadata
date = sys.argv[1]
libc = " ".join(platform.libc_ver()) or "unknown libc"
try:
    import torch
    gpu = "GPU visible" if torch.cuda.is_available() else "CPU machine, no GPU"
    build = f"torch {torch.__version__} (CUDA {torch.version.cuda} build from PyPI; runs on CPUs too)"
except Exception as e:  # the lock is still written; setup.sh will tell what is broken
    gpu, build = "unknown", f"torch not importable ({type(e).__name__})"
print(f"""\
# acsdet lock: every distribution of the tested venv, pinned with ==. Do not edit by hand.
# make setup (setup.sh) passes this file to every `pip install` as a constraints file (-c):
# it limits versions, it does not install anything by itself.
# Produced by: tools/misc/refresh_lock.sh (= make lock), i.e.
#   python -m pip list --format=freeze --exclude-editable --exclude acsdet
# Date: {date}
# Python: {platform.python_implementation()} {platform.python_version()}, pip {metadata.version('pip')}
# Platform: {platform.system()} {platform.machine()} ({libc}), {gpu}
# {build}
# mmcv 2.1.0: built from the PyPI sdist by setup.sh (CPU ops unless FORCE_CUDA=1) and installed
#   from its wheel cache; this file pins only its version.
# Refresh after changing a pin: install, run the tests, then `make lock` (docs/install.md).""")
PYCODE
pins >>"$tmp"

# every non-comment line must be NAME==VERSION, and the core stack must be there
bad=$(grep -v '^#' "$tmp" | grep -Ev '^[A-Za-z0-9][A-Za-z0-9._-]*==[^[:space:]]+$' || true)
[ -z "$bad" ] || fail "unexpected lines from pip list (not NAME==VERSION): $bad"
for name in pip setuptools wheel ninja torch torchvision mmcv mmengine mmdet; do
  grep -qi "^$name==" "$tmp" || fail "$name is not installed in $venv; run 'make setup' first"
done

chmod 644 "$tmp"
mv -f "$tmp" "$lock"
trap - EXIT
echo "[lock] wrote $lock ($(grep -vc '^#' "$lock") pins)"

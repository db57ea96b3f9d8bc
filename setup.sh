#!/usr/bin/env bash
# acsdet one-command set-up: creates .venv and installs the pinned stack.
#
#   bash setup.sh            # idempotent; re-running takes seconds once mmcv is cached
#
# Every `pip install` below runs with `-c requirements/lock.txt`: the lock pins every distribution
# of the tested venv (refresh it with `make lock` after changing a pin; docs/install.md).
#
# Environment knobs:
#   ACSDET_VENV        venv folder (default: .venv in the repo)
#   ACSDET_CACHE       wheel cache outside the repo (default: ~/.cache/acsdet)
#   PYTHON             interpreter to create the venv with (default: python3.11, else python3)
#   FORCE_CUDA=1       build mmcv's CUDA ops (automatic when nvcc and a GPU are present)
#   MAX_JOBS           parallel compile jobs for mmcv (default: nproc)
set -Eeuo pipefail

TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
venv="${ACSDET_VENV:-$here/.venv}"
cache="${ACSDET_CACHE:-$HOME/.cache/acsdet}"
lock="$here/requirements/lock.txt"
start=$(date +%s)

say()  { printf '[setup %4ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }
fail() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
trap 'fail "command failed at line $LINENO: $BASH_COMMAND"' ERR

[ -f "$lock" ] || fail "missing lock file $lock (the pinned versions every pip install here uses as constraints); restore it with 'git checkout -- requirements/lock.txt', or write it from a working, tested venv with 'make lock'"

# ---------------------------------------------------------------- 1. venv
if [ ! -x "$venv/bin/python" ]; then
  py="${PYTHON:-$(command -v python3.11 || command -v python3 || true)}"
  [ -n "$py" ] || fail "no python3 found; install Python 3.11"
  "$py" -c 'import sys; assert sys.version_info[:2] >= (3, 9), sys.version' \
    || fail "$py is too old; acsdet needs Python >= 3.9 (3.11 tested)"
  say "creating venv $venv with $py"
  "$py" -m venv "$venv"
fi
PY="$venv/bin/python"
pip_() { "$PY" -m pip --disable-pip-version-check "$@"; }
# the lock adds to pip.conf's constraint files (e.g. /etc/xdg/pip/pip.conf), it does not replace them
pip_install() { pip_ install -c "$lock" "$@"; }

# setuptools<82 keeps pkg_resources, needed to build mmcv and by mmengine's Config at run time.
# --upgrade moves them to the lock's versions, never beyond (the lock pins each with ==).
say "build tools (pip, setuptools<82, wheel, ninja) at the lock's versions"
pip_install -q --upgrade 'pip' 'setuptools<82' wheel ninja

# ---------------------------------------------------------------- 2. torch
have_torch=$("$PY" -c "import torch, torchvision; print(torch.__version__.split('+')[0], torchvision.__version__.split('+')[0])" 2>/dev/null || true)
if [ "$have_torch" != "$TORCH_VERSION $TORCHVISION_VERSION" ]; then
  say "installing torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION"
  pip_install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
else
  say "torch $TORCH_VERSION / torchvision $TORCHVISION_VERSION already installed"
fi

# ---------------------------------------------------------------- 3. mmcv with ops
want_cuda=0
if [ "${FORCE_CUDA:-0}" = "1" ]; then
  want_cuda=1
elif command -v nvcc >/dev/null 2>&1 && "$PY" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  want_cuda=1
fi
flavour=cpu; [ "$want_cuda" = 1 ] && flavour="cuda$("$PY" -c 'import torch; print(torch.version.cuda)')"
key="mmcv-${MMCV_VERSION}_torch-${TORCH_VERSION}_py$("$PY" -c 'import sys; print("%d%d" % sys.version_info[:2])')_${flavour}_$(uname -m)"
wheel_dir="$cache/wheels/$key"

mmcv_ok() {
  "$PY" - "$want_cuda" <<'PYCODE' 2>/dev/null
import sys
import mmcv
from mmcv.ops import RoIAlign, nms  # noqa: F401  (fails without compiled ops)
from mmcv.ops import get_compiling_cuda_version
assert mmcv.__version__ == "2.1.0", mmcv.__version__
if sys.argv[1] == "1":
    assert get_compiling_cuda_version() != "not available"
PYCODE
}

if mmcv_ok; then
  say "mmcv $MMCV_VERSION with ops already installed"
else
  if ! ls "$wheel_dir"/mmcv-*.whl >/dev/null 2>&1; then
    say "no cached mmcv wheel at $wheel_dir: building mmcv $MMCV_VERSION from the PyPI sdist ($flavour)"
    say "this compiles 77 C++ op files (CPU): 12-25 minutes on 2 cores; progress every 30 s"
    build="$(mktemp -d "${TMPDIR:-/tmp}/acsdet-mmcv.XXXXXX")"
    pip_ download -q --no-deps --no-binary :all: --no-build-isolation -c "$lock" -d "$build" "mmcv==$MMCV_VERSION"
    tar -xzf "$build"/mmcv-"$MMCV_VERSION".tar.gz -C "$build"
    src="$build/mmcv-$MMCV_VERSION"
    # torch >= 2.6 headers need C++20; mmcv 2.1.0 hard-codes c++14/c++17 (see docs/install.md).
    sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$src/setup.py"
    grep -q 'c++20' "$src/setup.py" || fail "could not patch $src/setup.py for C++20"
    log="$build/build.log"
    ( cd "$src" && MMCV_WITH_OPS=1 FORCE_CUDA="$want_cuda" MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
        "$PY" -m pip --disable-pip-version-check wheel -v --no-deps --no-build-isolation -w "$build/dist" . ) >"$log" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      sleep 30
      done_n=$(grep -Eo '\[[0-9]+/[0-9]+\]' "$log" | tail -n 1 || true)
      say "compiling mmcv ops ${done_n:-(configuring)} (ninja: done/total)"
    done
    if ! wait "$pid"; then
      tail -n 40 "$log" >&2
      fail "mmcv build failed; full log: $log"
    fi
    mkdir -p "$wheel_dir"
    # atomic: copy to a temp name in the cache, then rename
    whl=$(ls "$build"/dist/mmcv-*.whl)
    cp "$whl" "$wheel_dir/.tmp.$(basename "$whl")"
    mv "$wheel_dir/.tmp.$(basename "$whl")" "$wheel_dir/$(basename "$whl")"
    rm -rf "$build"
    say "mmcv wheel cached in $wheel_dir"
  else
    say "using cached mmcv wheel from $wheel_dir"
  fi
  pip_install -q --no-deps --force-reinstall "$wheel_dir"/mmcv-*.whl
  # mmcv's own runtime requirements (addict, yapf, ...) come with mmengine/mmdet below
fi

# ---------------------------------------------------------------- 4. acsdet + the rest of the stack
say "installing acsdet (editable) with mmdet 3.3.0, mmengine 0.10.7 and the test tools"
# --build-constraint: acsdet's isolated build env (setuptools, wheel) comes from the lock too
# (pip >= 25.3; the lock's pip is installed by step 1)
pip_install -q --build-constraint "$lock" -e ".[tests]"

mmcv_ok || fail "mmcv ops do not import after installation"
"$PY" - <<'PYCODE'
import torch, torchvision, mmcv, mmengine, mmdet
from mmcv.ops import RoIAlign, nms, get_compiling_cuda_version
import acsdet
print(f"[setup] torch {torch.__version__} (cuda available: {torch.cuda.is_available()}), "
      f"torchvision {torchvision.__version__}, mmcv {mmcv.__version__} "
      f"(ops: RoIAlign, nms; cuda ops: {get_compiling_cuda_version()}), "
      f"mmengine {mmengine.__version__}, mmdet {mmdet.__version__}, acsdet {acsdet.__version__}")
PYCODE
# constraints only limit versions: a dependency missing from the lock would come in unpinned
ACSDET_VENV="$venv" bash "$here/tools/misc/refresh_lock.sh" --check >/dev/null 2>&1 \
  || say "WARNING: the venv differs from requirements/lock.txt (a new dependency, or packages added" \
         "by hand); see: bash tools/misc/refresh_lock.sh --check; after testing a new pin: make lock"
say "done. Activate with: source ${venv#$here/}/bin/activate"

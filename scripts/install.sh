#!/usr/bin/env bash
# Installs everything wraplab needs on a fresh Debian machine: system packages for notebooks (Jupyter
# nbconvert/nbclient to execute them headless, the classic Notebook front end for `npm run jupyter`), static figure
# export (Chromium), the native kernels (OpenBLAS, gcc) and the Slurm sweep test (slurm-wlm, munge; skip it with
# WRAPLAB_SKIP_SLURM=1), then the npm packages (which also builds the library into dist/). Safe to rerun: it installs
# only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || packages+=(chromium fonts-dejavu-core)
if ! /usr/bin/python3 -c 'import nbclient, nbconvert' >/dev/null 2>&1 || ! command -v jupyter >/dev/null 2>&1; then
  packages+=(jupyter-nbconvert python3-nbclient python3-ipykernel)
fi
/usr/bin/python3 -c 'import notebook' >/dev/null 2>&1 || packages+=(jupyter-notebook)
# A real single-node Slurm for the sweep tests (tests/sweep/slurm.test.ts starts it on localhost).
if [ "${WRAPLAB_SKIP_SLURM:-}" != 1 ] && { ! command -v sbatch >/dev/null 2>&1 || [ ! -x /usr/sbin/slurmctld ] || [ ! -x /usr/sbin/slurmd ] || [ ! -x /usr/sbin/munged ]; }; then
  packages+=(slurm-wlm munge)
fi
# The native kernel provider (lib/engine/native): OpenBLAS for the matrix products, a C compiler for wraplab's own
# kernels. Without them the library runs its stock wasm kernels (slower; it says so in one line).
[ -e /usr/lib/x86_64-linux-gnu/libopenblas.so.0 ] || [ -e /usr/lib/aarch64-linux-gnu/libopenblas.so.0 ] || ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so\.0' || packages+=(libopenblas0-pthread)
command -v cc >/dev/null 2>&1 || packages+=(gcc libc6-dev)
if ((${#packages[@]})); then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install.sh: need root (or sudo) to apt-get install ${packages[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  echo "install.sh: apt-get install ${packages[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${packages[@]}" >/dev/null
fi

# npm ci installs the exact lockfile and runs `prepare` (tsc -> dist/). tfjs-node is optional: where it cannot
# download its native library (no internet), npm skips it and wraplab uses the wasm backend.
npm ci --no-audit --no-fund

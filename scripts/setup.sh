#!/usr/bin/env bash
# Installs what building and testing pipeline needs on a fresh Debian/Ubuntu machine, and nothing that is
# already there: OpenBLAS for matrix products (cgo build). Go itself must be installed (1.26 or newer).
# Benchmark scripts install their own peers (PyTorch, npm packages) when run.
set -euo pipefail

need=()
dpkg -s libopenblas-dev >/dev/null 2>&1 || need+=(libopenblas-dev)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi
go version >/dev/null || { echo "setup: Go is not installed (https://go.dev/dl/)" >&2; exit 1; }
echo "setup: ok ($(go version | cut -d' ' -f3), OpenBLAS $(dpkg -s libopenblas-dev | sed -n 's/^Version: //p'))"

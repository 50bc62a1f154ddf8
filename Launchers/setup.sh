#!/usr/bin/env bash
# Installs what dllm needs on a fresh Debian machine, then builds it.
#
#   Launchers/setup.sh            apt packages (if missing) + release build + PATH links
#   Launchers/setup.sh --deps     apt packages only
#   Launchers/setup.sh --test-deps  apt packages plus the tests' (python3-zmq, chromium)
#
# apt-get update runs once, and only when a package is missing. The Swift
# toolchain itself is expected on PATH (or at /opt/swift/usr/bin).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: OpenBLAS (compute), OpenMPI (ranks), ZeroMQ (telemetry), pkg-config (SwiftPM),
# zlib headers (the CZlib module: `swift build --build-tests` compiles it for the PNG reader of
# the telemetry tests, so it is installed with the others).
PACKAGES=(libopenblas-dev libopenmpi-dev openmpi-bin libzmq3-dev zlib1g-dev pkg-config)

install_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        echo "setup: installing ${missing[*]}" >&2
        local sudo=""
        [[ $(id -u) -eq 0 ]] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

find_swift() {
    if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
        export PATH="/opt/swift/usr/bin:$PATH"
    fi
    command -v swift >/dev/null 2>&1 || { echo "setup: no Swift toolchain on PATH (install Swift 6)" >&2; exit 1; }
}

# Test-only packages (Launchers/run-tests.sh passes --test-deps): pyzmq for the telemetry
# interop test (Debian's /usr/bin/python3), Chromium for the dashboard screenshot test, curl for
# the HTTP checks of Launchers/test-multinode.sh.
TEST_PACKAGES=(python3-zmq chromium curl)
[[ "${1:-}" == "--test-deps" ]] && PACKAGES+=("${TEST_PACKAGES[@]}")

install_packages "${PACKAGES[@]}"
[[ "${1:-}" == "--deps" ]] && exit 0
[[ "${1:-}" == "--test-deps" ]] && exit 0

find_swift
# dllm (training, tools), dllm-launch (the coordinator), and dllm-collector (metrics)
# when this checkout has that target.
programs=(dllm dllm-launch)
[[ -d Sources/dllm-collector ]] && programs+=(dllm-collector)
for program in "${programs[@]}"; do
    swift build -c release --product "$program"
done
# Put the programs on PATH (root installs to /usr/local/bin; others to ~/.local/bin).
bindir=/usr/local/bin
[[ $(id -u) -eq 0 ]] || { bindir="$HOME/.local/bin"; mkdir -p "$bindir"; }
for program in "${programs[@]}"; do
    ln -sf "$PWD/.build/release/$program" "$bindir/$program"
done
echo "setup: built ${programs[*]}; linked into $bindir ($(readlink "$bindir/dllm-launch"))" >&2

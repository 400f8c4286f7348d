#!/usr/bin/env bash
# Installs what building ioc-sensor needs beyond the Rust toolchain: libpcap's development
# files (Debian/Ubuntu package libpcap-dev). Does nothing when they are already there.
set -euo pipefail

have_libpcap() {
  [ -e /usr/include/pcap.h ] || [ -e /usr/include/pcap/pcap.h ] || pkg-config --exists libpcap 2>/dev/null
}

if have_libpcap; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "setup: libpcap-dev is missing; install it as root: apt-get install libpcap-dev" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: libpcap development files are missing; install libpcap-dev (or your system's libpcap-devel)" >&2
  exit 1
fi

echo "setup: installing libpcap-dev" >&2
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpcap-dev >/dev/null

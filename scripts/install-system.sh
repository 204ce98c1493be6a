#!/usr/bin/env bash
# Installs the Debian packages zvkdiag's demo and tests need, only those missing.
# Idempotent; runs apt-get update at most once. Needs root (or sudo).
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have Xvfb || need+=(xvfb)
have xdotool || need+=(xdotool)
have x11vnc || need+=(x11vnc)
have chromium || need+=(chromium)
have socat || need+=(socat)
have sshd || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
have ssh || need+=(openssh-client)
have xterm || need+=(xterm)
have xwd || need+=(x11-apps)
have xsetroot || need+=(x11-xserver-utils)
have setxkbmap || need+=(x11-xkb-utils)
have make || need+=(make)
# HTTP proxy and namespace firewall for the tests of the way to the relay
have squid || [ -x /usr/sbin/squid ] || need+=(squid)
have nft || [ -x /usr/sbin/nft ] || need+=(nftables)
python3 -c 'import tkinter' 2>/dev/null || need+=(python3-tk)
# XInput 2 raw motion for the screen view's pointer events (without it: polling)
# grep reads all of ldconfig's output: with -q it may stop early, and pipefail would see
# ldconfig's SIGPIPE as a missing library (an apt-get update at every start)
ldconfig -p | grep 'libxcb-xinput.so.0 ' >/dev/null || need+=(libxcb-xinput0)
# The Windows build and its tests under Wine (packaging/windows/build.py, tests/windows):
# Debian's wine64 keeps its loader off PATH; mingw builds the test prefix's stand-in DLLs
[ -x /usr/lib/wine/wine64 ] || need+=(wine64)
have x86_64-w64-mingw32-gcc || need+=(gcc-mingw-w64-x86-64-win32)
have osslsigncode || need+=(osslsigncode)
have tesseract || need+=(tesseract-ocr)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing system packages: ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}"

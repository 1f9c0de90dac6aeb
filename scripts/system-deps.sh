#!/usr/bin/env bash
# System packages the desktop window (PySide6 + QtWebEngine under pywebview) and the browser/window
# tests need on Debian 12. Idempotent: installs only what is missing, and does nothing when all is there.
#
#   scripts/system-deps.sh           install (as root, with apt-get)
#   scripts/system-deps.sh --check   list what is missing; exit 1 if anything is
#
# The shared libraries are what `ldd` reports for PySide6's QtWebEngine, QtWidgets and xcb platform
# plugin in the venv, mapped to Debian packages (plus the ones Qt and Chromium dlopen at run time:
# xcb-cursor, the wayland cursor/egl libraries, NSS's modules, ALSA).
set -euo pipefail

PACKAGES=(
  # Tests and headless runs: virtual X server, its auth helper, screenshots (xwd), Playwright's browser
  xvfb xauth x11-apps chromium
  # The installer recipe's checks: makensis compiles the Windows installer script (build/windows)
  nsis
  # Fonts for the UI (without any, Qt and Chromium draw boxes), and the file manager opener
  fonts-dejavu-core fontconfig xdg-utils
  # QtWebEngine (Chromium) runtime
  libnss3 libnspr4 libasound2 libdbus-1-3 libexpat1 libgssapi-krb5-2 libglib2.0-0
  libfontconfig1 libfreetype6 libdrm2 libgbm1 libegl1 libgl1 libglx0 libopengl0 libxshmfence1
  libxcomposite1 libxdamage1 libxext6 libxfixes3 libxrandr2 libxrender1 libxtst6 libxkbfile1
  libx11-6 libx11-xcb1
  # Qt's xcb platform plugin
  libxcb1 libxcb-cursor0 libxcb-glx0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1
  libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon0 libxkbcommon-x11-0
  # Qt's wayland platform plugin (Wayland desktops)
  libwayland-client0 libwayland-cursor0 libwayland-egl1
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "system-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

if [ "${1:-}" = "--check" ]; then
  echo "system-deps: missing: ${missing[*]}"
  exit 1
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing: ${missing[*]}" >&2
  echo "system-deps: run as root on Debian/Ubuntu: apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"

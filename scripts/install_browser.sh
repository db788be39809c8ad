#!/usr/bin/env bash
# The page's browser tests use Debian's headless Chromium and its driver (packages chromium,
# chromium-driver). Installs them where they are missing and apt-get can (as root, or with sudo
# that asks no password); elsewhere it says why and those tests skip with the reason. Idempotent:
# nothing is run when both are there. Always exits 0.
set -u
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_browser: no apt-get here; the browser tests will skip (install chromium and chromedriver to run them)"
  exit 0
fi
SUDO=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "install_browser: not root; the browser tests will skip (sudo apt-get install chromium chromium-driver to run them)"
    exit 0
  fi
fi
echo "install_browser: apt-get install chromium chromium-driver"
if ! { "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }; then
  echo "install_browser: apt-get failed; the browser tests will skip"
fi
exit 0

#!/usr/bin/env bash
# Installs Debian's chromium for the console's end-to-end tests when it is missing (.ci/run calls this
# before the tests). The tests drive /usr/bin/chromium through playwright-core and never download a
# browser. Without root (or apt-get) it prints one line and exits 0: `npm test` then skips the e2e
# project, except under CI=true, where the e2e project fails instead.
set -uo pipefail
CHROMIUM="${WEFT_CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM is missing and cannot be installed here (needs root and apt-get); run: apt-get install -y chromium"
  exit 0
fi
echo "ensure-chromium: installing Debian chromium (apt-get install -y chromium)"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends chromium >/dev/null; then
  apt-get update -q >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null
fi
if [ -x "$CHROMIUM" ]; then
  echo "ensure-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
else
  echo "ensure-chromium: the installation did not produce $CHROMIUM"
fi
exit 0

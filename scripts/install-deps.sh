#!/usr/bin/env bash
# Installs the system tools the tests need, only when missing (idempotent):
# Debian's `prometheus` package (the server and `promtool`) for tests/e2e_prometheus.rs,
# and `chromium` with `chromium-driver` (headless browser and its WebDriver) for
# harness/tests/web_page.rs.
# With `--load`, also `wrk` for scripts/load.sh; with `--bench`, `curl` and `jq` for
# scripts/bench_promql.sh.
set -euo pipefail

want=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || want+=(prometheus)
command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || want+=(chromium chromium-driver)
case "${1:-}" in
    --load) command -v wrk >/dev/null 2>&1 || want+=(wrk) ;;
    --bench)
        command -v curl >/dev/null 2>&1 || want+=(curl)
        command -v jq >/dev/null 2>&1 || want+=(jq)
        ;;
esac
[ ${#want[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# --no-install-recommends: the server and promtool only, no web console extras; the
# browser without its recommended extras.
$SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
# The package starts a system service on Debian; tests run their own instance.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    $SUDO systemctl stop prometheus || true
fi
command -v prometheus >/dev/null && command -v promtool >/dev/null
command -v chromium >/dev/null && command -v chromedriver >/dev/null

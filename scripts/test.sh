#!/usr/bin/env bash
# `npm test`: the static checks (scripts/checks.sh) and the test files (vitest) side by side. The
# integration files mostly wait on the engines, so the type check and ESLint fill the cores they
# leave idle; the checks finish long before the timing-sensitive files, which vitest runs last
# (vitest.config.ts). Both always finish and both report; the test command fails if either does.
set -u
checks_log=$(mktemp)
trap 'rm -f "$checks_log"' EXIT
started=$(date +%s)
# npm puts node_modules/.bin first on PATH: the Node pinned by the package where it installs (docs/adr/0029).
echo "── npm test on node $(node --version) ($(command -v node))"
bash scripts/checks.sh > "$checks_log" 2>&1 &
checks=$!
npx vitest run "$@"
tests_status=$?
wait "$checks"
checks_status=$?
echo
echo "── static checks (type check + ESLint): $([ "$checks_status" -eq 0 ] && echo passed || echo FAILED)"
cat "$checks_log"
echo "── npm test: $(( $(date +%s) - started )) s"
[ "$tests_status" -eq 0 ] && [ "$checks_status" -eq 0 ]

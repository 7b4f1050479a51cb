#!/usr/bin/env bash
# `npm test`'s static checks: the type check and ESLint side by side. Each is mostly one core's
# work, so on a 2-core machine running them together saves most of the shorter one's time. Both
# always finish and both report; the checks fail if either does.
set -u
npm run -s typecheck &
typecheck=$!
npm run -s lint &
lint=$!
wait "$typecheck"
typecheck_status=$?
wait "$lint"
lint_status=$?
[ "$typecheck_status" -eq 0 ] && [ "$lint_status" -eq 0 ]

#!/usr/bin/env bash
# docs/configuration.md is generated from the key tables (`cutover
# reference`); this fails when the file and the code disagree, so the
# reference cannot drift. Regenerate with:
#   build/cutover reference > docs/configuration.md
# usage: config_reference.sh CUTOVER DOC
set -euo pipefail
if diff -u "$2" <("$1" reference); then
    echo "1 passed, 0 failed"
else
    echo "docs/configuration.md is stale: build/cutover reference > docs/configuration.md" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

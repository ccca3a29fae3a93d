#!/usr/bin/env bash
# The WMT'16 English↔Romanian recipe: its settings and usage are in settings.sh beside this file; the stages are in
# ../common/run_recipe.sh and ../common/recipe.sh. DRY_RUN=1 prints every command and runs none.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../common/run_recipe.sh" wmt16_en_ro "$@"

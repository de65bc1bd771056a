#!/usr/bin/env bash
# Runs one training job the way the factory does: take the model's config from the head of main
# in the config repo, then train. The commit the job ran is printed first, so a diagnosis can
# read the exact config behind a failure.
#   run-job.sh <path of train_cfg.yaml in the config repo>
set -euo pipefail
config_path="$1"
work="$(mktemp -d "${TMPDIR:-/tmp}/nightshift-job.XXXXXX")"
trap 'rm -rf "$work"' EXIT
git clone --quiet --depth 1 --branch main "$NIGHTSHIFT_CONFIG_REMOTE" "$work/configs"
echo "[job] config $config_path at commit $(git -C "$work/configs" rev-parse HEAD)"
"${NIGHTSHIFT_PYTHON:-python3}" "$(dirname "$0")/train.py" --config "$work/configs/$config_path" --datasets "$NIGHTSHIFT_DATASETS_ROOT"

#!/usr/bin/env bash
# Terraform lint: formatting, validation of the root and every module, and checkov.
#
#   scripts/tooling/tf_lint.sh                      # uses terraform and checkov from PATH
#   CHECKOV=.tools/checkov/bin/checkov scripts/tooling/tf_lint.sh
#
# Every checkov finding is either fixed or skipped inline with a reason
# (#checkov:skip=CKV_AWS_xxx:why), and every skip must suppress a finding that exists
# (scripts/tooling/checkov_skips.py). Runs every step, then exits non-zero if any failed.
# Provider plugins come from the usual places (TF_CLI_CONFIG_FILE may point at a mirror).
set -uo pipefail

cd "$(dirname "$0")/../.."
TERRAFORM="${TERRAFORM:-terraform}"
CHECKOV="${CHECKOV:-checkov}"
failed=()

# Validation needs an init; keep its data out of the working tree so nobody's initialised
# terraform/.terraform (with its real backend) is touched.
data_root="$(mktemp -d)"
trap 'rm -rf "$data_root"' EXIT

step() { printf '\n== %s\n' "$*"; }

step "terraform fmt -check -recursive terraform modules tests/terraform"
if ! "$TERRAFORM" fmt -check -recursive -diff terraform modules tests/terraform; then
  failed+=("fmt (run: terraform fmt -recursive terraform modules tests/terraform)")
fi

for dir in terraform modules/*/; do
  dir="${dir%/}"
  step "terraform validate $dir"
  data_dir="$data_root/$(echo "$dir" | tr '/' '_')"
  lockfile_mode=()
  # The root's committed lock file must already cover the providers; modules have none to keep.
  [ "$dir" = terraform ] && lockfile_mode=(-lockfile=readonly)
  if ! TF_DATA_DIR="$data_dir" "$TERRAFORM" -chdir="$dir" init -backend=false -input=false -no-color \
    "${lockfile_mode[@]}" >"$data_root/init.log" 2>&1; then
    cat "$data_root/init.log"
    failed+=("init $dir")
    continue
  fi
  if ! TF_DATA_DIR="$data_dir" "$TERRAFORM" -chdir="$dir" validate -no-color; then
    failed+=("validate $dir")
  fi
done

for dir in modules terraform; do
  step "checkov $dir"
  if ! "$CHECKOV" -d "$dir" --framework terraform --skip-download --quiet --compact; then
    failed+=("checkov $dir")
  fi
done

step "checkov skips: each one suppresses a real finding"
if ! "${PYTHON:-python3}" -m scripts.tooling.checkov_skips --checkov "$CHECKOV"; then
  failed+=("checkov skips (remove the ones that suppress nothing)")
fi

if [ ${#failed[@]} -gt 0 ]; then
  printf '\nFAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
printf '\nTerraform lint passed.\n'

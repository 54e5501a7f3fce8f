#!/usr/bin/env bash
# Appcircle workflow step "Publish to Microsoft Intune (intune-step)".
#
# Appcircle runs steps on the runner itself, not in a container: find a Python >= 3.11, install
# intune-step into a private venv with the hash-locked dependency set (unless that Python
# already has it), then run the CI entry, which reads this step's AC_INTUNE_* inputs and appends the
# outputs to $AC_ENV_FILE_PATH. Written for bash 3.2 (macOS runners) as well as Linux.
set -euo pipefail

STEP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STEP_VERSION="0.1.0"  # the release this step belongs to (see CHANGELOG.md)
PACKAGE=${AC_INTUNE_STEP_PACKAGE:-"intune-step==${STEP_VERSION}"}

fail() {
  echo "@@[error] $*"
  exit 1
}

run_command() {
  echo "@@[command] $*"
  "$@"
}

# Print the first interpreter that is Python >= 3.11.
find_python() {
  local candidate
  for candidate in ${AC_INTUNE_STEP_PYTHON:-} python3.13 python3.12 python3.11 python3; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

if ! python=$(find_python); then
  if command -v brew >/dev/null 2>&1; then
    run_command brew install python@3.12
    python=$(find_python) || fail "Python 3.11 or newer is still not on PATH after brew install"
  else
    fail "intune-step needs Python 3.11 or newer on the runner; none was found on PATH"
  fi
fi

# A Python that already has intune-step (a prepared self-hosted runner) is used as it is.
# Otherwise: the dependencies exactly as hash-locked in requirements.lock (never unpinned), then
# the package itself at this step's release, without dependencies of its own choosing.
if [ -n "${AC_INTUNE_STEP_PACKAGE:-}" ] || ! "$python" -c 'import intune_step' >/dev/null 2>&1; then
  [ -f "$STEP_DIR/requirements.lock" ] \
    || fail "requirements.lock is missing beside main.sh: the step installs only hash-checked dependencies"
  venv="${AC_TEMP_DIR:-${TMPDIR:-/tmp}}/intune-step-venv"
  run_command "$python" -m venv "$venv"
  run_command "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --require-hashes --only-binary=:all: -r "$STEP_DIR/requirements.lock"
  run_command "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-deps "$PACKAGE"
  python="$venv/bin/python"
fi

export INTUNE_STEP_CI=appcircle  # this is Appcircle even if AC_APPCIRCLE is missing
status=0
"$python" -m intune_step.entry || status=$?
if [ "$status" -ne 0 ]; then
  echo "intune-step exited with status $status"
  exit 1  # Appcircle: 1 fails the step and stops the workflow
fi

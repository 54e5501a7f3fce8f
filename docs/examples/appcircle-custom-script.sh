#!/usr/bin/env bash
# Appcircle > Workflow > Custom Script (Bash), placed after the Export/Sign step.
# Environment Variable group (Secret): INTUNE_CLIENT_ID, INTUNE_CLIENT_SECRET, INTUNE_AUTH_URL.
set -euo pipefail
venv="$AC_TEMP_DIR/intune-step"
python3 -m venv "$venv"  # needs Python >= 3.11 on the runner
# Hash-checked dependencies from the release's lock file, then the package itself.
"$venv/bin/python" -m pip install --quiet --require-hashes --only-binary=:all: \
  -r "https://raw.githubusercontent.com/OWNER/intune-step/v0.1.0/requirements.lock"
"$venv/bin/python" -m pip install --quiet --no-deps "intune-step==0.1.0"
export AC_INTUNE_FILE="$AC_OUTPUT_DIR/MyApp.ipa"  # or $AC_SIGNED_APK_PATH on Android
"$venv/bin/python" -m intune_step.entry --ci appcircle
# Later steps see AC_INTUNE_OUTPUT_APP_ID, AC_INTUNE_OUTPUT_APP_URL, ...

#!/usr/bin/env python3
"""GitHub Action entry point: hand the CI's inputs to the library, exit with its status."""

import sys

from intune_step.commands.ci_entry import run_ci

if __name__ == "__main__":
    sys.exit(run_ci())

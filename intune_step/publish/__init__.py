"""The publish flow: prepare, plan, preflight, lock, upload, commit, apply, verify; several
artifacts at once. No CI host, no environment, no printing: it reports through a Reporter."""

"""The top: the CLI, the one composition root, the CI entry, outputs and the job summary."""

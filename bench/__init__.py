"""The upload benchmark (bench/run). Not a test: it measures and prints, and asserts nothing."""

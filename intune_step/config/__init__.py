"""Every input parsed and validated once: settings, options, credential choice, named settings,
files, the YAML inputs, clouds, action.yml and the tuning knobs. No HTTP, no CI host, and the
environment only as an argument."""

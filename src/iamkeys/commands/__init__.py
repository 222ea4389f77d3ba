"""One module per CLI command; each exposes `command`, imported lazily by `iamkeys.cli`."""

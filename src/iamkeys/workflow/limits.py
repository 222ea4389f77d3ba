"""The limits a workflow file, its inputs and its templates are held to."""

MAX_FILE_BYTES = 1 << 20
MAX_NODES = 10_000  # YAML nodes in one file
MAX_DEPTH = 16  # nesting of the YAML document, and of a template's result
MAX_STEPS = 50
MAX_INPUTS = 50
MAX_INPUT_CHARS = 64 * 1024  # characters in one input value
MAX_INPUT_ITEMS = 1000  # items in one input list
MAX_RENDERED = 64 * 1024  # characters in one rendered string (subjects, names, lists...)

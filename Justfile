# `just copilot dev up`, `just copilot profiles list`, ...: forwards to the copilot CLI.
copilot *args:
    uv run copilot {{args}}

# The whole test suite (the same command CI runs).
test *args:
    bash scripts/test.sh {{args}}

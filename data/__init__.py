"""The shipped data: layer definitions and the Jinzhou dataset (no code)."""

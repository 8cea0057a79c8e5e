"""Flask blueprints, one per role."""

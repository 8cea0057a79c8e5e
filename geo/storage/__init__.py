"""Storage: every SQL statement of OneMap lives in this package."""

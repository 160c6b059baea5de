"""Training and evaluation: pure, seeded functions that return data."""

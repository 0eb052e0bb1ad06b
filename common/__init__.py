"""Small helpers shared by every stage (data root, run environment)."""

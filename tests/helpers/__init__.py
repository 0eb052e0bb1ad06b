"""Helpers shared by the test modules (no tests here): test modules import from tests.helpers, never
from each other; fixtures live in tests/conftest.py."""

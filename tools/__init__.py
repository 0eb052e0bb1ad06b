"""Command-line tools, run by path (python tools/NAME.py); a package so tests can import them."""

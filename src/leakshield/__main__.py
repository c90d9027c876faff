"""`python -m leakshield`."""

from leakshield.cli import main

main()

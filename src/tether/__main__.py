"""`python -m tether` runs the CLI (tests use it to exercise the real command line)."""

from tether.cli.main import main

main()

"""SIGKILL `kb ingest` at random moments, 50 times by default, and print how many trials the index survived."""

import sys

from eval.killtrials import main

if __name__ == "__main__":
    sys.exit(main())

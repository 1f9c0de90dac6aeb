"""The standalone app's entry point (what Nuitka compiles): the same `main` as the `pixup` command."""

import sys

from pixup.cli import main

if __name__ == "__main__":
    sys.exit(main())

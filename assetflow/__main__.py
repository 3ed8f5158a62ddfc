"""`python -m assetflow`: the same as the `assetflow` command."""

from assetflow.cli import main

main()

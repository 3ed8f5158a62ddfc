"""`python -m assetflow.cli`: the same as the `assetflow` command."""

from assetflow.cli import main

main()

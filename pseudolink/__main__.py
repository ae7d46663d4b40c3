"""``python -m pseudolink``: the same as the ``pseudolink`` command."""

from pseudolink.cli import main

main()

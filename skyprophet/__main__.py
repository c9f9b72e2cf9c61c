"""``python -m skyprophet ARGS``: the ``skyprophet`` command, for when the console script is not on the PATH."""

from skyprophet.cli import main

main()

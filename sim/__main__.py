"""``python -m sim``: the same as the ``frontline`` command."""

from sim.cli import main

raise SystemExit(main())

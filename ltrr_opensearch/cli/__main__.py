"""``python -m ltrr_opensearch.cli``: the ``ltrr`` command without its console script."""

from ltrr_opensearch.cli import main

raise SystemExit(main())

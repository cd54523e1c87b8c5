"""Allow ``python -m inventory``."""

from .cli import main

raise SystemExit(main())

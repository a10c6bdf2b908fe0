"""``python -m sklearn_mae`` runs the ``sklearn-mae`` command."""

from .cli import main

raise SystemExit(main())

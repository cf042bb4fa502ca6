"""statkit's Python side, standard library only (distribution ``statkit-hooks``).

Modules:

- ``statkit.gstats``: request hooks for gunicorn and other WSGI servers
  (gstats' ``start_request``/``end_request``), sending statsd over UDP to
  ``statkit serve`` without ever blocking.
- ``statkit.reader``: a reader of statkit's and mmstats' shared-memory stats
  files (``python3 -m statkit.reader`` prints what ``statkit slurp --json``
  prints).

Nothing here depends on this file: PyPI's unrelated ``statkit`` distribution
installs a ``statkit/__init__.py`` of its own, and both modules import the
same with either file, or none. For the version, ask
``importlib.metadata.version("statkit-hooks")``.
"""

__version__ = "0.1.0"

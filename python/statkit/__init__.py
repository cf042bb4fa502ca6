"""statkit's Python side, standard library only.

Modules:

- ``statkit.gstats``: request hooks for gunicorn and other WSGI servers
  (gstats' ``start_request``/``end_request``), sending statsd over UDP to
  ``statkit serve`` without ever blocking.
"""

__version__ = "0.1.0"

"""gunicorn settings that time every request into statkit's request view.

    pip install ./python             # statkit-hooks: the hooks (standard library only)
    statkit serve &                  # statsd on 127.0.0.1:8125
    gunicorn -c examples/gunicorn.conf.py myapp:app
    statkit ctl stats                # gstatsctl's report, per prefix

If statkit is not running, requests are served exactly as fast: the hooks
drop what they cannot send at once. Environment: STATKIT_STATSD (statkit's
statsd address), STATKIT_PREFIX (the name requests are reported under).

gunicorn can also report on its own: `--statsd-host 127.0.0.1:8125` (with
an optional `--statsd-prefix shop`) sends gunicorn.requests,
gunicorn.request.duration and gunicorn.request.status.<code>, which the
request view reads as well, under the prefix `shop` (or `gunicorn`).
"""

import os

from statkit import gstats

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))

STATSD = os.environ.get("STATKIT_STATSD", "127.0.0.1:8125")
PREFIX = os.environ.get("STATKIT_PREFIX", "my_app")


def pre_request(worker, req):
    gstats.start_request(req, collect=True, collector=STATSD, prefix=PREFIX)


def post_request(worker, req, environ, resp):
    gstats.end_request(req, collector=STATSD, prefix=PREFIX, resp=resp)

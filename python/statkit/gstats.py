"""Request hooks for gunicorn and other WSGI servers: gstats' successor.

Call ``start_request(req, collect=True, ...)`` when a request begins and
``end_request(req, ...)`` when it ends (gunicorn's ``pre_request`` and
``post_request`` hooks, see ``examples/gunicorn.conf.py``). They send statsd
lines over UDP to ``statkit serve``, whose request view turns them into
gstats' numbers:

- ``statkit.requests.<prefix>.started:1|c`` when a request starts (only
  with ``collect=True``, as in gstats);
- ``statkit.requests.<prefix>.duration:<ms>|ms`` when it ends;
- ``statkit.requests.<prefix>.status.<code>:1|c`` when it ends and the
  response (``resp=``) or ``status=`` says its HTTP status.

What the original got wrong, and these do not: a collector that was down
blocked every request (here a non-blocking UDP socket drops what it cannot
send at once, and counts it); the start times lived in a global dict that
grew with every request that never ended (here they live on the request
object, or in a small bounded table when the object takes no attributes);
errors could escape into the server (here every failure is counted in
``counts()`` and swallowed); and ``collector=``, the keyword gstats' own
README used, was refused (here both ``collector`` and ``collector_addr``
work).

The address is statkit's statsd address, ``host:port`` (an optional
``udp://`` or gstats' ``tcp://`` scheme is ignored), by default
``$STATKIT_STATSD`` or ``127.0.0.1:8125``. It is resolved once per process
and address; use an IP address so that no request waits on DNS.
"""

import collections
import os
import re
import socket
import threading
import time

__all__ = ["start_request", "end_request", "counts", "metric_prefix"]

HEAD = "statkit.requests."
DEFAULT_PREFIX = "my_app"
DEFAULT_ADDRESS = "127.0.0.1:8125"
# Start times kept for request objects that take no attributes.
MAX_PENDING = 10000
_ATTRIBUTE = "_statkit_started"

_lock = threading.Lock()
_counts = collections.Counter()
_pending = collections.OrderedDict()
# Per process (gunicorn forks workers): pid -> socket; address -> sockaddr.
_sockets = {}
_resolved = {}


def counts():
    """What the hooks did since the process started: ``sent``, ``dropped``
    (the socket would have blocked), ``errors`` (anything else that failed),
    ``unknown`` (``end_request`` without a start) and ``evicted`` (start
    times forgotten because the bounded table was full)."""
    with _lock:
        return dict(_counts)


def _count(what, n=1):
    with _lock:
        _counts[what] += n


def metric_prefix(prefix):
    """The prefix as statkit will see it: etsy statsd's key sanitizing
    (whitespace to ``_``, ``/`` to ``-``, anything else outside
    ``[A-Za-z0-9_.-]`` removed); an empty prefix is ``default``, as in
    gstats."""
    prefix = re.sub(r"\s+", "_", str(prefix or ""))
    prefix = re.sub(r"[^A-Za-z0-9_.\-]", "", prefix.replace("/", "-"))
    return prefix or "default"


def _address(collector, collector_addr):
    address = collector if collector is not None else collector_addr
    if address is None:
        address = os.environ.get("STATKIT_STATSD") or DEFAULT_ADDRESS
    return address


def _sockaddr(address):
    found = _resolved.get(address)
    if found is not None:
        return found
    text = re.sub(r"^[a-z]+://", "", address.strip())
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    info = socket.getaddrinfo(host, int(port), 0, socket.SOCK_DGRAM)
    family, _, _, _, sockaddr = info[0]
    if len(_resolved) < 64:
        _resolved[address] = (family, sockaddr)
    return family, sockaddr


def _socket(family):
    key = (os.getpid(), family)
    sock = _sockets.get(key)
    if sock is None:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        with _lock:
            # A socket inherited from the parent process is left to it.
            for old in [k for k in _sockets if k[0] != key[0]]:
                del _sockets[old]
            _sockets[key] = sock
    return sock


def _send(address, payload):
    try:
        family, sockaddr = _sockaddr(address)
        _socket(family).sendto(payload.encode("ascii", "replace"), sockaddr)
        _count("sent")
    except (BlockingIOError, InterruptedError):
        _count("dropped")
    except Exception:  # noqa: BLE001 - the hooks must never raise
        _count("errors")


def _remember(req, started):
    try:
        setattr(req, _ATTRIBUTE, started)
        return
    except Exception:  # noqa: BLE001 - objects with __slots__, read-only ones
        pass
    with _lock:
        _pending[id(req)] = started
        while len(_pending) > MAX_PENDING:
            _pending.popitem(last=False)
            _counts["evicted"] += 1


def _forget(req):
    started = getattr(req, _ATTRIBUTE, None)
    if started is not None:
        try:
            delattr(req, _ATTRIBUTE)
        except Exception:  # noqa: BLE001
            pass
        return started
    with _lock:
        return _pending.pop(id(req), None)


def _status_code(resp, status):
    if status is None and resp is not None:
        status = getattr(resp, "status_code", None) or getattr(resp, "status", None)
    if status is None:
        return None
    try:
        code = int(str(status).split(None, 1)[0])
    except (ValueError, IndexError):
        return None
    return code if 100 <= code <= 999 else None


def start_request(req, collect=False, collector_addr=None, prefix=DEFAULT_PREFIX,
                  collector=None, **_ignored):
    """Notes the start of ``req``; with ``collect=True`` also counts it as
    started (gstats' meaning of ``collect``). Never raises, never blocks."""
    try:
        _remember(req, time.monotonic())
        if collect:
            name = HEAD + metric_prefix(prefix)
            _send(_address(collector, collector_addr), name + ".started:1|c")
    except Exception:  # noqa: BLE001
        _count("errors")


def end_request(req, collector_addr=None, prefix=DEFAULT_PREFIX, collector=None,
                resp=None, status=None, **_ignored):
    """Sends the duration of ``req`` (and its status, from ``resp`` or
    ``status``) and returns it in milliseconds; a request that was never
    started sends nothing and returns None, as in gstats. Never raises,
    never blocks."""
    try:
        started = _forget(req)
        if started is None:
            _count("unknown")
            return None
        ms = (time.monotonic() - started) * 1000.0
        name = HEAD + metric_prefix(prefix)
        lines = ["%s.duration:%.6f|ms" % (name, ms)]
        code = _status_code(resp, status)
        if code is not None:
            lines.append("%s.status.%d:1|c" % (name, code))
        _send(_address(collector, collector_addr), "\n".join(lines))
        return ms
    except Exception:  # noqa: BLE001
        _count("errors")
        return None

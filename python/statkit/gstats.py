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
from typing import Any, Protocol

__all__ = ["start_request", "end_request", "counts", "metric_prefix"]

HEAD = "statkit.requests."
DEFAULT_PREFIX = "my_app"
DEFAULT_ADDRESS = "127.0.0.1:8125"
# Start times kept for request objects that take no attributes.
MAX_PENDING = 10000
_ATTRIBUTE = "_statkit_started"

# What getaddrinfo gives for UDP: the family and the address to send to.
_Resolved = tuple[socket.AddressFamily, tuple[Any, ...]]
# An HTTP status as servers give it: 200, "200" or "404 Not Found".
Status = int | str


class _Sender(Protocol):
    """The one thing the hooks do with a socket (a test stands in a socket
    whose buffer is always full)."""

    def sendto(self, data: bytes, address: tuple[Any, ...], /) -> int: ...


_lock = threading.Lock()
_counts: collections.Counter[str] = collections.Counter()
_pending: collections.OrderedDict[int, float] = collections.OrderedDict()
# Per process (gunicorn forks workers): (pid, family) -> socket; address -> sockaddr.
_sockets: dict[tuple[int, socket.AddressFamily], _Sender] = {}
_resolved: dict[str, _Resolved] = {}


def counts() -> dict[str, int]:
    """What the hooks did since the process started: ``sent``, ``dropped``
    (the socket would have blocked), ``errors`` (anything else that failed),
    ``unknown`` (``end_request`` without a start) and ``evicted`` (start
    times forgotten because the bounded table was full)."""
    with _lock:
        return dict(_counts)


def _count(what: str, n: int = 1) -> None:
    with _lock:
        _counts[what] += n


def metric_prefix(prefix: str | None) -> str:
    """The prefix as statkit will see it: etsy statsd's key sanitizing
    (whitespace to ``_``, ``/`` to ``-``, anything else outside
    ``[A-Za-z0-9_.-]`` removed); an empty prefix is ``default``, as in
    gstats."""
    text = re.sub(r"\s+", "_", str(prefix or ""))
    text = re.sub(r"[^A-Za-z0-9_.\-]", "", text.replace("/", "-"))
    return text or "default"


def _address(collector: str | None, collector_addr: str | None) -> str:
    address = collector if collector is not None else collector_addr
    if address is None:
        address = os.environ.get("STATKIT_STATSD") or DEFAULT_ADDRESS
    return address


def _sockaddr(address: str) -> _Resolved:
    found = _resolved.get(address)
    if found is not None:
        return found
    text = re.sub(r"^[a-z]+://", "", address.strip())
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    info = socket.getaddrinfo(host, int(port), 0, socket.SOCK_DGRAM)
    family, _, _, _, sockaddr = info[0]
    resolved: _Resolved = (family, tuple(sockaddr))
    if len(_resolved) < 64:
        _resolved[address] = resolved
    return resolved


def _socket(family: socket.AddressFamily) -> _Sender:
    key = (os.getpid(), family)
    sock = _sockets.get(key)
    if sock is None:
        new = socket.socket(family, socket.SOCK_DGRAM)
        new.setblocking(False)
        with _lock:
            # A socket inherited from the parent process is left to it.
            for old in [k for k in _sockets if k[0] != key[0]]:
                del _sockets[old]
            _sockets[key] = new
        sock = new
    return sock


def _send(address: str, payload: str) -> None:
    try:
        family, sockaddr = _sockaddr(address)
        _socket(family).sendto(payload.encode("ascii", "replace"), sockaddr)
        _count("sent")
    except (BlockingIOError, InterruptedError):
        _count("dropped")
    except Exception:  # noqa: BLE001 - the hooks must never raise
        _count("errors")


def _remember(req: object, started: float) -> None:
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


def _forget(req: object) -> float | None:
    started: float | None = getattr(req, _ATTRIBUTE, None)
    if started is not None:
        try:
            delattr(req, _ATTRIBUTE)
        except Exception:  # noqa: BLE001
            pass
        return started
    with _lock:
        return _pending.pop(id(req), None)


def _status_code(resp: object, status: Status | None) -> int | None:
    found: object = status
    if found is None and resp is not None:
        found = getattr(resp, "status_code", None) or getattr(resp, "status", None)
    if found is None:
        return None
    try:
        code = int(str(found).split(None, 1)[0])
    except (ValueError, IndexError):
        return None
    return code if 100 <= code <= 999 else None


def start_request(req: object, collect: bool = False, collector_addr: str | None = None,
                  prefix: str | None = DEFAULT_PREFIX, collector: str | None = None,
                  **_ignored: object) -> None:
    """Notes the start of ``req``; with ``collect=True`` also counts it as
    started (gstats' meaning of ``collect``). Never raises, never blocks."""
    try:
        _remember(req, time.monotonic())
        if collect:
            name = HEAD + metric_prefix(prefix)
            _send(_address(collector, collector_addr), name + ".started:1|c")
    except Exception:  # noqa: BLE001
        _count("errors")


def end_request(req: object, collector_addr: str | None = None,
                prefix: str | None = DEFAULT_PREFIX, collector: str | None = None,
                resp: object = None, status: Status | None = None,
                **_ignored: object) -> float | None:
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
        lines: list[str] = ["%s.duration:%.6f|ms" % (name, ms)]
        code = _status_code(resp, status)
        if code is not None:
            lines.append("%s.status.%d:1|c" % (name, code))
        _send(_address(collector, collector_addr), "\n".join(lines))
        return ms
    except Exception:  # noqa: BLE001
        _count("errors")
        return None

"""Loaded by Python at start-up when this folder is on PYTHONPATH: refuses network use.

Tests put this folder on the PYTHONPATH of the kernels that run lessons, so "works offline"
is checked for real: any name lookup or connection to a host other than this machine raises
before a packet leaves. Loopback stays open (Jupyter kernels talk to their client over it).
"""

import socket

_LOCAL = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}
_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(host) -> bool:
    host = host.decode() if isinstance(host, bytes) else str(host)
    return host in _LOCAL or host.startswith("127.")


def _guard(host):
    if not _is_local(host):
        raise OSError(f"network blocked by tests/netblock (tried to reach {host!r})")


def getaddrinfo(host, *args, **kwargs):
    _guard(host)
    return _real_getaddrinfo(host, *args, **kwargs)


def connect(self, address):
    if isinstance(address, tuple):
        _guard(address[0])
    return _real_connect(self, address)


def connect_ex(self, address):
    if isinstance(address, tuple):
        _guard(address[0])
    return _real_connect_ex(self, address)


socket.getaddrinfo = getaddrinfo
socket.socket.connect = connect
socket.socket.connect_ex = connect_ex

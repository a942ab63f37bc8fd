"""The ``[gracebgp]`` section: gracebgp's own settings and locally originated routes."""

from __future__ import annotations

import grp
import ipaddress
import re
import ssl
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from gracebgp.config.fields import Community, Frozen, IPAddress, LargeCommunity, normalize_prefix
from gracebgp.config.secrets import read_small_file
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST, Family


class Route(Frozen):
    """``[[gracebgp.routes]]``: a locally originated route."""

    prefix: str
    #: None: next-hop-self (the session's local address).
    next_hop: IPAddress | None = None
    origin: Literal["igp", "egp", "incomplete"] = "igp"
    communities: tuple[Community, ...] = ()
    large_communities: tuple[LargeCommunity, ...] = ()
    med: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    local_pref: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return normalize_prefix(value)

    @field_validator("next_hop")
    @classmethod
    def _next_hop(cls, value: str | None, info: ValidationInfo) -> str | None:
        prefix = info.data.get("prefix")
        if (value is not None and prefix is not None
                and ipaddress.ip_address(value).version != ipaddress.ip_network(prefix).version):
            raise ValueError(f"{value} is not in the address family of {prefix}")
        return value

    @property
    def family(self) -> Family:
        return IPV6_UNICAST if ":" in self.prefix else IPV4_UNICAST


#: The longest Unix socket path Linux can bind (unix(7): 108 octets with the NUL).
MAX_SOCKET_PATH = 107
#: The largest gid (``(gid_t) -1`` means "unchanged" to chown(2)).
MAX_GID = 0xFFFFFFFE
MAX_PEM_FILE = 1024 * 1024  # a certificate chain or a key is a few kB
_MODE = re.compile(r"0?([0-7]{3})")
#: Hosts that listen on every address: a port taken there is taken on all of them.
_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", "0:0:0:0:0:0:0:0"})


# -- the API's listeners: helpers shared with api.server ----------------------------------------

def host_port(value: str) -> tuple[str, int]:
    """``"127.0.0.1:8179"`` / ``"[::1]:8179"`` -> (host without brackets, port); the value
    must have passed ``api-listen``'s check."""
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


def _check_host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 0xFFFF:
        raise ValueError(f"{value!r} is not host:port (use [addr]:port for IPv6)")
    if host.startswith("[") != host.endswith("]") or (":" in host and not host.startswith("[")):
        raise ValueError(f"{value!r}: write an IPv6 address in brackets, e.g. [::1]:8179")
    return value


def group_id(value: str | int) -> int:
    """The gid of ``api-socket-group``: a group name (looked up on this host, as chgrp
    does) or a number (taken as it is: a gid need not have a name, e.g. a Kubernetes
    fsGroup). ``ValueError`` when it names no group."""
    if isinstance(value, int):
        if not 0 <= value <= MAX_GID:
            raise ValueError(f"{value} is not a group id (0..{MAX_GID})")
        return value
    if not value:
        raise ValueError("empty; give a group name (e.g. \"gracebgp\") or a numeric gid")
    try:
        return grp.getgrnam(value).gr_gid
    except KeyError:
        if value.isascii() and value.isdigit():
            return group_id(int(value))
        raise ValueError(f"there is no group {value!r} on this host (getent group {value}): create it, "
                         "or give a numeric gid") from None


def _socket_group(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        shown = "true or false" if isinstance(value, bool) else type(value).__name__
        raise ValueError(f"expected a group name or a numeric gid, got {shown}")
    group_id(value)
    return value


def _socket_mode(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"write the mode as a string of octal digits, e.g. \"0660\" (the number {value} "
                         "is read as decimal)")
    if not isinstance(value, str):
        return value  # strict validation names the type
    m = _MODE.fullmatch(value.strip())
    if m is None:
        raise ValueError(f"{value!r} is not a permission mode: three octal digits, e.g. \"0660\" "
                         "(no setuid, setgid or sticky bits)")
    mode = int(m.group(1), 8)
    if mode & 0o002:
        raise ValueError(f"{value!r} is world-writable: every local user could drive gracebgpd (stop it, "
                         "change its routes); give the operators a group (api-socket-group) and use \"0660\"")
    return f"0{m.group(1)}"


def _read_pem(path: str, what: str, marker: bytes) -> bytes:
    """The content of a PEM file that must hold ``marker`` (``ValueError`` saying why not)."""
    data = read_small_file(path, what, MAX_PEM_FILE, f"the {what}")
    if marker not in data:
        raise ValueError(f"{path} holds no PEM {what} (a \"-----BEGIN {marker.decode()}\" block)")
    return data


def _ssl_reason(exc: ssl.SSLError) -> str:
    text = exc.reason or (exc.args[1] if len(exc.args) > 1 else str(exc))
    return re.sub(r"\s*\(_ssl\.c:\d+\)", "", str(text)).replace("_", " ").lower()


_ENCRYPTED = ("the key in {} is encrypted: gracebgpd cannot ask for a passphrase; store it unencrypted "
              "in a file only gracebgpd's user can read")


def _encrypted() -> bytes:
    raise ValueError("encrypted")


def server_tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """The TLS context of the TCP API: ``cert_file`` (the certificate, then any
    intermediates, PEM) and ``key_file`` (its unencrypted private key, PEM); TLS 1.2 or
    newer, HTTP/1.1. ``ValueError`` saying why the pair cannot be used."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(cert_file, key_file, password=_encrypted)
    except ValueError:
        raise ValueError(_ENCRYPTED.format(key_file)) from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise ValueError(f"the key in {key_file} is not the key of the certificate in "
                             f"{cert_file}") from None
        raise ValueError(f"cannot load the certificate {cert_file} with the key {key_file}: "
                         f"{_ssl_reason(exc)}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {exc.filename or key_file}: {exc.strerror or exc}") from None
    return context


#: ``api-socket-group``: a group name or a numeric gid that exists.
SocketGroup = Annotated[str | int, BeforeValidator(_socket_group)]
#: ``api-socket-mode``: "0660"-style permission bits, never world-writable.
SocketMode = Annotated[str, BeforeValidator(_socket_mode)]


class GraceBGP(Frozen):
    """``[gracebgp]``: gracebgp's own additions to GoBGP's schema."""

    #: Where the daemon keeps state that must survive a restart (GR/LLGR bookkeeping).
    state_dir: str = Field(default="/var/lib/gracebgp", min_length=1)
    #: The API's Unix socket (DESIGN.md §4).
    api_socket: str = Field(default="/run/gracebgp/gracebgpd.sock", min_length=1)
    #: The socket's group (a name or a gid); None: the daemon's own group.
    api_socket_group: SocketGroup | None = None
    #: The socket's permission bits, "0660"-style (connecting needs write permission);
    #: checked against api_socket_group, declared before it.
    api_socket_mode: SocketMode = "0660"
    #: File holding the bearer token the TCP API requires; declared before api_listen,
    #: whose check needs it.
    api_token_file: str | None = Field(default=None, min_length=1)
    #: Optional TCP listener for the API, "host:port" ("[::1]:8179" for IPv6).
    api_listen: str | None = None
    #: TLS on api_listen: the certificate (chain) file, PEM; declared after api_listen,
    #: which it needs, and before the key file, whose check loads the pair.
    api_tls_cert_file: str | None = None
    #: ... and its private key, PEM, unencrypted; both or neither.
    api_tls_key_file: str | None = Field(default=None, validate_default=True)
    #: Optional plain-HTTP listener, "host:port", that serves only GET /metrics, no token.
    metrics_listen: str | None = None
    #: SIGTERM: "retain" stops without NOTIFICATION so peers run GR and keep our routes;
    #: "withdraw" sends a Cease NOTIFICATION first (a Hard Reset where RFC 8538 was
    #: negotiated, RFC 8538 §3) so peers drop our routes at once, as gobgpd does.
    sigterm: Literal["retain", "withdraw"] = "retain"
    #: The F bit of our GR capability (RFC 4724 §3): the FIB outlives the daemon.
    forwarding_state_preserved: bool = True
    #: Install the selected routes into the kernel (issue 17, runtime.fibdriver); with it
    #: the F bit follows the kernel (fib.fbit) instead of forwarding-state-preserved.
    fib: bool = False
    #: The kernel routing table our routes go into (254: main; 255, local, is the kernel's).
    fib_table: int = Field(default=254, ge=1, le=0xFFFFFFFF)
    #: Our routes' protocol number (rtm_protocol; ``ip route`` shows it): 0-4 are the
    #: kernel's own (unspec, redirect, kernel, boot, static). 201: used by no other daemon
    #: we know of (runtime.fibkernel.DEFAULT_PROTOCOL).
    fib_protocol: int = Field(default=201, ge=5, le=255)
    #: Our routes' metric (RTA_PRIORITY).
    fib_metric: int = Field(default=20, ge=0, le=0xFFFFFFFF)
    #: How long adopted routes may stay when selection never completes (s).
    fib_sweep_time: int = Field(default=600, ge=1, le=86400)
    #: Keep our routes in the kernel at a retaining stop (restart, stop --retain, SIGTERM
    #: retain); false: delete them at every stop.
    fib_retain: bool = True
    #: Next hops may resolve through the default route.
    fib_resolve_via_default: bool = False
    #: ``gracebgp drain``: seconds between re-advertising with GRACEFUL_SHUTDOWN (RFC 8326)
    #: and withdrawing, for the peers to move their traffic.
    drain_delay: int = Field(default=10, ge=0, le=3600)
    #: After our restart, how long selection deferral waits for a configured GR peer that
    #: has not come up at all (an Established peer is waited for until its End-of-RIB or
    #: the deferral-time).
    establish_wait: int = Field(default=30, ge=0, le=0xFFFF)
    #: RFC 9494 §4.5: also send LLGR-stale routes to iBGP peers without LLGR, with
    #: NO_EXPORT and LOCAL_PREF 0 (default: only to peers that negotiated LLGR).
    llgr_to_ibgp: bool = False
    #: RFC 8538 §5: send the "provisional" Cease subcodes (Administrative Reset, Other
    #: Configuration Change, Out of Resources, BFD Down) as Hard Reset. Default false:
    #: with N negotiated, they leave our routes at the peer (graceful restart applies).
    provisional_hard_reset: bool = False
    #: Append every input and output of the speaker to this file as JSON lines (a recording
    #: for a replay test, runtime/recorder.py); ``gracebgpd --record`` overrides it.
    record: str | None = Field(default=None, min_length=1)
    #: RFC 8212 §3: an eBGP peer with no import (export) policy accepts (sends) no routes,
    #: instead of GoBGP's default accept (policy.book.PolicyBook.rfc8212).
    rfc8212: bool = False
    routes: tuple[Route, ...] = ()

    @field_validator("fib_table")
    @classmethod
    def _fib_table(cls, value: int) -> int:
        if value == 255:
            raise ValueError("255 is the kernel's local table (its own addresses): use 254 (main) or a table "
                             "of your own")
        return value

    @field_validator("api_socket")
    @classmethod
    def _socket_path(cls, value: str) -> str:
        # sockaddr_un.sun_path is 108 octets with the terminating NUL (unix(7)): a longer
        # path cannot be bound, and a daemon nobody can manage must not start.
        size = len(value.encode())
        if size > MAX_SOCKET_PATH:
            raise ValueError(f"{size} bytes long; a Unix socket path has at most {MAX_SOCKET_PATH} "
                             "(AF_UNIX): choose a shorter path")
        return value

    @field_validator("api_socket_mode")
    @classmethod
    def _mode_for_group(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("api_socket_group") is not None and not int(value, 8) & 0o020:
            raise ValueError(f"{value!r} gives api-socket-group no write permission, which connecting to "
                             "a Unix socket needs: the group could not use the API (use \"0660\")")
        return value

    @field_validator("api_listen")
    @classmethod
    def _listen(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        _check_host_port(value)
        if "api_token_file" in info.data and info.data["api_token_file"] is None:
            raise ValueError("a TCP API listener needs api-token-file (the token that guards it)")
        return value

    @field_validator("api_tls_cert_file")
    @classmethod
    def _tls_cert(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if "api_listen" in info.data and info.data["api_listen"] is None:
            raise ValueError("a TLS certificate for the TCP API needs api-listen (the listener it is for)")
        data = _read_pem(value, "certificate", b"CERTIFICATE-----")
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(
                cadata=data.decode("ascii", "replace"))
        except ssl.SSLError as exc:
            raise ValueError(f"{value}: the certificate cannot be read: {_ssl_reason(exc)}") from None
        return value

    @field_validator("api_tls_key_file")
    @classmethod
    def _tls_key(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "api_tls_cert_file" not in info.data:
            return value  # the certificate is wrong already: reported at its key
        cert = info.data["api_tls_cert_file"]
        if value is None:
            if cert is not None:
                raise ValueError("api-tls-cert-file needs api-tls-key-file, the file of the certificate's "
                                 "private key")
            return None
        if cert is None:
            raise ValueError("a TLS key needs api-tls-cert-file, the certificate it belongs to")
        data = _read_pem(value, "private key", b"PRIVATE KEY-----")
        if b"ENCRYPTED" in data:
            raise ValueError(_ENCRYPTED.format(value))
        server_tls_context(cert, value)
        return value

    @field_validator("metrics_listen")
    @classmethod
    def _metrics_listen(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        _check_host_port(value)
        api = info.data.get("api_listen")
        if api is not None:
            (host, port), (api_host, api_port) = host_port(value), host_port(api)
            if port == api_port and (host == api_host or {host, api_host} & _WILDCARD_HOSTS):
                raise ValueError(f"{value!r} is where api-listen ({api!r}) listens: give the metrics "
                                 "listener a port of its own")
        return value

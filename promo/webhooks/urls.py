"""Where a webhook may be sent: the URL rules and the SSRF guard.

A subscription's URL is http or https (as ``PROMO_WEBHOOK_SCHEMES`` allows),
names a host, carries no credentials and no fragment. Where it may point is
``PROMO_WEBHOOK_ALLOWED_HOSTS``: host names, addresses and CIDR networks,
and ``public`` (the default, alone), any host all of whose addresses are
public. So a server inside promo's network (a database, a cloud metadata
endpoint at 169.254.169.254, an admin port on 127.0.0.1) is refused unless
the operator lists it, and a list without ``public`` allows nothing else
(the tests allow only ``127.0.0.1``). What the URL names is judged when the
subscription is written (422); a public host name is resolved at each
attempt, every address it resolves to is judged, and the request goes to
the address that was judged (the name kept for ``Host`` and TLS), so a name
that resolves elsewhere the second time (DNS rebinding) gains nothing.
Redirects are not followed (a 3xx is a failed attempt).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

from promo.errors import Invalid
from promo.settings import HOST_NAME, Settings, listed

MAX_URL_LENGTH = 2000
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Refused(Exception):
    """The target of an attempt is not allowed (or cannot be resolved)."""


PUBLIC = "public"


@dataclass(frozen=True)
class Policy:
    schemes: frozenset[str]
    hosts: frozenset[str]
    networks: tuple[IpNetwork, ...]
    # Any host whose addresses are all public (``public`` in the list).
    public: bool = True

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        hosts: set[str] = set()
        networks: list[IpNetwork] = []
        items = listed(settings.webhook_allowed_hosts)
        for item in items:
            if item == PUBLIC:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item)
        return cls(
            frozenset(listed(settings.webhook_schemes)),
            frozenset(hosts),
            tuple(networks),
            public=PUBLIC in items,
        )

    def allows_address(self, address: IpAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if self.public and address.is_global and not address.is_multicast:
            return True
        return any(address in network for network in self.networks)


def _address(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _invalid(message: str) -> Invalid:
    return Invalid.field("url", message, code="webhook_url_invalid")


def check_url(url: str, policy: Policy) -> str:
    """The URL as stored, or 422 ``webhook_url_invalid`` naming ``url``."""
    if len(url) > MAX_URL_LENGTH:
        raise _invalid(f"at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _invalid(f"not a URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise _invalid("must be an http or https URL")
    if scheme not in policy.schemes:
        raise _invalid(f"{scheme} is not allowed here (PROMO_WEBHOOK_SCHEMES)")
    host = (parts.hostname or "").lower()
    if not host:
        raise _invalid("must name a host")
    if parts.username is not None or parts.password is not None:
        raise _invalid("must not carry credentials")
    if parts.fragment:
        raise _invalid("must not have a fragment")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise _invalid("must not contain spaces or control characters")
    if port == 0:
        raise _invalid("port 0 is not a port")
    address = _address(host)
    if address is None and not HOST_NAME.match(host):
        raise _invalid(f"{host!r} is not a host name")
    if host not in policy.hosts:
        if address is not None and not policy.allows_address(address):
            where = "an internal address" if policy.public else "not an allowed address"
            raise _invalid(f"{host} is {where} (PROMO_WEBHOOK_ALLOWED_HOSTS)")
        if address is None and not policy.public:
            raise _invalid(f"{host} is not an allowed host (PROMO_WEBHOOK_ALLOWED_HOSTS)")
        if address is None and (host == "localhost" or host.endswith(".localhost")):
            raise _invalid(f"{host} is an internal host (PROMO_WEBHOOK_ALLOWED_HOSTS)")
    return urlunsplit(parts._replace(scheme=scheme))


@dataclass(frozen=True)
class Target:
    """Where an attempt connects: the URL with the judged address in place of the
    name, and the name, for the ``Host`` header and TLS (SNI, certificate)."""

    url: str
    host: str
    port: int | None = None


def host_header(target: Target) -> str:
    """``Host`` as the URL wrote it (the name, and the port when one was given)."""
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port is None else f"{host}:{target.port}"


def _with_address(parts: SplitResult, address: str) -> str:
    written = f"[{address}]" if ":" in address else address
    netloc = f"{written}:{parts.port}" if parts.port is not None else written
    return urlunsplit(parts._replace(netloc=netloc))


async def resolve(url: str, policy: Policy) -> Target:
    """Judge the addresses ``url``'s host has now; ``Refused`` when one is not allowed."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    literal = _address(host)
    if literal is not None:
        if host not in policy.hosts and not policy.allows_address(literal):
            raise Refused(f"{host} is not an allowed address")
        return Target(url=url, host=host, port=parts.port)
    if host not in policy.hosts and not policy.public:
        raise Refused(f"{host} is not an allowed host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses:
        raise Refused(f"cannot resolve {host}")
    if host not in policy.hosts:
        for found in addresses:
            if not policy.allows_address(ipaddress.ip_address(found)):
                raise Refused(f"{host} resolves to an internal address ({found})")
    return Target(url=_with_address(parts, addresses[0]), host=host, port=parts.port)

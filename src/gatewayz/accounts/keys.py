"""API key material: generation, hashing, display parts, and the access rules a key carries."""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import ipaddress
import re
import secrets

KEY_RANDOM_BYTES = 32
SCOPES: tuple[str, ...] = ("inference", "keys", "billing", "admin")
DEFAULT_SCOPES: tuple[str, ...] = ("inference", "keys", "billing")
MIN_KEY_LENGTH = 16
MAX_KEY_LENGTH = 256
DISPLAY_PREFIX_RANDOM_CHARS = 4

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_DOMAIN_PATTERN = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def generate_key(environment: str) -> str:
    """`gw_<env>_` + 32 random bytes (base64url, 43 characters)."""
    return f"gw_{environment}_{secrets.token_urlsafe(KEY_RANDOM_BYTES)}"


def hash_key(secret: bytes, key: str) -> str:
    """HMAC-SHA256 under the server secret: a leaked table cannot be checked offline."""
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


_ENV_PREFIX = re.compile(r"^gw_(live|test|staging|dev)_")


def display_prefix(key: str) -> str:
    """The part shown to people: `gw_live_` plus a few characters (never enough to guess the key).

    Also what a security event may keep of a presented key, so for a string of another format it
    is only the first 6 characters.
    """
    match = _ENV_PREFIX.match(key)
    if match:
        return key[: match.end() + DISPLAY_PREFIX_RANDOM_CHARS]
    return key[:6]


def last4(key: str) -> str:
    return key[-4:]


def looks_like_key(key: str) -> bool:
    return MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH and key.isprintable() and " " not in key


def parse_networks(entries: list[str]) -> list[IPNetwork]:
    """IPv4/IPv6 addresses and CIDRs; raises ValueError naming the bad entry."""
    networks: list[IPNetwork] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{entry!r} is not an IP address or CIDR") from exc
    return networks


def ip_allowed(networks: tuple[IPNetwork, ...], ip: str | None) -> bool:
    if ip is None:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def normalize_domain_pattern(pattern: str) -> str:
    value = pattern.strip().lower().rstrip(".")
    if not _DOMAIN_PATTERN.match(value):
        raise ValueError(f"{pattern!r} is not a domain or *.domain pattern")
    return value


def referer_allowed(patterns: tuple[str, ...], host: str | None) -> bool:
    """`example.com` matches only itself; `*.example.com` matches any subdomain, not the apex."""
    if not host:
        return False
    host = host.lower().rstrip(".")
    for pattern in patterns:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def model_allowed(patterns: tuple[str, ...], model: str) -> bool:
    """Exact ids or shell-style globs (`openai/*`)."""
    return any(p == model or fnmatch.fnmatchcase(model, p) for p in patterns)

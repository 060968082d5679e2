"""Repository URLs: which transport they use, how they are shown, and which cache entry they share.

A repoURL arrives from an Application spec, so it is untrusted text: it may carry credentials
(`https://user:token@host/repo`), use a transport tether refuses (`ext::`, a local path in
production), or start with `-` to smuggle an option into the git command line. Everything shown
to a user goes through `redact`, which drops HTTP userinfo entirely (usernames included).
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from urllib.parse import unquote, urlsplit, urlunsplit

# `user@host:path` (scp-like SSH); a second colon-free segment rules out `C:\...` style paths.
_SCP_RE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^/:]+):(?P<path>(?!//).+)$")
_SCHEME_RE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
_USERINFO_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^\s'\"]*@")


class Transport(StrEnum):
    HTTP = "http"  # http and https: credentials by username/password (askpass)
    SSH = "ssh"  # ssh:// and scp-like: a private key and pinned host keys
    GIT = "git"  # the anonymous git:// daemon protocol
    FILE = "file"  # a local path or file:// URL (tests, air-gapped mirrors)
    OTHER = "other"


_SCHEMES = {
    "http": Transport.HTTP,
    "https": Transport.HTTP,
    "ssh": Transport.SSH,
    "git+ssh": Transport.SSH,
    "ssh+git": Transport.SSH,
    "git": Transport.GIT,
    "file": Transport.FILE,
}


def transport(url: str) -> Transport:
    match = _SCHEME_RE.match(url)
    if match:
        return _SCHEMES.get(match["scheme"].lower(), Transport.OTHER)
    if "::" in url:  # `ext::cmd` and other remote-helper syntax
        return Transport.OTHER
    if url.startswith(("/", "./", "../")):
        return Transport.FILE
    return Transport.SSH if _SCP_RE.match(url) else Transport.FILE


def split_userinfo(url: str) -> tuple[str, str, str]:
    """(url without userinfo, username, password) for HTTP URLs; others come back unchanged.

    The userinfo ends at the *last* `@`: a password with a raw `/` or `@` in it is malformed,
    but must still be cut out whole rather than leak its tail into a message."""
    if transport(url) != Transport.HTTP:
        return url, "", ""
    scheme, _, rest = url.partition("://")
    if "@" not in rest:
        return url, "", ""
    userinfo, _, location = rest.rpartition("@")
    user, _, password = userinfo.partition(":")
    return f"{scheme}://{location}", unquote(user), unquote(password)


def redact(url: str) -> str:
    """The URL as it may be shown: HTTP userinfo removed, an SSH password (never a user) masked."""
    if transport(url) == Transport.HTTP:
        return split_userinfo(url)[0]
    if _SCHEME_RE.match(url) and urlsplit(url).password:
        return scrub_userinfo(url)
    return url


def scrub_userinfo(text: str) -> str:
    """Replace the userinfo of every URL inside free text (git's stderr) with `***`."""
    return _USERINFO_RE.sub(lambda m: f"{m['scheme']}***@", text)


def normalize(url: str) -> str:
    """One spelling per repository: lower-case scheme and host, no HTTP userinfo, no trailing `/`;
    scp-like `user@host:path` becomes `ssh://user@host/path`."""
    url = split_userinfo(url.strip())[0].rstrip("/")
    scp = None if _SCHEME_RE.match(url) else _SCP_RE.match(url)
    if scp and transport(url) == Transport.SSH:
        user = f"{scp['user']}@" if scp["user"] else ""
        return f"ssh://{user}{scp['host'].lower()}/{scp['path'].lstrip('/')}"
    if not _SCHEME_RE.match(url):
        return url
    parts = urlsplit(url)
    user, at, host = parts.netloc.rpartition("@")
    return urlunsplit(
        parts._replace(scheme=parts.scheme.lower(), netloc=f"{user}{at}{host.lower()}")
    )


def same_repository(a: str, b: str) -> bool:
    """Whether two URLs name one repository (a `.git` suffix is optional on most servers)."""
    return normalize(a).removesuffix(".git") == normalize(b).removesuffix(".git")


def cache_key(url: str) -> str:
    """A directory name for the repository: a hash, so any URL makes a safe, fixed-length name."""
    return hashlib.sha256(normalize(url).encode()).hexdigest()[:32]

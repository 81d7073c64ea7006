"""Web pages and documents that an admin names by URL, fetched by the server for the
knowledge base.

The server makes the request, so an address typed in the admin could reach what only the
server can: the cloud's metadata service, the database, the admin itself. Unless private
addresses are allowed (development), every address a host name resolves to must be public,
at every redirect hop, and the address actually connected to is checked again (a name can
resolve differently the second time)."""

import ipaddress
import socket
import time
from dataclasses import dataclass
from pathlib import PurePosixPath

import httpx
from django.utils.translation import gettext as _

from .extract import KINDS_BY_CONTENT_TYPE, KINDS_BY_EXTENSION

MAX_REDIRECTS = 5
USER_AGENT = "Switchboard-knowledge-fetcher/1.0"
# Servers send these for any file; the URL's extension then says what it is.
_GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream"}
_TEXT_KINDS = {"txt", "md", "html", "csv"}


@dataclass(frozen=True)
class Fetched:
    """A fetched page or document. Text whose charset the server named is given as UTF-8
    with a byte-order mark, which every reader of extract_sections honours."""

    url: str  # final URL after redirects
    content_type: str  # without parameters, lower case
    data: bytes
    filename: str  # a name for extract_sections, e.g. "returns.html"


class FetchError(Exception):
    """Why a URL could not be fetched, in words an admin understands."""


class _PrivateAddress(Exception):
    """Raised while connecting: the address connected to is not public."""


def fetch_url(
    url: str, *, timeout: float = 15.0, max_bytes: int = 10_000_000, allow_private: bool = False
) -> Fetched:
    """GETs `url`, following up to MAX_REDIRECTS redirects; reads at most `max_bytes` and
    spends at most about `timeout` seconds in all."""
    deadline = time.monotonic() + timeout
    # trust_env=False: no proxy from the environment, which would connect on our behalf
    # to addresses we could no longer check.
    with httpx.Client(trust_env=False, headers={"User-Agent": USER_AGENT}) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            target = _parse(url)
            if not allow_private:
                _refuse_private(target)
            extensions = {} if allow_private else {"trace": _check_connected_address}
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _timed_out(timeout)
            try:
                with client.stream(
                    "GET", target, timeout=remaining, extensions=extensions
                ) as response:
                    if response.is_redirect:
                        url = str(target.join(response.headers["Location"]))
                        continue
                    return _read(response, target, max_bytes, deadline, timeout)
            except _PrivateAddress:
                raise _refused(target.host) from None
            except httpx.TimeoutException:
                raise _timed_out(timeout) from None
            except httpx.ConnectError:
                message = _("Could not connect to %(host)s.")
                raise FetchError(message % {"host": target.host}) from None
            except (httpx.HTTPError, httpx.InvalidURL):  # a garbled answer or Location
                raise FetchError(
                    _("The server at %(host)s sent an answer that could not be read.")
                    % {"host": target.host}
                ) from None
    raise FetchError(_("Too many redirects (more than %(count)d).") % {"count": MAX_REDIRECTS})


def _parse(url: str) -> httpx.URL:
    try:
        target = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError):
        raise FetchError(_("This is not a valid web address.")) from None
    if target.scheme not in ("http", "https"):
        raise FetchError(_("Only http and https addresses can be fetched."))
    if not target.host:
        raise FetchError(_("This is not a valid web address."))
    return target


def _refuse_private(target: httpx.URL) -> None:
    """Refuses a host any of whose addresses is not public. Literal addresses and "localhost"
    need no DNS."""
    host = target.raw_host.decode("ascii")
    try:
        resolved = socket.getaddrinfo(host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchError(
            _("The address %(host)s could not be found.") % {"host": target.host}
        ) from None
    if not all(_is_public(info[4][0]) for info in resolved):
        raise _refused(target.host)


def _check_connected_address(event: str, info: dict) -> None:
    """An httpx trace hook: the connection just opened must lead to a public address."""
    if event == "connection.connect_tcp.complete":
        stream = info["return_value"]
        address = stream.get_extra_info("server_addr")
        if address and not _is_public(address[0]):
            stream.close()
            raise _PrivateAddress(address[0])


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])  # drop an IPv6 zone ("fe80::1%eth0")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    # is_global leaves out loopback, private, link-local, reserved, unspecified and shared
    # (carrier NAT) addresses, but not multicast.
    return ip.is_global and not ip.is_multicast


def _read(
    response: httpx.Response, target: httpx.URL, max_bytes: int, deadline: float, timeout: float
) -> Fetched:
    if not response.is_success:
        raise FetchError(_("The server answered %(status)d.") % {"status": response.status_code})
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    kind = _kind(content_type, target)
    if not kind:
        raise FetchError(
            _("Not a web page or document (%(type)s).") % {"type": content_type or _("unknown")}
        )
    too_large = FetchError(
        _("The page is larger than %(megabytes)s MB.") % {"megabytes": f"{max_bytes / 1e6:g}"}
    )
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    body = bytearray()
    for piece in response.iter_bytes():
        body += piece
        if len(body) > max_bytes:
            raise too_large
        if time.monotonic() > deadline:  # a server that trickles bytes
            raise _timed_out(timeout)
    data = bytes(body)
    if kind in _TEXT_KINDS and response.charset_encoding:
        data = _as_utf8(data, response.charset_encoding)
    return Fetched(str(target), content_type, data, f"{_stem(target, kind)}.{kind}")


def _kind(content_type: str, target: httpx.URL) -> str:
    if content_type in _GENERIC_TYPES:
        return KINDS_BY_EXTENSION.get(PurePosixPath(target.path.lower()).suffix, "")
    return KINDS_BY_CONTENT_TYPE.get(content_type, "")


def _stem(target: httpx.URL, kind: str) -> str:
    """The name the URL gives the document ("returns" of /help/returns.html), else "page"."""
    stem = PurePosixPath(target.path).stem.strip()[:100]  # httpx has decoded the path
    return stem or ("page" if kind == "html" else "document")


def _as_utf8(data: bytes, charset: str) -> bytes:
    """The server's charset overrides what the bytes may say of themselves (an HTML meta
    tag), so the text is handed on as UTF-8 with a byte-order mark, which wins over both."""
    try:
        text = data.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return data  # a wrong or unknown charset: let the readers guess
    return b"\xef\xbb\xbf" + text.removeprefix("\ufeff").encode("utf-8")


def _refused(host: str) -> FetchError:
    return FetchError(_("Refused: the address %(host)s is on a private network.") % {"host": host})


def _timed_out(timeout: float) -> FetchError:
    return FetchError(_("Timed out after %(seconds)s s.") % {"seconds": f"{timeout:g}"})

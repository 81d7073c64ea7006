"""Fetching web pages for the knowledge base, against a real local HTTP server; and the
refusal of private addresses, which needs no network at all."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ai_agent.knowledge.extract import Section, extract_sections
from ai_agent.knowledge.fetch import Fetched, FetchError, fetch_url
from tests.channels_app.fake_provider import FakeProvider

BOM = b"\xef\xbb\xbf"
PAGE = (
    "<html><head><title>Help</title></head><body><nav>Menu</nav>"
    "<h1>Returns</h1><p>Free within 30 days.</p><h2>退货</h2><p>三十天内免费退货。</p>"
    "</body></html>"
)


@pytest.fixture
def site():
    with FakeProvider() as server:
        yield server


def fetch_error(url: str, **kwargs) -> str:
    with pytest.raises(FetchError) as raised:
        fetch_url(url, **kwargs)
    return str(raised.value)


def test_a_web_page_is_fetched_and_reads_as_sections(site):
    site.reply(
        "GET", "/help/returns", body=PAGE, headers={"Content-Type": "text/html; charset=UTF-8"}
    )

    fetched = fetch_url(f"{site.url}/help/returns", allow_private=True)

    assert fetched == Fetched(
        url=f"{site.url}/help/returns",
        content_type="text/html",
        data=BOM + PAGE.encode(),
        filename="returns.html",
    )
    assert "Switchboard" in site.requests[0].headers["user-agent"]
    sections = extract_sections(
        fetched.data, filename=fetched.filename, content_type=fetched.content_type
    )
    assert sections == [
        Section(("Returns",), "Free within 30 days."),
        Section(("Returns", "退货"), "三十天内免费退货。"),
    ]


def test_the_charset_the_server_names_wins_over_guessing(site):
    page = "<p>订单付款后两个工作日内发货，节假日顺延。</p>"
    site.reply(
        "GET", "/", body=page.encode("gbk"), headers={"Content-Type": "text/html;charset=gbk"}
    )

    fetched = fetch_url(f"{site.url}/", allow_private=True)

    assert fetched.filename == "page.html"
    [section] = extract_sections(fetched.data, filename=fetched.filename)
    assert section.text == "订单付款后两个工作日内发货，节假日顺延。"


def test_redirects_are_followed_to_the_document(site):
    pdf = b"%PDF-1.7 not parsed by the fetcher"
    site.reply("GET", "/start", 302, headers={"Location": "/middle?x=1"})
    site.reply("GET", "/middle", 301, headers={"Location": f"{site.url}/docs/guide.pdf"})
    site.reply("GET", "/docs/guide.pdf", body=pdf, headers={"Content-Type": "application/pdf"})

    fetched = fetch_url(f"{site.url}/start", allow_private=True)

    assert fetched == Fetched(f"{site.url}/docs/guide.pdf", "application/pdf", pdf, "guide.pdf")
    assert [r.path for r in site.requests] == ["/start", "/middle", "/docs/guide.pdf"]
    assert site.requests[1].query == {"x": "1"}


def test_a_redirect_loop_stops_after_five_redirects(site):
    site.reply("GET", "/loop", 302, headers={"Location": "/loop"})
    assert "Too many redirects" in fetch_error(f"{site.url}/loop", allow_private=True)
    assert len(site.requests) == 6


def test_a_redirect_to_another_scheme_is_refused(site):
    site.reply("GET", "/", 302, headers={"Location": "file:///etc/passwd"})
    assert "http and https" in fetch_error(f"{site.url}/", allow_private=True)


def test_an_error_status_is_reported(site):
    site.reply(
        "GET", "/gone", 404, body="<h1>Not found</h1>", headers={"Content-Type": "text/html"}
    )
    assert fetch_error(f"{site.url}/gone", allow_private=True) == "The server answered 404."


def test_a_page_larger_than_the_limit_is_refused_by_its_length(site):
    site.reply("GET", "/big", body=b"x" * 5000, headers={"Content-Type": "text/plain"})
    message = fetch_error(f"{site.url}/big", allow_private=True, max_bytes=4000)
    assert message == "The page is larger than 0.004 MB."


@pytest.fixture
def endless_server():
    """Answers with a text body that has no length and does not end: a flood, or on
    /trickle a few bytes at a time, each in good time for a read timeout."""

    class Endless(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            trickle = self.path == "/trickle"
            try:
                for _ in range(2000):  # at most 128 MB or 20 s, should the client never stop
                    self.wfile.write(b"y" * (10 if trickle else 65536))
                    self.wfile.flush()
                    if trickle:
                        time.sleep(0.01)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_body_without_a_length_stops_being_read_past_the_limit(endless_server):
    message = fetch_error(f"{endless_server}/stream", allow_private=True, max_bytes=1_000_000)
    assert message == "The page is larger than 1 MB."


def test_a_server_that_trickles_its_answer_times_out(endless_server):
    started = time.monotonic()
    message = fetch_error(f"{endless_server}/trickle", allow_private=True, timeout=1)
    assert message == "Timed out after 1 s."
    assert time.monotonic() - started < 2


def test_what_is_not_a_page_or_document_is_refused(site):
    site.reply("GET", "/logo", body=b"\x89PNG", headers={"Content-Type": "image/png"})
    assert fetch_error(f"{site.url}/logo", allow_private=True) == (
        "Not a web page or document (image/png)."
    )


def test_a_generic_type_is_named_by_the_url_extension(site):
    site.reply(
        "GET",
        "/files/notes.md",
        body="# Notes",
        headers={"Content-Type": "application/octet-stream"},
    )
    fetched = fetch_url(f"{site.url}/files/notes.md", allow_private=True)
    assert (fetched.filename, fetched.data) == ("notes.md", b"# Notes")


def test_a_slow_server_times_out(site):
    site.reply("GET", "/slow", body="late", headers={"Content-Type": "text/plain"}, delay=3)
    started = time.monotonic()
    assert fetch_error(f"{site.url}/slow", allow_private=True, timeout=0.5) == (
        "Timed out after 0.5 s."
    )
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    "address",
    [
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://[::1]:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://0.0.0.0:{port}/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "https://[fe80::1]/",
        "http://224.0.0.1/",
    ],
)
def test_private_addresses_are_refused(site, address):
    url = address.format(port=site.url.rsplit(":", 1)[1])
    assert "private network" in fetch_error(url)
    assert site.requests == []


@pytest.fixture
def rebinding_dns(monkeypatch):
    """The resolver (outside our machine) answers "rebind.test" with a public address the
    first time and with the local loopback address afterwards."""
    answers = ["93.184.215.14", "127.0.0.1"]
    resolve = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.test":
            return resolve(host, port, *args, **kwargs)
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 80))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_name_that_resolves_elsewhere_when_connecting_is_refused(site, rebinding_dns):
    port = site.url.rsplit(":", 1)[1]
    assert "private network" in fetch_error(f"http://rebind.test:{port}/")
    assert site.requests == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/faq.txt", "http and https"),
        ("javascript:alert(1)", "http and https"),
        ("file:///etc/passwd", "http and https"),
        ("http:///nohost", "not a valid web address"),
    ],
)
def test_only_web_addresses_are_fetched(url, reason):
    assert reason in fetch_error(url)

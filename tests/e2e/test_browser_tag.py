"""The browser tag (clients/js/beacon.js) in headless Chromium, on a page of another origin than the API.

The page is served from ``http://localhost:<port>``, the API from ``http://127.0.0.1:<port>``: every
request is cross-origin, as from a customer's website. The tag sends with ``navigator.sendBeacon``,
then with the ``fetch`` fallback (sendBeacon hidden, and a bulk over sendBeacon's 64 KiB); a plain
``fetch`` with an ``Authorization`` header goes through a CORS preflight; a JSON Blob beacon shows
the trap the tag avoids. What counts is what the API stored and summarized, read back over HTTP.
"""

import http.server
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.template import ROOT
from tests.e2e.chromium import Chromium, Page, find_chromium, launch
from tests.e2e.conftest import Stack, unique

pytestmark = pytest.mark.e2e

TAG = ROOT / "clients" / "js" / "beacon.js"
WAIT_SECONDS = 60
BULK_OVER_QUOTA = 1_000  # charges of ~80 bytes each: a body over sendBeacon's 64 KiB
# The snippet of docs/api.md, "From a web page: the browser tag".
SNIPPET = re.compile(r"```html\n(<script src=\"beacon\.js\"></script>\n.*?)```", re.S)

HARNESS = """<!doctype html>
<meta charset="utf-8">
<title>beacon tag test</title>
<script src="beacon.js"></script>
<script>
  // Records which transport the tag used, and what the browser said about it.
  window.transports = [];
  const realBeacon = navigator.sendBeacon.bind(navigator);
  const realFetch = window.fetch.bind(window);
  Object.defineProperty(navigator, "sendBeacon", {configurable: true, writable: true, value(url, data) {
    const queued = realBeacon(url, data);
    transports.push({via: "sendBeacon", queued, type: typeof data});
    return queued;
  }});
  window.fetch = (url, init) => {
    const encoding = (init && init.headers && init.headers["Content-Encoding"]) || null;
    const keepalive = Boolean(init && init.keepalive);
    transports.push({via: "fetch", keepalive, type: typeof (init && init.body), encoding});
    return realFetch(url, init);
  };
  window.until = async (done) => {
    for (let waited = 0; !done() && waited < 10000; waited += 10) await new Promise((r) => setTimeout(r, 10));
  };

  window.run = async ({url, key, tagUser, blobUser, fetchUser}) => {
    const results = {};
    // The trap: a Blob typed application/json. The browser queues it (true), then loses it.
    const blob = new Blob([JSON.stringify({user_id: blobUser, amount: 1, api_key: key})], {type: "application/json"});
    results.blobQueued = realBeacon(url + "/charges", blob);

    Beacon.configure({url, key});
    results.beacon = [
      Beacon.charge({user_id: tagUser, amount: 1200}),
      Beacon.charges({user_id: tagUser, charges: [{amount: "300"}, {amount: 45, update_session: false}]}),
    ];
    const big = Array.from({length: %(bulk)d}, () => ({amount: 1, note: "x".repeat(60)}));
    results.overQuota = Beacon.charges({user_id: tagUser, charges: big});
    Object.defineProperty(navigator, "sendBeacon", {configurable: true, value: undefined});
    results.withoutSendBeacon = Beacon.charge({user_id: tagUser, amount: 7});

    // A plain fetch with a header that is not CORS-safelisted: the browser sends a preflight first.
    const response = await realFetch(url + "/charges", {
      method: "POST",
      headers: {"Authorization": "Bearer " + key, "Content-Type": "application/json"},
      body: JSON.stringify({user_id: fetchUser, amount: 500}),
    });
    results.fetch = {status: response.status, body: await response.json()};
    await until(() => transports.length >= 5); // the over-quota bulk leaves once compressed
    results.transports = transports;
    return results;
  };
</script>
"""


class StaticSite:
    """A web server for a few in-memory files, on another origin than the API."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[str, bytes]] = {}
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                content_type, body = site.files.get(self.path, ("text/plain", b""))
                self.send_response(200 if self.path in site.files else 404)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://localhost:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, path: str, content_type: str, body: str | bytes) -> str:
        self.files[path] = (content_type, body.encode() if isinstance(body, str) else body)
        return f"{self.origin}{path}"


@pytest.fixture(scope="module")
def site() -> Iterator[StaticSite]:
    served = StaticSite()
    served.add("/beacon.js", "text/javascript", TAG.read_bytes())
    served.thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    binary = find_chromium()
    if binary is None:
        pytest.skip(reason="no Chromium: install Debian's chromium package (apt-get install chromium)")
    with launch(binary, tmp_path_factory.mktemp("chromium") / "chromium.log") as running:
        yield running


def loaded(browser: Chromium, url: str) -> Page:
    page = browser.open(url)
    deadline = time.monotonic() + 30
    # the new tab shows about:blank first: wait for the page itself, loaded
    while page.evaluate("[location.href, document.readyState]") != [url, "complete"]:
        assert time.monotonic() < deadline, f"{url} did not load"
        time.sleep(0.05)
    return page


def summary_when(stack: Stack, user_id: str, count: int) -> dict[str, Any]:
    """The customer's summary once it counts ``count`` charges (fails when it has not within the wait)."""
    deadline = time.monotonic() + WAIT_SECONDS
    data: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = stack.summary(user_id=user_id)
        if response.status_code == 200:
            data = response.json()["data"]
            if data["charges"]["count"] >= count:
                return data
        time.sleep(0.2)
    raise AssertionError(f"{user_id}: expected {count} charges in the summary, got {data or 'no summary'}")


def test_the_tag_records_charges_from_another_origin_by_beacon_and_by_fetch(stack: Stack, site: StaticSite, browser):
    # Given a page of another origin that loads the tag as a classic script
    users = {"tagUser": unique("web-tag"), "blobUser": unique("web-blob"), "fetchUser": unique("web-fetch")}
    page = loaded(browser, site.add("/harness.html", "text/html", HARNESS % {"bulk": BULK_OVER_QUOTA}))

    # When it records charges through the tag (sendBeacon, then fetch), a JSON Blob beacon and a plain fetch
    results = page.evaluate(f"run({{url: {stack.base_url!r}, key: {stack.public_key!r}, ...{users!r}}})")

    # Then the browser queued each of the tag's requests, by the transport expected
    assert results["beacon"] == [True, True]
    assert results["overQuota"] is True and results["withoutSendBeacon"] is True
    assert results["transports"] == [
        {"via": "sendBeacon", "queued": True, "type": "string"},
        {"via": "sendBeacon", "queued": True, "type": "string"},
        {"via": "sendBeacon", "queued": False, "type": "string"},  # over 64 KiB: refused...
        {"via": "fetch", "keepalive": True, "type": "string", "encoding": None},  # no sendBeacon: a keepalive fetch
        # ...so the bulk over 64 KiB is gzipped (which takes a moment) and fetch sends it (sendBeacon has used
        # keepalive's quota), with Content-Encoding: gzip, after a preflight the API answers
        {"via": "fetch", "keepalive": False, "type": "object", "encoding": "gzip"},
    ]
    # And the preflighted fetch was answered, its answer readable across origins
    assert results["fetch"] == {"status": 200, "body": {"success": True, "code": 200, "data": None}}

    # And the summaries count every charge sent through the tag and the fetch
    tag = summary_when(stack, users["tagUser"], 4 + BULK_OVER_QUOTA)
    assert tag["charges"]["count"] == 4 + BULK_OVER_QUOTA
    assert tag["charges"]["total"] == 1200 + 300 + 45 + BULK_OVER_QUOTA + 7
    assert tag["sessions"]["count"] == 1
    fetched = summary_when(stack, users["fetchUser"], 1)
    assert (fetched["charges"]["count"], fetched["charges"]["total"]) == (1, 500)

    # And the JSON Blob beacon, queued by the browser all the same, stored nothing: its credentialed
    # preflight met the API's wildcard CORS answer and was refused, and nobody was told
    assert results["blobQueued"] is True
    assert stack.stored_charges(user_id=users["blobUser"]) == []
    assert stack.summary(user_id=users["blobUser"]).status_code == 404


def test_without_compression_stream_a_large_bulk_goes_as_text(stack: Stack, site: StaticSite, browser):
    # Given a browser without CompressionStream (Safari before 16.4, Firefox before 113)
    user = unique("web-no-gzip")
    page = loaded(browser, site.add("/no-gzip.html", "text/html", HARNESS % {"bulk": BULK_OVER_QUOTA}))

    sent = page.evaluate(
        f"""(async () => {{
          delete window.CompressionStream;
          Beacon.configure({{url: {stack.base_url!r}, key: {stack.public_key!r}}});
          const big = Array.from({{length: {BULK_OVER_QUOTA}}}, () => ({{amount: 2, note: "x".repeat(60)}}));
          const queued = Beacon.charges({{user_id: {user!r}, charges: big}});
          return {{queued, transports}};
        }})()"""
    )

    assert sent == {
        "queued": True,
        "transports": [
            {"via": "sendBeacon", "queued": False, "type": "string"},
            {"via": "fetch", "keepalive": False, "type": "string", "encoding": None},
        ],
    }
    assert summary_when(stack, user, BULK_OVER_QUOTA)["charges"]["total"] == 2 * BULK_OVER_QUOTA


def test_without_send_beacon_a_large_bulk_compressed_within_the_quota_goes_by_keepalive_fetch(
    stack: Stack, site: StaticSite, browser
):
    user = unique("web-gzip-keepalive")
    page = loaded(browser, site.add("/gzip-keepalive.html", "text/html", HARNESS % {"bulk": BULK_OVER_QUOTA}))

    sent = page.evaluate(
        f"""(async () => {{
          Object.defineProperty(navigator, "sendBeacon", {{configurable: true, value: undefined}});
          Beacon.configure({{url: {stack.base_url!r}, key: {stack.public_key!r}}});
          const big = Array.from(
            {{length: {BULK_OVER_QUOTA}}}, (_, i) => ({{amount: 3, charge_id: "order-" + i, note: "x".repeat(60)}})
          );
          const queued = Beacon.charges({{user_id: {user!r}, charges: big}});
          await until(() => transports.length >= 1);
          return {{queued, transports}};
        }})()"""
    )

    assert sent == {
        "queued": True,
        "transports": [{"via": "fetch", "keepalive": True, "type": "object", "encoding": "gzip"}],
    }
    assert summary_when(stack, user, BULK_OVER_QUOTA)["charges"]["total"] == 3 * BULK_OVER_QUOTA
    assert sorted(i["client_charge_id"]["S"] for i in stack.stored_charges(user_id=user))[:2] == ["order-0", "order-1"]


def test_a_page_whose_clock_is_an_hour_ahead_has_its_created_at_moved_back(stack: Stack, site: StaticSite, browser):
    # Given a device whose clock is an hour fast: the page stamps its charge by that clock
    user = unique("web-fast-clock")
    page = loaded(
        browser, site.add("/fast-clock.html", "text/html", '<!doctype html><script src="beacon.js"></script>')
    )

    device_created_at = page.evaluate(
        f"""(() => {{
          const realNow = Date.now;
          Date.now = () => realNow() + 3600 * 1000;
          Beacon.configure({{url: {stack.base_url!r}, key: {stack.public_key!r}}});
          const createdAt = Math.floor(Date.now() / 1000) - 60;  // charged a minute ago, by the device's clock
          Beacon.charge({{user_id: {user!r}, amount: 10, created_at: createdAt}});
          return createdAt;
        }})()"""
    )

    # Then the API stores it a minute before it received it, by its own clock
    summary_when(stack, user, 1)
    [item] = stack.stored_charges(user_id=user)
    received_at = int(item["received_ms"]["N"]) // 1000
    assert abs(int(item["created_at"]["N"]) - (device_created_at - 3600)) <= 2
    assert abs(int(item["created_at"]["N"]) - (received_at - 60)) <= 2


def test_the_tag_loads_as_an_es_module_too(stack: Stack, site: StaticSite, browser):
    user = unique("web-module")
    page = loaded(browser, site.add("/module.html", "text/html", "<!doctype html><title>module</title>"))

    queued = page.evaluate(
        f"""import("/beacon.js").then(() => {{
          Beacon.configure({{url: {stack.base_url!r}, key: {stack.public_key!r}}});
          return Beacon.charge({{user_id: {user!r}, amount: "1000"}});
        }})"""
    )

    assert queued is True
    summary = summary_when(stack, user, 1)
    assert (summary["charges"]["count"], summary["charges"]["total"]) == (1, 1000)


def test_the_documented_snippet_records_its_charge(stack: Stack, site: StaticSite, browser):
    [snippet] = SNIPPET.findall((ROOT / "docs" / "api.md").read_text(encoding="utf-8"))
    url, key = re.search(r'url: "([^"]+)", key: "([^"]+)"', snippet).groups()  # type: ignore[union-attr]
    user = re.search(r'user_id: "([^"]+)"', snippet).group(1)  # type: ignore[union-attr]
    run_user = unique(user)
    page_html = snippet.replace(url, stack.base_url).replace(key, stack.public_key).replace(user, run_user)

    loaded(browser, site.add("/documented.html", "text/html", f"<!doctype html>\n{page_html}"))

    summary = summary_when(stack, run_user, 1)
    assert summary["charges"]["count"] == 1


def test_charges_sent_as_the_page_goes_away_still_arrive(stack: Stack, site: StaticSite, browser):
    # Given a page with the tag, as a checkout page that redirects once the purchase is done
    by_beacon, by_keepalive = unique("web-leaving-beacon"), unique("web-leaving-fetch")
    page = loaded(browser, site.add("/leaving.html", "text/html", '<!doctype html><script src="beacon.js"></script>'))

    # When it records a charge by sendBeacon, one by keepalive fetch, and navigates away at once
    queued = page.evaluate(
        f"""(() => {{
          Beacon.configure({{url: {stack.base_url!r}, key: {stack.public_key!r}}});
          const queued = [Beacon.charge({{user_id: {by_beacon!r}, amount: 11}})];
          Object.defineProperty(navigator, "sendBeacon", {{configurable: true, value: undefined}});
          queued.push(Beacon.charge({{user_id: {by_keepalive!r}, amount: 22}}));
          location.replace("about:blank");
          return queued;
        }})()"""
    )

    # Then both charges arrive all the same
    assert queued == [True, True]
    assert summary_when(stack, by_beacon, 1)["charges"]["total"] == 11
    assert summary_when(stack, by_keepalive, 1)["charges"]["total"] == 22

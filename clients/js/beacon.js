/*
 * Beacon browser tag: records charges from a web page, even while the page unloads.
 *
 *   <script src="beacon.js"></script>                  (a classic script: defines window.Beacon)
 *   import "./beacon.js"; const { charge } = Beacon;  (an ES module import: the same global)
 *
 *   Beacon.configure({ url: "https://api.example.com", key: "pk_..." });
 *   Beacon.charge({ user_id: "user_42", amount: 4999 });                    // POST /charges
 *   Beacon.charges({ user_id: "user_42", charges: [{ amount: 1200 }] });    // POST /charges/bulk
 *
 * Each call returns true when the browser queued the request (or, for a large body being compressed,
 * will), false when it refused to.
 *
 * The body is a JSON *string* sent as text/plain with the public key in it (api_key): a "simple"
 * cross-origin request that needs no CORS preflight. navigator.sendBeacon sends it (it survives the
 * page closing); where sendBeacon is missing, a keepalive fetch sends it (as long-lived, within the
 * same 64 KiB); where sendBeacon refuses the payload (over its quota), a plain fetch. Never a Blob
 * typed application/json: Chromium sends such a beacon with credentials after a preflight, which an
 * API answering CORS with a wildcard origin refuses, and the charge is silently lost.
 *
 * A body over the 64 KiB quota (a large bulk), which no transport that outlives the page takes, is
 * gzipped with CompressionStream where the browser has it and sent by fetch with Content-Encoding:
 * gzip (sendBeacon cannot set that header; the fetch is preflighted, without credentials, and the
 * API allows the header). Compressing takes a moment, so smaller bodies are not compressed: they
 * leave at once, which is what lets them outlive the page.
 *
 * Every body carries sent_at, the browser's clock (UNIX seconds) when the tag sent it: the API
 * corrects each created_at by that clock's error. Give created_at by the same clock (Date.now()),
 * or pass sent_at: null when your created_at values come from another clock (your server's).
 *
 * The tag checks nothing the API checks: the API answers bad input with a 400 naming the field.
 * No dependencies, no build step. Plain ES2017, valid both as a classic script and as a module.
 */
(function (root) {
  "use strict";

  var KEEPALIVE_QUOTA_BYTES = 65536; // what browsers allow in flight for sendBeacon and keepalive fetch together
  var TEXT_HEADERS = { "Content-Type": "text/plain;charset=UTF-8" }; // CORS-safelisted: no preflight
  var GZIP_HEADERS = { "Content-Type": "application/json", "Content-Encoding": "gzip" }; // preflighted
  var settings = { url: "", key: "" };

  /** Set the API's base URL (no trailing path) and the public key (pk_...) used by every call. */
  function configure(options) {
    settings.url = String(options.url || "").replace(/\/+$/, "");
    settings.key = String(options.key || "");
    return { url: settings.url, key: settings.key };
  }

  /** Record one charge: {user_id, email, amount, created_at, update_session, charge_id}. True if queued. */
  function charge(fields) {
    return send("/charges", fields);
  }

  /** Record a bulk: {user_id, email, charges: [{amount, created_at, update_session, charge_id}, ...]}. True if queued. */
  function charges(fields) {
    return send("/charges/bulk", fields);
  }

  function send(path, fields) {
    var body = {};
    var name;
    for (name in fields) {
      if (Object.prototype.hasOwnProperty.call(fields, name)) body[name] = fields[name];
    }
    body.api_key = settings.key;
    if (!("sent_at" in body)) body.sent_at = Math.floor(Date.now() / 1000);
    var text = JSON.stringify(body); // a string: sent as text/plain;charset=UTF-8, no preflight
    var url = settings.url + path;
    var nav = root.navigator;
    var hasBeacon = Boolean(nav && typeof nav.sendBeacon === "function");
    if (hasBeacon) {
      try {
        if (nav.sendBeacon(url, text)) return true;
      } catch (refused) {
        // an invalid URL or a closed context: fetch will refuse it too
      }
    }
    if (typeof root.fetch !== "function") return false;
    var size = byteLength(text);
    if (size > KEEPALIVE_QUOTA_BYTES && typeof root.CompressionStream === "function") {
      gzip(text)
        .then(function (compressed) {
          // keepalive shares sendBeacon's quota: once sendBeacon has refused, only a plain fetch gets through
          return post(url, compressed, GZIP_HEADERS, !hasBeacon && compressed.byteLength <= KEEPALIVE_QUOTA_BYTES);
        })
        .catch(function () {
          post(url, text, TEXT_HEADERS, false); // compression failed: send the text as it is
        });
      return true;
    }
    try {
      post(url, text, TEXT_HEADERS, !hasBeacon && size <= KEEPALIVE_QUOTA_BYTES);
      return true;
    } catch (refused) {
      return false;
    }
  }

  function post(url, body, headers, keepalive) {
    return root
      .fetch(url, { method: "POST", body: body, headers: headers, credentials: "omit", keepalive: keepalive })
      .catch(function () {
        // a network failure after queueing: nothing a page could do about it now
      });
  }

  /** The UTF-8 bytes of text, gzipped (a promise of a Uint8Array). */
  function gzip(text) {
    var compressed = new root.Blob([text]).stream().pipeThrough(new root.CompressionStream("gzip"));
    return new root.Response(compressed).arrayBuffer().then(function (buffer) {
      return new Uint8Array(buffer);
    });
  }

  function byteLength(text) {
    return typeof root.TextEncoder === "function" ? new root.TextEncoder().encode(text).length : text.length * 3;
  }

  root.Beacon = { configure: configure, charge: charge, charges: charges };
})(typeof globalThis !== "undefined" ? globalThis : this);

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
 * Each call returns true when the browser queued the request, false when it refused to.
 *
 * The body is a JSON *string* sent as text/plain with the public key in it (api_key): a "simple"
 * cross-origin request that needs no CORS preflight. navigator.sendBeacon sends it (it survives the
 * page closing); where sendBeacon is missing, a keepalive fetch sends it (as long-lived, within the
 * same 64 KiB); where sendBeacon refuses the payload (over its quota), a plain fetch. Never a Blob
 * typed application/json: Chromium sends such a beacon with credentials after a preflight, which an
 * API answering CORS with a wildcard origin refuses, and the charge is silently lost.
 *
 * The tag checks nothing the API checks: the API answers bad input with a 400 naming the field.
 * No dependencies, no build step. Plain ES2017, valid both as a classic script and as a module.
 */
(function (root) {
  "use strict";

  var KEEPALIVE_QUOTA_BYTES = 65536; // what browsers allow in flight for sendBeacon and keepalive fetch together
  var settings = { url: "", key: "" };

  /** Set the API's base URL (no trailing path) and the public key (pk_...) used by every call. */
  function configure(options) {
    settings.url = String(options.url || "").replace(/\/+$/, "");
    settings.key = String(options.key || "");
    return { url: settings.url, key: settings.key };
  }

  /** Record one charge: {user_id, email, amount, created_at, update_session}. True if queued. */
  function charge(fields) {
    return send("/charges", fields);
  }

  /** Record a bulk: {user_id, email, charges: [{amount, created_at, update_session}, ...]}. True if queued. */
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
    try {
      root.fetch(url, {
        method: "POST",
        body: text,
        headers: { "Content-Type": "text/plain;charset=UTF-8" },
        credentials: "omit",
        // keepalive shares sendBeacon's quota: once sendBeacon has refused, only a plain fetch gets through
        keepalive: !hasBeacon && byteLength(text) <= KEEPALIVE_QUOTA_BYTES,
      }).catch(function () {
        // a network failure after queueing: nothing a page could do about it now
      });
      return true;
    } catch (refused) {
      return false;
    }
  }

  function byteLength(text) {
    return typeof root.TextEncoder === "function" ? new root.TextEncoder().encode(text).length : text.length * 3;
  }

  root.Beacon = { configure: configure, charge: charge, charges: charges };
})(typeof globalThis !== "undefined" ? globalThis : this);

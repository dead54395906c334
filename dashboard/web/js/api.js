// The JSON API with the session's bearer token. Errors carry the HTTP
// status, the field the server named, and its stable code and params:
// the message is said in the user's language by the code (words.js), the
// server's English text kept as detail.

import { errorWords } from "./words.js";

let token = "";

export function setToken(t) { token = t; }
export function getToken() { return token; }

export class APIError extends Error {
  constructor(message, status, field, code, params, retryAfter) {
    super(code ? errorWords({ code, params, message }) : message);
    this.detail = message;
    this.status = status;
    this.field = field || "";
    this.code = code || "";
    this.params = params || {};
    this.retryAfter = retryAfter || 0; // seconds, from a 429's Retry-After
  }
  // missing: the server has no such endpoint (yet): an older or partial
  // build. Views use it to say so instead of failing.
  get missing() { return this.status === 404 && (this.code === "no_endpoint" || /no such endpoint/.test(this.detail)); }
}

export async function api(method, path, body) {
  const opts = { method, headers: { Authorization: "Bearer " + token } };
  if (body instanceof FormData) {
    opts.body = body;
  } else if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, opts);
  } catch (e) {
    throw new APIError(e.message || "network error", 0);
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (_) { data = text; }
  }
  if (!resp.ok) {
    const msg = (data && data.error) || resp.statusText || "HTTP " + resp.status;
    throw new APIError(msg, resp.status, data && data.field, data && data.code, data && data.params,
      Number(resp.headers.get("Retry-After")) || 0);
  }
  return data;
}

// download fetches a file with the token and hands it to the browser.
export async function download(path, filename) {
  const resp = await fetch(path, { headers: { Authorization: "Bearer " + token } });
  if (!resp.ok) {
    let msg = resp.statusText, data = null;
    try { data = await resp.json(); msg = data.error || msg; } catch (_) { /* not JSON */ }
    throw new APIError(msg, resp.status, data && data.field, data && data.code, data && data.params);
  }
  const url = URL.createObjectURL(await resp.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export const enc = encodeURIComponent;

// latest() makes ask(promise), which passes on the answer (or error) of
// the newest promise it was given only: an older one's never settles, so
// the code awaiting it stops there (no catch, no finally). An answer that
// lands after a newer request, or after ask.drop() (the view is gone, or
// something newer was shown), cannot overwrite what is on the screen.
export function latest() {
  let n = 0;
  const ask = (p) => {
    const mine = ++n;
    return new Promise((ok, fail) => p.then((v) => { if (mine === n) ok(v); }, (e) => { if (mine === n) fail(e); }));
  };
  ask.drop = () => { n++; };
  return ask;
}

// The QR codes of a site for operators: each device and public place has
// a code that opens the phone report page with the place filled in; the
// sheet prints them (PNG or PDF) to stick on site.

import { h, options } from "./dom.js";
import { getLang } from "./i18n.js";
import { api, download, enc, getToken, latest } from "./api.js";

const WORDS = {
  en: {
    title: "QR codes", site: "Site", show: "Show", png: "Download sheet (PNG)", pdf: "Download sheet (PDF)",
    what: "Device or place", kind: "Kind", place: "Place", link: "Link", preview: "Sheet preview",
    intro: "Stick each code at its device or place. Scanning it opens a report page with the place filled in; anyone may report there without an account, a few reports per code an hour.",
    none: "No devices or places in this site.", off: "QR codes are off on this server (qr.secret).", failed: "Not done: {e}",
    placeOnly: "public place",
  },
  "zh-CN": {
    title: "二维码", site: "项目", show: "显示", png: "下载整页（PNG）", pdf: "下载整页（PDF）",
    what: "设备或位置", kind: "类型", place: "位置", link: "链接", preview: "整页预览",
    intro: "把二维码贴在对应的设备或位置。扫码即打开已填好位置的报修页面；无需注册即可报修，每个二维码每小时可报修数次。",
    none: "此项目没有设备或位置。", off: "此服务器未开启二维码（qr.secret）。", failed: "未完成：{e}",
    placeOnly: "公共区域",
  },
};

function w(key, vars) {
  let out = (WORDS[getLang()] || WORDS.en)[key] || WORDS.en[key] || key;
  for (const [k, v] of Object.entries(vars || {})) out = out.split("{" + k + "}").join(String(v));
  return out;
}

export function mount(root) {
  const site = h("select", { id: "codes-site", name: "site" });
  const status = h("p", { id: "codes-status", role: "status" });
  const list = h("div", { id: "codes-list" });
  const preview = h("div", { id: "codes-preview" });
  const pngBtn = h("button", { type: "button", id: "codes-png", text: w("png"), onclick: () => sheet("png") });
  const pdfBtn = h("button", { type: "button", id: "codes-pdf", text: w("pdf"), onclick: () => sheet("pdf") });
  root.replaceChildren(h("section", { class: "card codes" },
    h("h2", { text: w("title") }), h("p", { class: "hint", text: w("intro") }),
    h("label", {}, w("site") + " ", site), h("div", { class: "codes-actions" }, pngBtn, pdfBtn),
    status, list, h("h3", { text: w("preview") }), preview));
  let gone = false;
  site.addEventListener("change", show);
  start();

  async function start() {
    try {
      const data = await api("GET", "/api/devices");
      const sites = [...new Set((data.devices || []).map((d) => d.site).filter(Boolean))].sort();
      options(site, sites.map((s) => [s, s]));
      if (sites.length) await show();
    } catch (e) {
      status.textContent = w("failed", { e: e.message });
    }
  }

  // Only the newest site picked is shown: an earlier pick's answer
  // landing last would show another site's codes.
  const newest = latest();
  async function show() {
    status.textContent = "";
    list.replaceChildren();
    preview.replaceChildren();
    const at = site.value;
    try {
      const [data, sheetURL] = await newest((async () => [await api("GET", "/api/sites/" + enc(at) + "/codes"), await sheetPreview(at)])());
      if (gone) return;
      const rows = (data.codes || []).map((c) => h("tr", {},
        h("td", { text: c.device || w("placeOnly") }), h("td", { text: c.kind || "" }),
        h("td", { text: [c.building, c.floor, c.location].filter(Boolean).join(" / ") }),
        h("td", {}, h("a", { href: c.url, class: "code-link", target: "_blank", rel: "noopener", text: w("link") }))));
      list.replaceChildren(h("table", { class: "codes-table" },
        h("thead", {}, h("tr", {}, ...[w("what"), w("kind"), w("place"), w("link")].map((x) => h("th", { text: x })))),
        h("tbody", {}, ...rows)));
      if (sheetURL) preview.replaceChildren(h("img", { id: "codes-sheet", src: sheetURL, alt: w("preview"), class: "codes-sheet" }));
    } catch (e) {
      status.textContent = e.status === 503 ? w("off") : e.status === 404 ? w("none") : w("failed", { e: e.message });
    }
  }

  // sheetPreview reads the PNG sheet as a data: URL (the page's policy
  // takes images from the server or data: only); "" when there is none.
  async function sheetPreview(at) {
    try {
      const resp = await fetch("/api/sites/" + enc(at) + "/codes/sheet?format=png", { headers: { Authorization: "Bearer " + getToken() } });
      if (!resp.ok) return "";
      const blob = await resp.blob();
      return await new Promise((ok) => { const r = new FileReader(); r.onload = () => ok(r.result); r.onerror = () => ok(""); r.readAsDataURL(blob); });
    } catch (_) {
      return ""; // the list shows without it
    }
  }

  async function sheet(format) {
    status.textContent = "";
    try {
      await download("/api/sites/" + enc(site.value) + "/codes/sheet?format=" + format, "qr-codes-" + site.value + "." + format);
    } catch (e) {
      status.textContent = w("failed", { e: e.message });
    }
  }
  return () => { gone = true; newest.drop(); };
}

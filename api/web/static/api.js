// Shared by both pages: JSON calls with the login retry, safe rendering, the font switch.

const dialog = () => document.getElementById("login");

// Ask for the key in a dialog, post it to /v1/login (the server sets an HttpOnly cookie).
// The key is never kept in a URL, localStorage or a variable beyond this call.
// Several calls may get a 401 at once (the page loads places, changes …): they share one login.
let pending = null;
function login() {
  if (pending) return pending;
  pending = new Promise((resolve) => {
    const d = dialog();
    const form = document.getElementById("login-form");
    const input = document.getElementById("login-key");
    const error = document.getElementById("login-error");
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const r = await fetch("/v1/login", {method: "POST", headers: {"content-type": "application/json"},
        body: JSON.stringify({key: input.value}), credentials: "same-origin"});
      input.value = "";
      if (r.ok) { d.close(); pending = null; resolve(); return; }
      error.textContent = (await r.json().catch(() => ({}))).detail || "登录失败";
    };
    if (!d.open) d.showModal();
    input.focus();
  });
  return pending;
}

export async function api(path, options = {}) {
  const opts = {credentials: "same-origin", ...options};
  if (opts.json !== undefined) {
    opts.method = opts.method || "POST";
    opts.headers = {"content-type": "application/json", ...(opts.headers || {})};
    opts.body = JSON.stringify(opts.json);
    delete opts.json;
  }
  let r = await fetch(path, opts);
  if (r.status === 401) { await login(); r = await fetch(path, opts); }
  const body = await r.json().catch(() => ({detail: `服务返回 ${r.status}`}));
  if (!r.ok) throw Object.assign(new Error(body.detail || `服务返回 ${r.status}`), {status: r.status, body});
  return body;
}

export function escapeHtml(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

// Escape everything, then let only the <mark> tags of search snippets through.
export function marked(s) {
  return escapeHtml(s).replace(/&lt;(\/?)mark&gt;/g, "<$1mark>");
}

export function el(tag, attrs = {}, html = "") {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.innerHTML = html;
  return e;
}

export function setupCommon() {
  const big = document.getElementById("bigfont");
  const apply = () => document.body.classList.toggle("big", sessionStorage.getItem("bigfont") === "1");
  big.addEventListener("click", () => {
    sessionStorage.setItem("bigfont", sessionStorage.getItem("bigfont") === "1" ? "0" : "1");
    apply();
  });
  apply();
}

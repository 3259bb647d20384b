// The agent console: type (or follow the call), read the grounded reply, copy it, rate it.
import {api, el, escapeHtml, marked, setupCommon} from "./api.js";

const $ = (id) => document.getElementById(id);
const today = new Date().toISOString().slice(0, 10);
const S = {kb: $("kb").value, version: "", places: [], seq: 0, reply: null, question: "", ws: null, timer: null};
window.__timings = {keyToPaint: [], fragmentToPaint: []};
const CHANGES_SHOWN = 12;

function status(text) { $("status").textContent = text; }

async function loadKb() {
  S.kb = $("kb").value;
  const [places, health, changes] = await Promise.all([
    api(`/v1/places?kb=${encodeURIComponent(S.kb)}`), api("/healthz"),
    api(`/v1/changes?kb=${encodeURIComponent(S.kb)}&limit=${CHANGES_SHOWN}`)]);
  S.places = places.districts;
  S.version = health.kbs?.[S.kb]?.version || "";
  const d = $("district");
  d.replaceChildren(el("option", {value: ""}, "区（自动识别）"),
    ...S.places.map((p) => el("option", {value: p.name}, escapeHtml(p.name))));
  fillStreets("");
  renderChanges(changes);
}

function fillStreets(district, chosen = "") {
  const p = S.places.find((x) => x.name === district);
  $("street").replaceChildren(el("option", {value: ""}, "街道"),
    ...(p ? p.streets : []).map((s) => el("option", {value: s}, escapeHtml(s))));
  $("street").value = chosen;
}

function setPlace(district, street) {
  if (district && $("district").value !== district) { $("district").value = district; fillStreets(district, street || ""); }
  else if (street && $("street").value !== street) $("street").value = street;
}

// Revision times are UTC; agents read Beijing time. A policy coming into force has only a date.
function when(c) {
  const opts = {timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit"};
  if (c.kind !== "生效") Object.assign(opts, {hour: "2-digit", minute: "2-digit", hour12: false});
  return new Date(c.time).toLocaleString("zh-CN", opts);
}

function renderChanges(body) {
  const box = $("changes");
  if (!body.changes.length) { box.innerHTML = `<b>今日变更</b> 近 ${body.days} 天无变更`; return; }
  box.innerHTML = `<b>今日变更</b>（近 ${body.days} 天 ${body.count} 项）` + body.changes.map((c) =>
    `<span class="chg" data-id="${escapeHtml(c.id)}" title="${escapeHtml(`${c.title}（${c.by}）`)}">${escapeHtml(when(c))} ` +
    `<b>${escapeHtml(c.kind)}</b> ${escapeHtml(c.title)}${c.change === c.kind ? "" : `：${escapeHtml(c.change)}`}` +
    `${c.successor ? `（已由 ${escapeHtml(c.successor)} 替代）` : ""} <i>${escapeHtml(c.by)}</i></span>`).join("") +
    (body.more ? `<span class="more">还有 ${body.more} 项</span>` : "");
}

function feedbackButtons(target, ids) {
  return `<span class="fb" data-target="${target}" data-ids="${escapeHtml(JSON.stringify(ids))}">` +
    `<button type="button" data-rating="useful">有用</button><button type="button" data-rating="useless">没用</button>` +
    `<button type="button" data-rating="wrong">有误</button><input class="note" placeholder="备注（可选）" aria-label="备注"></span>`;
}

document.addEventListener("click", async (ev) => {
  const b = ev.target.closest(".fb button");
  if (!b) return;
  const box = b.closest(".fb");
  try {
    await api("/v1/feedback", {json: {kb: S.kb, target: box.dataset.target, ids: JSON.parse(box.dataset.ids),
      rating: b.dataset.rating, note: box.querySelector(".note").value || null, question: S.question || "（跟随通话）",
      kb_version: S.version}});
    box.innerHTML = `<span class="ok">已记录：${escapeHtml(b.textContent)}</span>`;
  } catch (e) { status(e.message); }
});

function policyState(c) {
  if (c.status && c.status !== "有效") return `<span class="bad">${escapeHtml(c.status)}</span>` +
    (c.successor ? ` 已由 ${escapeHtml(c.successor)} 替代` : "");
  if (c.effective && c.effective > today) return `<span class="bad">尚未生效（${escapeHtml(c.effective)} 起施行）</span>`;
  return `<span class="okst">现行有效</span>`;
}

function renderReply(r, question) {
  S.reply = r;
  const refs = r.escalate ? (r.references || []) : (r.basis || []).filter((b) => b.type !== "answer");
  const banner = r.escalate ? `<div class="escalate" role="alert"><b>需登记转办</b>：${escapeHtml(r.escalate_reason)}` +
    (r.contacts?.length ? `<br>可转：${r.contacts.map((c) => escapeHtml(`${c.unit} ${c.phone}`)).join("；")}` : "") +
    (refs.length ? `<br>参考（请核实，不要照读）：${refs.map((b) => escapeHtml(b.title + (b.article ? " " + b.article : ""))).join("；")}` : "") + "</div>" : "";
  const follow = r.follow_up?.length ? `<div class="follow"><b>追问</b><ul>${r.follow_up.map((f) => `<li>${escapeHtml(f)}</li>`).join("")}</ul></div>` : "";
  $("reply").innerHTML = banner + `<p id="reply-text" class="reply-text">${escapeHtml(r.reply).replace(/\n/g, "<br>")}</p>` + follow +
    (r.confidence !== undefined ? `<p class="meta">置信度 ${Number(r.confidence).toFixed(2)}</p>` : "") +
    feedbackButtons("reply", (r.basis || []).map((b) => b.id));
}

function renderAnswers(items) {
  $("answers").replaceChildren(...items.map((a) => el("li", {class: "item", "data-id": a.id, tabindex: "-1"},
    `<div class="t">${marked(a.title)}</div><div class="x">${marked(a.snippet ?? a.text)}</div>` + feedbackButtons("result", [a.id]))));
}

function renderClauses(items) {
  $("clauses").replaceChildren(...items.map((c) => el("li", {class: "item clause", "data-id": c.id, tabindex: "-1"},
    `<div class="t">${escapeHtml(c.title)} ${escapeHtml(c.article)}</div>` +
    `<div class="meta">${escapeHtml(c.doc_no || "")} · 施行 ${escapeHtml(c.effective || c.extra?.effective || "—")} · ${policyState(c)}</div>` +
    `<div class="x">${marked(c.snippet)}</div><details><summary>条文全文</summary><div class="full">${escapeHtml(c.text || c.snippet.replace(/<\/?mark>/g, ""))}</div></details>` +
    feedbackButtons("result", [c.id]))));
}

// The clauses the reply rests on lead (with the search's marked snippet when it has one), then the rest.
function citedFirst(reply, results) {
  const byId = Object.fromEntries(results.map((r) => [r.id, r]));
  const cited = (reply.basis || []).filter((b) => b.type === "policy").map((b) => byId[b.id] ||
    {id: b.id, title: b.title, doc_no: b.doc_no, article: b.article, effective: b.effective, status: "有效", snippet: b.excerpt, text: b.excerpt});
  const ids = new Set(cited.map((c) => c.id));
  return cited.concat(results.filter((r) => !ids.has(r.id))).slice(0, 4);
}

function renderContacts(items) {
  $("contacts").replaceChildren(...items.map((c) => el("li", {class: "item contact", "data-id": c.id},
    `<div class="t">${escapeHtml(c.unit)}</div><div class="phone">${escapeHtml(c.phone)}</div>` +
    `<div class="x">${escapeHtml(c.address || "")}<br>${escapeHtml(c.hours || "")}</div>`)));
  if (!items.length) $("contacts").innerHTML = `<li class="hint">请选择来电人所在区、街道</li>`;
}

async function loadContacts(topics) {
  const d = $("district").value, s = $("street").value;
  $("place").textContent = [d, s].filter(Boolean).join(" · ");
  const base = `/v1/contacts?kb=${encodeURIComponent(S.kb)}`;
  const topic = topics?.[0] ? `&topic=${encodeURIComponent(topics[0])}` : "";
  let found = [];
  if (s) found = (await api(`${base}&street=${encodeURIComponent(s)}${d ? `&district=${encodeURIComponent(d)}` : ""}`)).contacts;
  if (d) found = found.concat((await api(`${base}&district=${encodeURIComponent(d)}${topic}`)).contacts);
  if (!found.length && S.reply?.contacts?.length) found = S.reply.contacts;
  renderContacts(found.slice(0, 6));
}

async function run(question, keyAt) {
  question = question.trim();
  if (!question) return;
  const seq = ++S.seq;
  S.question = question;
  status("查询中…");
  const place = {district: $("district").value || null, street: $("street").value || null};
  const search = (libraries) => api("/v1/search", {json: {query: question, kb: S.kb, top_k: 3, libraries, district: place.district}});
  try {
    const [reply, answers, clauses] = await Promise.all([
      api("/v1/reply", {json: {question, kb: S.kb, ...place}}), search(["answer"]), search(["policy"])]);
    if (seq !== S.seq) return;
    setPlace(reply.district, reply.street);
    renderReply(reply, question);
    renderAnswers(answers.results);
    renderClauses(citedFirst(reply, clauses.results));
    const topics = (reply.basis || []).find((b) => b.type === "answer")?.topics || answers.results[0]?.topics;
    await loadContacts(topics);
    S.topics = topics;
    status(`已更新（${Math.round(reply.took_ms)} ms）`);
    requestAnimationFrame(() => { if (keyAt) window.__timings.keyToPaint.push(performance.now() - keyAt); document.body.dataset.painted = String(seq); });
  } catch (e) { if (seq === S.seq) status(e.message); }
}

function items() { return [...document.querySelectorAll("#answers .item, #clauses .item")]; }
function move(delta) {
  const all = items();
  if (!all.length) return;
  const i = all.findIndex((x) => x.classList.contains("sel"));
  all.forEach((x) => x.classList.remove("sel"));
  const next = all[Math.max(0, Math.min(all.length - 1, i + delta))];
  next.classList.add("sel");
  next.scrollIntoView({block: "nearest"});
}

async function copyReply() {
  const text = S.reply?.reply || S.reply?.text;
  if (!text) return;
  try { await navigator.clipboard.writeText(text); }
  catch { const t = el("textarea"); t.value = text; document.body.append(t); t.select(); document.execCommand("copy"); t.remove(); }
  status("已复制建议答复");
}

function clearCall() {
  $("q").value = ""; S.question = ""; S.reply = null; S.seq++;
  $("district").value = ""; fillStreets("");
  $("reply").innerHTML = `<p class="hint">输入问题后显示可直接念给来电人的答复。</p>`;
  for (const id of ["answers", "clauses", "contacts", "live"]) $(id).replaceChildren();
  $("place").textContent = ""; $("risk").hidden = true;
  if (S.ws?.readyState === 1) S.ws.send(JSON.stringify({type: "reset"}));
  status("已清空，等待新来电");
  $("q").focus();
}

// ---- following the call ----
function openSocket() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  S.ws = new WebSocket(`${proto}://${location.host}/v1/assist/stream?kb=${encodeURIComponent(S.kb)}`);
  S.ws.onmessage = (ev) => onSuggestion(JSON.parse(ev.data));
  return new Promise((resolve) => { S.ws.onopen = resolve; });
}

function onSuggestion(m) {
  if (m.type === "error") { $("follow-state").textContent = m.detail; return; }
  if (m.type !== "suggestions") return;
  const sentAt = S.sent?.[m.fragment];
  $("follow-state").textContent = `第 ${m.fragment} 段话语后更新 · 主题 ${m.topic || "—"} · ${m.took_ms} ms`;
  $("live").innerHTML = `<b>来电人的问题</b>：${m.questions.map(escapeHtml).join(" / ") || "—"}`;
  const risk = $("risk");
  risk.hidden = m.risk.level === "none";
  risk.className = `risk ${m.risk.level}`;
  risk.innerHTML = `风险提示：${m.risk.signals.map((s) => escapeHtml(`${s.name}（${s.phrase}）`)).join("、")}`;
  setPlace(m.district, m.street);
  S.question = m.query;
  if (m.reply) renderReply({reply: m.reply.text, escalate: m.reply.escalate, escalate_reason: m.reply.escalate_reason,
    follow_up: m.reply.follow_up, confidence: m.reply.confidence, contacts: m.contact ? [m.contact] : [],
    basis: [m.answer, m.clause].filter(Boolean).map((x) => ({id: x.id, title: x.title, type: "x"}))}, m.query);
  renderAnswers(m.answer ? [{...m.answer, snippet: m.answer.text}] : []);
  renderClauses(m.clauses);
  S.topics = m.topic ? [m.topic] : null;
  if (m.contact) renderContacts([m.contact]); else loadContacts(S.topics).catch((e) => status(e.message));
  requestAnimationFrame(() => {
    if (sentAt) window.__timings.fragmentToPaint.push(performance.now() - sentAt);
    document.body.dataset.suggested = String(m.seq);
  });
}

async function replay(file) {
  const lines = (await file.text()).split(/\r?\n/).filter((l) => l.trim());
  const utterances = lines.map((l) => { try { return JSON.parse(l); } catch { return null; } })
    .filter((u) => u && u.type === "utterance");
  if (!S.ws || S.ws.readyState !== 1) await openSocket();
  S.ws.send(JSON.stringify({type: "reset"}));
  S.sent = {};
  $("follow-state").textContent = `回放 ${file.name}（${utterances.length} 段）…`;
  let prev = utterances[0]?.t || 0, n = 0;
  for (const u of utterances) {
    await new Promise((r) => setTimeout(r, Math.max(60, Math.min(600, (u.t - prev) * 250))));
    prev = u.t; n += 1;
    S.sent[n] = performance.now();
    S.ws.send(JSON.stringify(u));
  }
  document.body.dataset.replayed = file.name;
}

// ---- wiring ----
setupCommon();
$("q").focus();
loadKb().catch((e) => status(e.message));
$("kb").addEventListener("change", () => { clearCall(); loadKb(); });
$("q").addEventListener("input", (ev) => {
  clearTimeout(S.timer);
  const at = performance.now();
  S.timer = setTimeout(() => run($("q").value, at), 250);
});
// A new district or street changes which office the reply names: ask the reply again, not only the contacts.
function placeChanged() { if (S.question) run(S.question, 0); else loadContacts(S.topics).catch((e) => status(e.message)); }
$("district").addEventListener("change", () => { fillStreets($("district").value); placeChanged(); });
$("street").addEventListener("change", placeChanged);
$("newcall").addEventListener("click", clearCall);
$("copy").addEventListener("click", copyReply);
$("follow").addEventListener("click", async () => {
  const on = $("followbar").hidden;
  $("followbar").hidden = !on;
  $("follow").setAttribute("aria-pressed", String(on));
  if (on && !S.ws) await openSocket();
});
$("transcript").addEventListener("change", (ev) => { if (ev.target.files[0]) replay(ev.target.files[0]); });
document.addEventListener("keydown", (ev) => {
  if ((ev.ctrlKey && ev.key === "Enter") || (ev.altKey && ev.key.toLowerCase() === "c")) { ev.preventDefault(); copyReply(); return; }
  if (ev.key === "Escape") { ev.preventDefault(); clearCall(); return; }
  if (ev.target.classList?.contains("note")) return;
  if (ev.key === "ArrowDown") { ev.preventDefault(); move(1); }
  else if (ev.key === "ArrowUp") { ev.preventDefault(); move(-1); }
  else if (ev.key === "Enter") {
    const sel = document.querySelector(".item.sel details");
    if (sel && document.activeElement !== $("q")) sel.open = !sel.open;
    else if (ev.target === $("q")) { clearTimeout(S.timer); run($("q").value, performance.now()); }
  }
});

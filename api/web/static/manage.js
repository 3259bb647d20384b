// The manager's pages (/manage …): records, edit form + history, upload with dry run, check report, audit, lifecycle.
// Everything goes through the JSON API; this file only shapes form input and renders answers.
import {api, escapeHtml, setupCommon} from "./api.js";
import {clearErrors, collect, placeErrors, renderFields} from "./recordform.js";

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;
const params = new URLSearchParams(location.search);
const LIBRARIES = {policy: "政策库", answer: "标准化工作库", contact: "政务联络库", problem: "行业问题清单库"};
const ACTIONS = {create: "新建", update: "修改", retire: "停用", restore: "恢复", ingest: "文件导入", import: "导入交接包",
  publish: "发布索引", rollback: "回滚索引", export: "导出", guard_revert: "金标准回退", draft_edit: "修改草稿",
  draft_reject: "驳回草稿"};
const kb = () => $("kb").value;

function status(text, bad = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("err", bad);
}

function editLink(id, text = id) {
  return `<a href="/manage/edit?kb=${enc(kb())}&id=${enc(id)}" data-id="${escapeHtml(id)}">${escapeHtml(text)}</a>`;
}

function rows(table, html, cols) {
  $(table).tBodies[0].innerHTML = html || `<tr><td colspan="${cols}" class="hint">无</td></tr>`;
}

// UTC ISO time → Beijing time, as managers read it.
function beijing(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso || "";
  return new Date(d.getTime() + 8 * 3600e3).toISOString().slice(0, 16).replace("T", " ");
}

function formQuery(form) {
  const q = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (String(v).trim()) q.set(k, String(v).trim());
  return q;
}

function fillForm(form) {
  for (const [k, v] of params) if (form.elements[k]) form.elements[k].value = v;
}

// ---- records list ---------------------------------------------------------------------------------
const PAGE_SIZE = 20;
let page = Number(params.get("page") || 1);

async function loadRecords() {
  const form = $("filters");
  const q = formQuery(form);
  q.set("page", page);
  q.set("page_size", PAGE_SIZE);
  history.replaceState(null, "", `/manage?kb=${enc(kb())}&${q}`);
  status("加载中…");
  try {
    const body = await api(`/v1/kbs/${enc(kb())}/records?${q}`);
    const pages = Math.max(1, Math.ceil(body.total / PAGE_SIZE));
    $("count").textContent = `共 ${body.total} 条记录`;
    $("pageinfo").textContent = `第 ${body.page} / ${pages} 页`;
    $("prev").disabled = page <= 1;
    $("next").disabled = page >= pages;
    rows("records", body.records.map((r) => `<tr data-id="${escapeHtml(r.id)}"><td>${editLink(r.id)}</td>` +
      `<td>${escapeHtml(LIBRARIES[r.library] || r.library)}</td><td>${escapeHtml(r.title)}</td>` +
      `<td class="${r.status === "已停用" ? "bad" : "okst"}">${escapeHtml(r.status)}</td><td class="num">${escapeHtml(r.revision)}</td>` +
      `<td>${escapeHtml(beijing(r.updated))}</td><td>${escapeHtml(r.updated_by)}</td></tr>`).join(""), 7);
    status("");
  } catch (e) { status(e.message, true); }
}

function initRecords() {
  const form = $("filters");
  form.elements.library.innerHTML += Object.entries(LIBRARIES).map(([k, v]) => `<option value="${k}">${v}</option>`).join("");
  fillForm(form);
  form.addEventListener("submit", (ev) => { ev.preventDefault(); page = 1; loadRecords(); });
  form.addEventListener("reset", () => setTimeout(() => { page = 1; loadRecords(); }));
  $("prev").addEventListener("click", () => { page -= 1; loadRecords(); });
  $("next").addEventListener("click", () => { page += 1; loadRecords(); });
  $("kb").addEventListener("change", () => { page = 1; loadRecords(); });
  return loadRecords();
}

// ---- edit form ------------------------------------------------------------------------------------
const E = {forms: {}, library: "", id: params.get("id") || "", revision: 0, current: null, history: []};

function renderFieldsHere(record) {
  renderFields($("fields"), E.forms[E.library].fields, record, {lockId: Boolean(E.id)});
}

function clearFormErrors() {
  clearErrors($("record-form"));
  $("form-error").textContent = "";
}

function showErrors(err) {
  $("form-error").textContent = placeErrors($("fields"), err);
}

function showRecord(body) {
  E.current = body;
  E.revision = body.revision;
  E.library = body.library;
  $("edit-title").textContent = `${LIBRARIES[body.library]} · ${body.title}`;
  $("edit-meta").textContent = `编号 ${body.id} · 第 ${body.revision} 版 · ${body.status} · ${beijing(body.updated)} ${body.updated_by}`;
  document.body.dataset.revision = body.revision;
  $("retire-form").hidden = body.status === "已停用";
  renderFieldsHere(body.record);
}

async function loadRecord() {
  showRecord(await api(`/v1/kbs/${enc(kb())}/records/${enc(E.id)}`));
  await loadHistory();
}

function savedText(body) {
  const where = body.indexed ? `已进入检索（索引版本 ${body.index_version}）` : `已保存但尚未进入检索：${body.index_error || "正在重建索引"}`;
  return `已保存第 ${body.revision} 版，${where}`;
}

async function save(overwriteFrom = null) {
  clearFormErrors();
  const record = collect($("fields"), E.forms[E.library].fields, E.current?.record, !E.id);
  const reason = $("reason").value.trim();
  $("save").disabled = true;
  status("保存中…");
  try {
    let body;
    if (E.id) {
      const base = overwriteFrom ?? E.revision;
      body = await api(`/v1/kbs/${enc(kb())}/records/${enc(E.id)}`, {method: "PUT", json: {record, reason},
        headers: {"If-Match": `"${base}"`}});
    } else {
      body = await api(`/v1/kbs/${enc(kb())}/records`, {json: {library: E.library, record, reason}});
      E.id = body.id;
      history.replaceState(null, "", `/manage/edit?kb=${enc(kb())}&id=${enc(body.id)}`);
      $("new-library").hidden = true;
      document.querySelector(".mnav a[aria-current]")?.removeAttribute("aria-current");
    }
    $("stale").hidden = true;
    showRecord(body);
    $("saved").textContent = savedText(body);
    $("reason").value = "";
    await loadHistory();
    status("");
  } catch (e) {
    status("未保存", true);
    if (e.status === 409 && E.id) showStale(e);
    else if (e.status === 422) showErrors(e);
    else $("form-error").textContent = e.message;
  } finally { $("save").disabled = false; }
}

// Someone else saved meanwhile: say so, keep every field as the user typed it, let them choose.
async function showStale(err) {
  $("stale-text").textContent = `${err.message} 您填写的内容仍保留在下方表单中，尚未保存。`;
  $("stale").hidden = false;
  try {
    const latest = await api(`/v1/kbs/${enc(kb())}/records/${enc(E.id)}`);
    $("stale").dataset.latest = latest.revision;
    $("stale-text").textContent += `（最新为第 ${latest.revision} 版，${latest.updated_by} 于 ${beijing(latest.updated)} 修改）`;
  } catch (e) { /* the message above still stands */ }
}

async function loadHistory() {
  if (!E.id) return;
  const body = await api(`/v1/kbs/${enc(kb())}/records/${enc(E.id)}/history`);
  E.history = body.revisions;
  const last = E.history.length;
  rows("revisions", E.history.slice().reverse().map((h) => {
    const labels = Object.fromEntries(E.forms[E.library].fields.map((f) => [f.name, short(f.label)]));
    const diff = h.diff.map((d) => labels[d.field] || d.field).join("、");
    const restore = h.revision === E.revision ? `<span class="meta">当前版本</span>`
      : `<button type="button" class="small restore" data-rev="${h.revision}">恢复此版本</button>`;
    return `<tr data-rev="${h.revision}"><td><input type="checkbox" class="pick" value="${h.revision}"` +
      `${h.revision >= last - 1 ? " checked" : ""} aria-label="对比第 ${h.revision} 版"></td><td class="num">${h.revision}</td>` +
      `<td>${escapeHtml(beijing(h.time))}</td><td>${escapeHtml(h.author)}</td><td>${escapeHtml(ACTIONS[h.action] || h.action)}</td>` +
      `<td>${escapeHtml(h.reason)}</td><td>${escapeHtml(diff)}</td><td>${restore}</td></tr>`;
  }).join(""), 8);
  $("history").hidden = false;
}

function shown(v) {
  if (v === undefined || v === null || v === "") return "";
  if (Array.isArray(v)) return v.map((x) => typeof x === "object" ? [x.doc, x.article].filter(Boolean).join("#") : x).join("\n");
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

const short = (label) => label.replace(/（.*）$/, "");

// The changed stretch of two texts (what lies between their common start and common end), marked on both sides:
// an edit usually changes one phrase of a long answer, and this shows which.
function marks(x, y) {
  let start = 0;
  while (start < x.length && start < y.length && x[start] === y[start]) start += 1;
  let end = 0;
  while (end < x.length - start && end < y.length - start && x[x.length - 1 - end] === y[y.length - 1 - end]) end += 1;
  const cut = (t, tag) => escapeHtml(t.slice(0, start)) + (t.length - end > start ? `<${tag}>${escapeHtml(t.slice(start, t.length - end))}</${tag}>` : "") +
    escapeHtml(t.slice(t.length - end));
  return [cut(x, "del"), cut(y, "ins")];
}

async function compare() {
  const picked = [...document.querySelectorAll(".pick:checked")].map((c) => Number(c.value)).sort((a, b) => a - b);
  if (picked.length !== 2) { status("请勾选两个版本进行对比", true); return; }
  const [a, b] = await Promise.all(picked.map((r) => api(`/v1/kbs/${enc(kb())}/records/${enc(E.id)}/revisions/${r}`)));
  const labels = Object.fromEntries(E.forms[E.library].fields.map((f) => [f.name, f.label]));
  const names = [...new Set([...Object.keys(labels), ...Object.keys(a.record), ...Object.keys(b.record)])];
  const body = names.filter((n) => n in a.record || n in b.record).map((n) => {
    const [x, y] = [shown(a.record[n]), shown(b.record[n])];
    const [old, now] = x === y ? [escapeHtml(x), escapeHtml(y)] : marks(x, y);
    return `<tr class="${x === y ? "same" : "changed"}" data-field="${escapeHtml(n)}"><th>${escapeHtml(short(labels[n] || n))}</th>` +
      `<td class="old">${old}</td><td class="new">${now}</td></tr>`;
  }).join("");
  const head = (r) => `第 ${r.revision} 版 · ${escapeHtml(beijing(r.time))} · ${escapeHtml(r.author)}${r.reason ? ` · ${escapeHtml(r.reason)}` : ""}`;
  $("diff").innerHTML = `<table><thead><tr><th>字段</th><th>${head(a)}</th><th>${head(b)}</th></tr></thead><tbody>${body}</tbody></table>`;
  $("diff").hidden = false;
  status("");
}

async function restore(revision) {
  const reason = prompt(`恢复到第 ${revision} 版的原因`, `恢复第 ${revision} 版`);
  if (reason === null) return;
  try {
    const body = await api(`/v1/kbs/${enc(kb())}/records/${enc(E.id)}/restore`, {json: {revision, reason},
      headers: {"If-Match": `"${E.revision}"`}});
    showRecord(body);
    $("saved").textContent = `已恢复第 ${revision} 版内容（新版本 ${body.revision}）；` + savedText(body);
    await loadHistory();
  } catch (e) { status(e.message, true); }
}

async function retire(ev) {
  ev.preventDefault();
  const reason = $("retire-reason").value.trim();
  if (!reason) { status("停用必须填写原因", true); return; }
  try {
    const body = await api(`/v1/kbs/${enc(kb())}/records/${enc(E.id)}?reason=${enc(reason)}`, {method: "DELETE",
      headers: {"If-Match": `"${E.revision}"`}});
    showRecord(body);
    $("saved").textContent = `已停用（第 ${body.revision} 版）`;
    await loadHistory();
  } catch (e) { status(e.message, true); }
}

async function initEdit() {
  const body = await api("/v1/record-forms");
  for (const lib of body.libraries) E.forms[lib.library] = lib;
  $("record-form").addEventListener("submit", (ev) => { ev.preventDefault(); save(); });
  $("stale-overwrite").addEventListener("click", () => save(Number($("stale").dataset.latest)));
  $("stale-reload").addEventListener("click", async () => { $("stale").hidden = true; clearFormErrors(); await loadRecord(); });
  $("retire-form").addEventListener("submit", retire);
  $("compare").addEventListener("click", () => compare().catch((e) => status(e.message, true)));
  $("revisions").addEventListener("click", (ev) => {
    const b = ev.target.closest("button.restore");
    if (b) restore(Number(b.dataset.rev));
  });
  if (E.id) {
    try { await loadRecord(); } catch (e) { status(e.message, true); $("form-error").textContent = e.message; }
    return;
  }
  const pick = $("library");
  pick.innerHTML = body.libraries.map((l) => `<option value="${l.library}">${escapeHtml(l.name)}</option>`).join("");
  pick.value = params.get("library") || "answer";
  $("new-library").hidden = false;
  const start = () => { E.library = pick.value; $("edit-title").textContent = `新建记录 · ${LIBRARIES[E.library]}`; renderFieldsHere({}); };
  pick.addEventListener("change", start);
  start();
}

// ---- upload with dry run ------------------------------------------------------------------------------
let chosen = null;

function uploadBody() {
  const data = new FormData();
  for (const f of chosen) data.append("files", f, f.name);
  return data;
}

async function sendUpload(dryRun) {
  const lib = $("upload-library").value;
  const url = `/v1/kbs/${enc(kb())}/documents?dry_run=${dryRun}${lib ? `&library=${lib}` : ""}`;
  return api(url, {method: "POST", body: uploadBody()});
}

function showUpload(body, dryRun) {
  const nothing = body.added + body.updated === 0;
  $("preview-title").textContent = !dryRun ? "已导入" : nothing ? "预览：没有可导入的新增或更新内容" : "预览：以下内容尚未保存";
  $("preview-summary").innerHTML = `文件 ${body.files} 个：<b data-n="added">新增 ${body.added}</b> 条，<b data-n="updated">更新 ${body.updated}</b> 条，` +
    `未变 ${body.unchanged} 条，<b class="bad" data-n="rejected">拒收 ${body.rejected}</b> 条` + (dryRun ? "" : `；索引版本 ${escapeHtml(body.version)}`);
  $("preview-warnings").innerHTML = [...body.conflicts.map((c) => `冲突：${c}`), ...body.warnings].map((w) => `<li>${escapeHtml(w)}</li>`).join("");
  rejections(body.rejections);
  $("confirm").hidden = !dryRun || nothing;
  $("cancel").hidden = !dryRun;
  $("preview-result").hidden = false;
}

function rejections(list) {
  rows("rejections", list.map((r) => `<tr><td>${escapeHtml(r.file)}</td><td>${escapeHtml(r.location)}</td><td>${escapeHtml(r.record_id)}</td>` +
    `<td>${escapeHtml(r.field)}</td><td class="reason">${escapeHtml(r.reason)}</td></tr>`).join(""), 5);
}

function initUpload() {
  $("upload-library").innerHTML += Object.entries(LIBRARIES).map(([k, v]) => `<option value="${k}">${v}</option>`).join("");
  $("upload-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    chosen = [...$("files").files];
    status("预览中…");
    try { showUpload(await sendUpload(true), true); status(""); } catch (e) {
      status(e.message, true);
      $("preview-title").textContent = "无法导入";
      $("preview-summary").textContent = e.message;
      $("preview-warnings").innerHTML = "";
      rejections(e.body?.errors || []);
      $("confirm").hidden = true;
      $("preview-result").hidden = false;
    }
  });
  $("confirm").addEventListener("click", async () => {
    status("导入中…");
    try { showUpload(await sendUpload(false), false); status("导入完成"); } catch (e) { status(e.message, true); }
  });
  $("cancel").addEventListener("click", () => { $("preview-result").hidden = true; chosen = null; status("已取消，未保存任何内容"); });
}

// ---- check report -------------------------------------------------------------------------------------
const recordOf = (chunkId) => String(chunkId).split("#")[0];

async function loadCheck() {
  status("检查中…");
  try {
    const r = await api(`/v1/kbs/${enc(kb())}/check`);
    $("check-summary").textContent = `${r.today}：共发现 ${r.problems} 处问题（失效引用 ${r.stale_references.length}，金额不一致 ${r.amount_conflicts.length}，` +
      `电话不一致 ${r.phone_conflicts.length}，办公时间不一致 ${r.hours_conflicts.length}，长期未复核 ${r.unreviewed.length}）`;
    rows("stale-refs", r.stale_references.map((s) => `<tr><td>${editLink(recordOf(s.answer_id))}</td><td>${editLink(s.doc)}</td>` +
      `<td>${escapeHtml(s.article)}</td><td class="bad">${escapeHtml(s.reason)}</td></tr>`).join(""), 4);
    rows("amounts", r.amount_conflicts.map((a) => `<tr><td>${editLink(recordOf(a.answer_id))}</td><td>${editLink(recordOf(a.policy_id), a.policy_id)}</td>` +
      `<td>${escapeHtml(a.context)}</td><td>${escapeHtml(a.answer_values.join("、"))}</td><td>${escapeHtml(a.policy_values.join("、"))}</td></tr>`).join(""), 5);
    rows("phones", r.phone_conflicts.map((p) => `<tr><td>${editLink(p.contact_id, p.unit)}</td><td>${escapeHtml(p.directory_phone)}</td>` +
      `<td>${editLink(p.record_id)}</td><td class="bad">${escapeHtml(p.phone_in_record)}</td></tr>`).join(""), 4);
    rows("hours", r.hours_conflicts.map((h) => `<tr><td>${editLink(recordOf(h.answer_id))}</td><td>${escapeHtml(h.office)}</td>` +
      `<td class="bad">${escapeHtml(h.hours_in_record)}</td><td>${h.contacts.map((c) => `${editLink(c.contact_id, c.unit)}：` +
      `${escapeHtml(c.directory_hours)}`).join("<br>")}</td></tr>`).join(""), 4);
    rows("unreviewed", r.unreviewed.map((u) => `<tr><td>${editLink(u.id)}</td><td>${escapeHtml(LIBRARIES[u.library] || u.library)}</td>` +
      `<td>${escapeHtml(u.title)}</td><td>${escapeHtml(beijing(u.updated))}</td><td>${escapeHtml(u.updated_by)}</td></tr>`).join(""), 5);
    status("");
  } catch (e) { status(e.message, true); }
}

// ---- audit trail --------------------------------------------------------------------------------------
async function loadAudit() {
  const q = formQuery($("audit-filters"));
  history.replaceState(null, "", `/manage/audit?kb=${enc(kb())}&${q}`);
  q.set("limit", 500);
  try {
    const body = await api(`/v1/kbs/${enc(kb())}/audit?${q}`);
    $("audit-count").textContent = `${body.entries.length} 条${body.entries.length === 500 ? "（只显示最近 500 条，请缩小范围）" : ""}`;
    rows("audit", body.entries.map((e) => `<tr data-seq="${e.seq}"><td class="num">${e.seq}</td><td>${escapeHtml(beijing(e.time))}</td>` +
      `<td>${escapeHtml(e.actor)}</td><td>${escapeHtml(e.proposed_by || "")}</td><td>${escapeHtml(ACTIONS[e.action] || e.action)}</td>` +
      `<td>${e.record_id ? editLink(e.record_id) : ""}</td><td class="num">${escapeHtml(e.revision ?? "")}</td>` +
      `<td class="reason">${escapeHtml(e.reason)}</td></tr>`).join(""), 8);
    status("");
  } catch (e) { status(e.message, true); }
}

function initAudit() {
  const form = $("audit-filters");
  fillForm(form);
  form.addEventListener("submit", (ev) => { ev.preventDefault(); loadAudit(); });
  form.addEventListener("reset", () => setTimeout(loadAudit));
  $("kb").addEventListener("change", loadAudit);
  return loadAudit();
}

// ---- lifecycle ----------------------------------------------------------------------------------------
async function loadLifecycle() {
  const days = $("life-filters").elements.days.value || 30;
  try {
    const body = await api(`/v1/kbs/${enc(kb())}/lifecycle?days=${enc(days)}`);
    $("life-today").textContent = `今天 ${body.today}，未来 ${body.days} 天内 ${body.events.length} 项`;
    rows("events", body.events.map((e) => `<tr data-id="${escapeHtml(e.id)}"><td>${escapeHtml(e.date)}</td>` +
      `<td class="${e.event === "失效" ? "bad" : "okst"}">${escapeHtml(e.event)}</td><td class="num">${e.days_left} 天</td>` +
      `<td>${editLink(e.id, e.title)}</td><td>${escapeHtml(e.doc_no)}</td><td>${escapeHtml(e.status_today)}</td>` +
      `<td>${e.cited_by.length ? e.cited_by.map((c) => `${editLink(c.id, c.title)}${c.articles.length ? `（${escapeHtml(c.articles.join("、"))}）` : ""}`).join("<br>")
        : `<span class="hint">无标准答复引用</span>`}</td></tr>`).join(""), 7);
    status("");
  } catch (e) { status(e.message, true); }
}

function initLifecycle() {
  $("life-filters").addEventListener("submit", (ev) => { ev.preventDefault(); loadLifecycle(); });
  $("kb").addEventListener("change", loadLifecycle);
  return loadLifecycle();
}

// ---- start --------------------------------------------------------------------------------------------
const PAGES = {records: initRecords, edit: initEdit, upload: initUpload, check: initCheck, audit: initAudit, lifecycle: initLifecycle};

function initCheck() {
  $("kb").addEventListener("change", loadCheck);
  return loadCheck();
}

setupCommon();
if (params.get("kb")) $("kb").value = params.get("kb");
const name = $("manage").dataset.page;
const current = name === "edit" && params.get("id") ? null : name;  // editing a record is not 新建记录
document.querySelector(`.mnav a[data-nav="${current}"]`)?.setAttribute("aria-current", "page");
for (const a of document.querySelectorAll(".mnav a")) a.addEventListener("click", () => { a.href += `?kb=${enc(kb())}`; });
Promise.resolve(PAGES[name]()).catch((e) => status(e.message, true)).finally(() => { document.body.dataset.ready = "1"; });

// Drafts awaiting approval: each with its diff against the current record; 修改 opens the record form (the same
// fields and validator as /manage/edit) inside the card, 批准 publishes it, 驳回 needs a reason.
import {api, escapeHtml, setupCommon} from "./api.js";
import {clearErrors, collect, placeErrors, renderFields} from "./recordform.js";

const $ = (id) => document.getElementById(id);
const STATES = {pending: "待审批", approved: "已批准", rejected: "已驳回"};
let painted = 0;
let forms = null;  // library → {fields}, from /v1/record-forms, fetched with the first list
const drafts = new Map();  // id → the draft as last loaded or saved
const kb = () => $("kb").value;
const show = (v) => (v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v, null, 1));
// A field's Chinese label as the edit form shows it (the code stays in the tooltip for whoever reads the API).
const label = (library, field) =>
  (forms?.[library]?.fields.find((f) => f.name === field)?.label || field).replace(/（.*）$/, "");
const fieldCell = (library, field) => `<th title="${escapeHtml(field)}">${escapeHtml(label(library, field))}</th>`;

function card(d) {
  const base = d.base_revision === null ? "新建记录" : `基于第 ${d.base_revision} 版`;
  const stale = d.stale ? `<span class="tag stale">${d.base_revision === null ? "编号已被占用"
    : `记录已在起草后被修改（当前第 ${d.current_revision} 版）`}</span>` : "";
  const diff = d.diff.map((f) => `<tr>${fieldCell(d.library, f.field)}<td class="old">${escapeHtml(show(f.old))}</td>` +
    `<td class="new">${escapeHtml(show(f.new))}</td></tr>`).join("");
  const actions = d.status === "pending" ? `<div class="actions"><button type="button" class="edit">修改</button>
    <button type="button" class="approve">批准</button>
    <input type="text" class="reason" maxlength="500" placeholder="驳回原因（必填）" aria-label="驳回原因">
    <button type="button" class="reject">驳回</button></div>`
    : `<p class="done">${STATES[d.status]}（${escapeHtml(d.decided_by || "")}）${d.reason ? `：${escapeHtml(d.reason)}` : ""}
       ${d.published_revision ? ` · 发布为第 ${d.published_revision} 版` : ""}</p>`;
  return `<article class="rv draft" data-id="${d.id}">
  <h3>草稿 #${d.id} · ${escapeHtml(d.title)}</h3>
  <div class="meta">${stale}<span class="tag" title="${escapeHtml(d.library)}">${escapeHtml(forms?.[d.library]?.name || d.library)}</span>${escapeHtml(d.record_id)} · ${base} ·
    提出人 ${escapeHtml(d.proposed_by)} · ${escapeHtml(new Date(d.created).toLocaleString("zh-CN"))}
    ${d.item_id ? ` · 来源 ${escapeHtml(d.item_id)}` : ""}${d.note ? ` · 说明：${escapeHtml(d.note)}` : ""}</div>
  ${d.edits.length ? `<div class="meta edits">审批前修改：${d.edits.map((e) => `${escapeHtml(e.by)} 于 ${escapeHtml(
    new Date(e.time).toLocaleString("zh-CN"))} 改了 ${escapeHtml(e.fields.map((f) => label(d.library, f)).join("、"))}${e.note ? `（${escapeHtml(e.note)}）` : ""}`)
    .join("；")}</div>` : ""}
  <table class="diff"><thead><tr><th>字段</th><th>当前内容</th><th>草稿</th></tr></thead><tbody>${diff ||
    `<tr><td colspan="3" class="hint">与当前记录相同</td></tr>`}</tbody></table>
  ${actions}
  <div class="fielderr" role="alert"></div>
</article>`;
}

function paint(box, d) {
  drafts.set(d.id, d);
  box.outerHTML = card(d);
}

// The record form inside the card, filled with the draft's content; 保存修改 sends it with the number of edits the
// form was opened on, so someone else's edit meanwhile is a 409 and not lost.
async function openEditor(box) {
  const d = drafts.get(Number(box.dataset.id));
  const err = box.querySelector(".fielderr");
  try { await loadForms(); } catch (e) { err.textContent = e.message; return; }
  box.querySelector(".actions").hidden = true;
  const form = document.createElement("form");
  form.className = "draft-edit";
  form.noValidate = true;
  form.innerHTML = `<div class="fields"></div><label>修改说明 <input type="text" class="note" maxlength="500"
    placeholder="改了什么、依据是什么（写入审计记录）"></label><div class="actions"><button type="submit">保存修改</button>
    <button type="button" class="cancel">取消</button></div><p class="form-error err" role="alert"></p>`;
  box.querySelector(".fielderr").before(form);
  renderFields(form.querySelector(".fields"), forms[d.library].fields, d.record, {prefix: `d${d.id}-`, lockId: true});
  form.querySelector(".cancel").addEventListener("click", () => paint(box, d));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    form.querySelector(".form-error").textContent = "";
    const record = collect(form.querySelector(".fields"), forms[d.library].fields, d.record, false);
    const note = form.querySelector(".note").value.trim();
    form.querySelector('button[type="submit"]').disabled = true;
    try {
      const saved = await api(`/v1/kbs/${encodeURIComponent(kb())}/drafts/${d.id}`,
        {method: "PUT", json: {record, note, edits: d.edits.length}});
      paint(box, saved);
      $("status").textContent = `草稿 #${d.id} 已修改，尚未批准`;
    } catch (e) {
      form.querySelector(".form-error").textContent = e.status === 422 ? placeErrors(form, e) : e.message;
      form.querySelector('button[type="submit"]').disabled = false;
    }
  });
  form.querySelector("input, textarea, select")?.focus();
}

async function act(box, what) {
  const err = box.querySelector(".fielderr");
  err.textContent = "";
  const url = `/v1/kbs/${encodeURIComponent(kb())}/drafts/${box.dataset.id}/${what}`;
  try {
    if (what === "approve") {
      const r = await api(url, {method: "POST"});
      box.querySelector(".actions").outerHTML = `<p class="done">已批准，发布为第 ${r.revision} 版${r.indexed ? "，坐席即可查到"
        : `；索引尚未更新：${escapeHtml(r.index_error)}`}</p>`;
      $("status").textContent = `草稿 #${box.dataset.id} 已批准`;
    } else {
      const reason = box.querySelector(".reason").value.trim();
      if (!reason) { err.textContent = "驳回草稿必须说明原因"; return; }
      await api(url, {json: {reason}});
      box.querySelector(".actions").outerHTML = `<p class="done">已驳回：${escapeHtml(reason)}</p>`;
      $("status").textContent = `草稿 #${box.dataset.id} 已驳回`;
    }
  } catch (e) { err.textContent = e.message; }
}

async function loadForms() {
  forms ??= Object.fromEntries((await api("/v1/record-forms")).libraries.map((l) => [l.library, l]));
}

async function load() {
  $("status").textContent = "加载中…";
  try {
    const [r] = await Promise.all([api(`/v1/kbs/${encodeURIComponent(kb())}/drafts?status=${$("state").value}`),
      loadForms()]);
    drafts.clear();
    for (const d of r.drafts) drafts.set(d.id, d);
    $("drafts").innerHTML = r.drafts.length ? r.drafts.map(card).join("") : `<p class="empty">没有${STATES[$("state").value]}的草稿</p>`;
    $("status").textContent = `${r.drafts.length} 份草稿`;
  } catch (e) { $("drafts").innerHTML = `<p class="empty err">${escapeHtml(e.message)}</p>`; $("status").textContent = ""; }
  document.body.dataset.painted = String(++painted);
}

$("drafts").addEventListener("click", (ev) => {
  const box = ev.target.closest(".rv");
  if (ev.target.matches("button.edit")) openEditor(box);
  if (ev.target.matches("button.approve")) act(box, "approve");
  if (ev.target.matches("button.reject")) act(box, "reject");
});
$("refresh").addEventListener("click", load);
$("state").addEventListener("change", load);
$("kb").addEventListener("change", load);
setupCommon();
load();

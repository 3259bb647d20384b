// The reviewer's queue: feedback marked 没用/有误 or the random sample → 正确 / 需修改 / 错误, a correction → a draft.
import {api, escapeHtml, setupCommon} from "./api.js";

const $ = (id) => document.getElementById(id);
const KINDS = {reply: "建议答复", result: "检索结果", classification: "工单分类"};
const RATINGS = {useless: "没用", wrong: "有误"};
const VERDICTS = {correct: "正确", needs_fix: "需修改", wrong: "错误"};
const LIBRARIES = {answer: "标准答复", policy: "政策文件", contact: "联系方式", problem: "问题库"};
let source = "feedback";
let painted = 0;

const kb = () => $("kb").value;
const docId = (id) => String(id).split("#")[0];

function shownHtml(item) {
  const s = item.shown || {};
  if (item.kind === "classification") {
    const parts = [["行业", s.industry], ["主题", [s.topic, s.subtopic].filter(Boolean).join(" / ")], ["承办", s.department],
      ["置信度", s.confidence], ["剔除理由", s.filter_reason]].filter(([, v]) => v !== null && v !== undefined && v !== "");
    return `<div class="shown">${parts.map(([k, v]) => `${k}：${escapeHtml(v)}`).join("\n")}</div>`;
  }
  const reply = s.reply ? `<div class="shown">${escapeHtml(s.reply)}</div>` : "";
  const esc = s.escalate ? `<span class="tag wrong">转办</span>${escapeHtml(s.escalate_reason || "")}` : "";
  const ids = (s.ids || []).map((id, n) => `${escapeHtml(id)}${s.titles && s.titles[n] ? `（${escapeHtml(s.titles[n])}）` : ""}`);
  return reply + `<div class="meta">${esc} 展示的依据：${ids.join("、") || "无"}${s.confidence !== undefined && s.confidence !== null ? ` · 置信度 ${escapeHtml(s.confidence)}` : ""}</div>`;
}

function card(item) {
  const first = (item.shown?.ids || [])[0];
  const rating = item.rating ? `<span class="tag wrong">${RATINGS[item.rating] || escapeHtml(item.rating)}</span>` : "";
  const libs = Object.entries(LIBRARIES).map(([k, v]) => `<option value="${k}">${v}</option>`).join("");
  return `<article class="rv" data-id="${escapeHtml(item.id)}" data-kb="${escapeHtml(item.kb)}">
  <h3>${escapeHtml(item.question)}</h3>
  <div class="meta"><span class="tag kind">${KINDS[item.kind] || escapeHtml(item.kind)}</span>${rating}
    知识库版本 ${escapeHtml(item.kb_version || "—")} · ${escapeHtml(new Date(item.created).toLocaleString("zh-CN"))}
    ${item.note ? ` · 坐席备注：${escapeHtml(item.note)}` : ""}</div>
  ${shownHtml(item)}
  <div class="actions"><input type="text" class="note" maxlength="1000" placeholder="评审意见（可选）" aria-label="评审意见">
    ${Object.entries(VERDICTS).map(([k, v]) => `<button type="button" data-verdict="${k}">${v}</button>`).join("")}</div>
  <details class="fix"><summary>更正为草稿（与“需修改”或“错误”一并提交，经知识管理员批准后生效）</summary>
    <div class="actions"><label>库 <select class="library">${libs}</select></label>
      <label>记录编号 <input type="text" class="rid" value="${escapeHtml(first ? docId(first) : "")}" placeholder="留空则新建记录"></label>
      <button type="button" class="load">载入记录</button></div>
    <label class="answer-field" hidden>答复内容<textarea class="answer" rows="5"></textarea></label>
    <label>记录内容（JSON）<textarea class="json" spellcheck="false"></textarea></label>
    <div class="fielderr" role="alert"></div>
  </details>
</article>`;
}

async function loadRecord(box) {
  const rid = box.querySelector(".rid").value.trim();
  const err = box.querySelector(".fielderr");
  err.textContent = "";
  if (!rid) { err.textContent = "请先填写记录编号"; return; }
  try {
    const r = await api(`/v1/kbs/${encodeURIComponent(box.dataset.kb)}/records/${encodeURIComponent(rid)}`);
    box.querySelector(".library").value = r.library;
    box.querySelector(".json").value = JSON.stringify(r.record, null, 2);
    const isAnswer = r.library === "answer";
    box.querySelector(".answer-field").hidden = !isAnswer;
    box.querySelector(".answer").value = isAnswer ? r.record.answer || "" : "";
    box.dataset.loaded = "1";
  } catch (e) { err.textContent = e.message; }
}

function correctionOf(box) {
  const fix = box.querySelector(".fix");
  const raw = box.querySelector(".json").value.trim();
  if (!fix.open || !raw) return null;
  let record;
  try { record = JSON.parse(raw); } catch (e) { throw new Error(`记录内容不是合法的 JSON：${e.message}`); }
  if (!box.querySelector(".answer-field").hidden) record.answer = box.querySelector(".answer").value;
  const rid = box.querySelector(".rid").value.trim();
  return {library: box.querySelector(".library").value, record_id: rid || null, record};
}

async function decide(box, verdict) {
  const err = box.querySelector(".fielderr");
  err.textContent = "";
  let correction;
  try { correction = correctionOf(box); } catch (e) { box.querySelector(".fix").open = true; err.textContent = e.message; return; }
  const body = {verdict, note: box.querySelector(".note").value || null};
  if (correction) body.correction = correction;
  box.querySelectorAll("button[data-verdict]").forEach((b) => { b.disabled = true; });
  try {
    const r = await api(`/v1/review/${encodeURIComponent(box.dataset.id)}`, {json: body});
    box.classList.add("decided");
    box.querySelector(".fix").remove();
    box.querySelector(".actions").outerHTML = `<p class="done">已评审：${VERDICTS[verdict]}${r.draft_id
      ? ` · 已生成草稿 #${r.draft_id}，待知识管理员<a href="/manage/drafts">审批</a>` : ""}</p>`;
    $("status").textContent = r.draft_id ? `草稿 #${r.draft_id} 已提交审批` : "评审已保存";
  } catch (e) {
    box.querySelectorAll("button[data-verdict]").forEach((b) => { b.disabled = false; });
    const fields = e.body?.errors || [];
    if (fields.length) box.querySelector(".fix").open = true;
    err.innerHTML = fields.length ? fields.map((f) => `<div>${escapeHtml(f.field)}：${escapeHtml(f.reason)}</div>`).join("")
      : escapeHtml(e.message);
  }
}

async function load() {
  $("status").textContent = "加载中…";
  try {
    const r = await api(`/v1/review/queue?source=${source}&kb=${encodeURIComponent(kb())}`);
    $("queue").innerHTML = r.items.length ? r.items.map(card).join("")
      : `<p class="empty">${source === "feedback" ? "没有待评审的坐席标记" : "抽检队列为空"}</p>`;
    $("status").textContent = `${r.items.length} 条待评审${source === "sample" ? `（抽检比例 ${Math.round(r.sample_rate * 100)}%）` : ""}`;
  } catch (e) { $("queue").innerHTML = `<p class="empty err">${escapeHtml(e.message)}</p>`; $("status").textContent = ""; }
  document.body.dataset.painted = String(++painted);
}

$("queue").addEventListener("click", (ev) => {
  const box = ev.target.closest(".rv");
  if (!box) return;
  if (ev.target.matches("button[data-verdict]")) decide(box, ev.target.dataset.verdict);
  if (ev.target.matches("button.load")) loadRecord(box);
});
$("queue").addEventListener("toggle", (ev) => {
  const box = ev.target.closest?.(".rv");
  if (box && ev.target.open && !box.dataset.loaded && box.querySelector(".rid").value) loadRecord(box);
}, true);
document.querySelectorAll("button.src").forEach((b) => b.addEventListener("click", () => {
  source = b.dataset.source;
  document.querySelectorAll("button.src").forEach((x) => x.setAttribute("aria-pressed", String(x === b)));
  load();
}));
$("refresh").addEventListener("click", load);
$("kb").addEventListener("change", load);
setupCommon();
load();

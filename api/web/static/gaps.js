// Knowledge gaps: unanswered questions grouped by meaning, largest first; XLSX export; a gap → a draft answer.
import {api, escapeHtml, setupCommon} from "./api.js";

const $ = (id) => document.getElementById(id);
let painted = 0;
const kb = () => $("kb").value;
const query = () => ($("since").value ? `?since=${$("since").value}` : "");

function card(g) {
  const c = g.closest;
  const closest = c ? `最接近的记录：${escapeHtml(c.title)}（${escapeHtml(c.id)}，相似度 ${escapeHtml(c.score.toFixed(3))}）` : "知识库中没有相近记录";
  return `<article class="rv gap" data-id="${escapeHtml(g.id)}">
  <h3>来电 ${escapeHtml(g.count)} 次 · ${escapeHtml(g.examples[0])}</h3>
  <div class="meta">${g.reasons.map((r) => `<span class="tag wrong">${escapeHtml(r)}</span>`).join("")} 缺口编号 ${escapeHtml(g.id)}</div>
  <ol class="examples">${g.examples.map((e) => `<li>${escapeHtml(e)}</li>`).join("")}</ol>
  <div class="meta closest">${closest}</div>
  <label>标准答复（可选；留空则以最接近记录的答复为底稿）<textarea class="answer" rows="3"></textarea></label>
  <div class="actions"><button type="button" class="todraft">转为草稿</button></div>
  <div class="fielderr" role="alert"></div>
</article>`;
}

async function toDraft(box) {
  const err = box.querySelector(".fielderr");
  err.textContent = "";
  const answer = box.querySelector(".answer").value.trim();
  const body = {since: $("since").value || null};
  if (answer) body.record = {answer};
  try {
    const d = await api(`/v1/kbs/${encodeURIComponent(kb())}/gaps/${encodeURIComponent(box.dataset.id)}/draft`, {json: body});
    box.querySelector(".actions").outerHTML = `<p class="done">已生成草稿 #${d.id}（${escapeHtml(d.record_id)}），待知识管理员<a href="/manage/drafts">审批</a></p>`;
    $("status").textContent = `草稿 #${d.id} 已提交审批`;
  } catch (e) {
    const fields = e.body?.errors || [];
    err.innerHTML = fields.length ? fields.map((f) => `<div>${escapeHtml(f.field)}：${escapeHtml(f.reason)}</div>`).join("")
      : escapeHtml(e.message);
  }
}

async function load() {
  $("status").textContent = "加载中…";
  $("export").href = `/v1/kbs/${encodeURIComponent(kb())}/gaps.xlsx${query()}`;
  try {
    const gaps = await api(`/v1/kbs/${encodeURIComponent(kb())}/gaps${query()}`);
    $("gaps").innerHTML = gaps.length ? gaps.map(card).join("") : `<p class="empty">暂无知识缺口</p>`;
    $("status").textContent = `${gaps.length} 个缺口`;
  } catch (e) { $("gaps").innerHTML = `<p class="empty err">${escapeHtml(e.message)}</p>`; $("status").textContent = ""; }
  document.body.dataset.painted = String(++painted);
}

$("gaps").addEventListener("click", (ev) => {
  if (ev.target.matches("button.todraft")) toDraft(ev.target.closest(".rv"));
});
$("refresh").addEventListener("click", load);
$("since").addEventListener("change", load);
$("kb").addEventListener("change", load);
setupCommon();
load();

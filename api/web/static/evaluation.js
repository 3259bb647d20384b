// The reviewer's evaluation page: run a gold set (POST /v1/eval/runs), poll it, chart the figures over time
// (/v1/eval/history, plain SVG) and compare two runs (/v1/eval/compare) with the queries whose outcome differs.
import {api, escapeHtml, setupCommon} from "./api.js";

const $ = (id) => document.getElementById(id);
const SUITE_NAMES = {retrieval: "检索", classify: "工单分类", reply: "建议答复", laws: "法规按条"};
const MAIN_FIGURE = {retrieval: "recall@5", classify: "industry_accuracy", reply: "citation_recall", laws: "hit@1"};
const FIGURE_NAMES = {
  citation_precision: "引用精确率", citation_recall: "引用召回率", key_fact_coverage: "关键事实覆盖率",
  contact_correctness: "联系方式正确率", escalation_precision: "转办精确率", escalation_recall: "转办召回率",
  answerable_escalated_share: "可答问题被转办比例", helpful_escalation_share: "转办附联系方式或参考比例",
  unanswerable_escalated_share: "不可答问题转办比例", topic_grounded: "答复主题正确率",
  invented_fact_replies: "含无出处事实的答复数", district_contact_correct: "点名区/街道时联系方式正确率",
  confident_accuracy: "置信度≥0.8的答复正确率",
  industry_accuracy: "行业准确率", subtopic_macro_f1: "子主题 macro-F1", department_accuracy: "转办部门准确率",
  ece: "ECE（校准误差）", queries: "查询数", items: "问题数", tickets: "工单数", n: "问题数",
  recall_at_5: "Recall@5", mrr_at_10: "MRR@10", adjacent_top1: "首位为相邻条",
};
const COLORS = ["#0b5cad", "#c2410c", "#1f7a3a", "#7c3aed"];
const POLL_MS = 1000;

const kb = () => $("kb").value;
const figName = (k) => FIGURE_NAMES[k] ? `${FIGURE_NAMES[k]}（${k}）` : k;
const fmt = (v) => v === null || v === undefined ? "—" : Number.isInteger(v) ? String(v) : Number(v).toFixed(4);
const when = (iso) => iso ? iso.replace("T", " ").replace("Z", "").slice(0, 19) : "—";

function status(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("err", error);
}

function configText(c) {
  const parts = [];
  if (c.fusion) parts.push(`融合 ${c.fusion}`);
  if (c.rrf_k) parts.push(`rrf_k ${c.rrf_k}`);
  for (const [k, v] of Object.entries(c.weights || {})) parts.push(`${k} 权重 ${v}`);
  for (const [k, v] of Object.entries(c.gates || {})) parts.push(`${k} ${v}`);
  return parts.join("，") || "默认";
}

function readConfig(suite) {
  const config = {};
  if (suite === "classify") return config;
  const num = (id) => $(id).value === "" ? null : Number($(id).value);
  if ($("fusion").value) config.fusion = $("fusion").value;
  const weights = {dense: num("w-dense"), bm25: num("w-bm25")};
  for (const k of Object.keys(weights)) if (weights[k] === null) delete weights[k];
  if (Object.keys(weights).length) config.weights = weights;
  if (suite === "reply") {
    const gates = {};
    for (const k of ["min_cosine", "sure_cosine", "min_coverage"]) if (num(`g-${k}`) !== null) gates[k] = num(`g-${k}`);
    if (Object.keys(gates).length) config.gates = gates;
  }
  return config;
}

function syncForm() {
  const suite = $("suite").value;
  $("retrieval-config").disabled = suite === "classify";
  $("gates-config").disabled = suite !== "reply";
  $("split").querySelector('[value="test"]').disabled = suite === "retrieval";
  if (suite === "retrieval") $("split").value = "dev";
}

function figureRows(figures) {
  return Object.entries(figures || {}).map(([k, v]) =>
    `<tr><td>${escapeHtml(figName(k))}</td><td class="num">${escapeHtml(fmt(v))}</td></tr>`).join("");
}

function showRun(run) {
  $("current").hidden = false;
  $("cur-title").textContent = `${SUITE_NAMES[run.suite]}评测 ${run.run_id} · ${run.status_name}`;
  $("cur-meta").textContent = `知识库 ${run.kb} · 划分 ${run.split} · 配置：${configText(run.config)} · 索引版本 ${run.kb_version || "—"}` +
    (run.seconds !== null ? ` · 用时 ${run.seconds.toFixed(1)} 秒` : "") + (run.error ? ` · ${run.error}` : "");
  const p = run.progress;
  $("cur-progress").max = p ? p.total : 1;
  $("cur-progress").value = run.status === "running" ? (p ? p.done : 0) : $("cur-progress").max;
  $("cur-progress-text").textContent = run.status === "running" ? (p ? `${p.done} / ${p.total}` : "启动中…") : run.status_name;
  $("cur-figures").tBodies[0].innerHTML = figureRows(run.figures);
  document.body.dataset.run = run.status;
  document.body.dataset.runId = run.run_id;
}

async function poll(runId) {
  const run = await api(`/v1/eval/runs/${encodeURIComponent(runId)}`);
  showRun(run);
  if (run.status === "running") { setTimeout(() => poll(runId).catch((e) => status(e.message, true)), POLL_MS); return; }
  status(run.status === "done" ? `评测完成，用时 ${run.seconds.toFixed(1)} 秒` : `${run.status_name}：${run.error}`, run.status !== "done");
  $("run").disabled = false;
  await refresh();
}

async function start(ev) {
  ev.preventDefault();
  const suite = $("suite").value;
  $("run").disabled = true;
  document.body.dataset.run = "starting";
  try {
    const body = await api("/v1/eval/runs", {json: {kb: kb(), suite, split: $("split").value, config: readConfig(suite)}});
    status("评测已开始，正在运行…");
    await refresh();
    await poll(body.run_id);
  } catch (e) {
    status(e.message, true);
    $("run").disabled = false;
    document.body.dataset.run = "refused";
  }
}

// ---- runs table and comparison ----------------------------------------------------------------
function runRow(r) {
  const main = MAIN_FIGURE[r.suite];
  const value = r.figures && main in r.figures ? `${main} ${fmt(r.figures[main])}` : "—";
  const pick = (side) => r.status === "done"
    ? `<input type="radio" name="pick-${side}" value="${escapeHtml(r.run_id)}" aria-label="${side}">` : "";
  return `<tr data-id="${escapeHtml(r.run_id)}" data-suite="${escapeHtml(r.suite)}"><td>${pick("a")}</td><td>${pick("b")}</td>` +
    `<td>${escapeHtml(when(r.created))}</td><td>${escapeHtml(SUITE_NAMES[r.suite])} / ${escapeHtml(r.split)}</td>` +
    `<td>${escapeHtml(configText(r.config))}</td><td class="st-${escapeHtml(r.status)}">${escapeHtml(r.status_name)}</td>` +
    `<td class="num">${escapeHtml(value)}</td><td class="num">${r.seconds === null ? "—" : r.seconds.toFixed(1) + " 秒"}</td>` +
    `<td>${escapeHtml(r.actor)}</td></tr>`;
}

function pickedRun(side) {
  const input = document.querySelector(`input[name="pick-${side}"]:checked`);
  return input ? input.value : null;
}

function syncCompare() { $("compare").disabled = !(pickedRun("a") && pickedRun("b")); }

async function compare() {
  try {
    const c = await api(`/v1/eval/compare?a=${encodeURIComponent(pickedRun("a"))}&b=${encodeURIComponent(pickedRun("b"))}`);
    $("comparison").hidden = false;
    $("cmp-meta").textContent = `A：${c.a.run_id}（${configText(c.a.config)}） · B：${c.b.run_id}（${configText(c.b.config)}） · ` +
      `${SUITE_NAMES[c.a.suite]} / ${c.a.split}`;
    $("cmp-figures").tBodies[0].innerHTML = c.figures.map((f) => {
      const better = f.name.endsWith("_ms") || f.name === "ece" || f.name === "answerable_escalated_share" || f.name === "invented_fact_replies" ? -f.delta : f.delta;
      const cls = better > 0 ? "up" : better < 0 ? "down" : "";
      return `<tr data-name="${escapeHtml(f.name)}"><td>${escapeHtml(figName(f.name))}</td><td class="num">${fmt(f.a)}</td>` +
        `<td class="num">${fmt(f.b)}</td><td class="num ${cls}">${f.delta === null ? "—" : (f.delta > 0 ? "+" : "") + fmt(f.delta)}</td></tr>`;
    }).join("");
    $("cmp-diff-h").textContent = `结果不同的问题：${c.differing.length} 条（结果相同 ${c.same} 条）`;
    const cell = (o) => `<td class="${o.ok ? "okst" : "bad"}">${escapeHtml(o.outcome)}${o.ok ? "" : " ✗"}</td>`;
    $("cmp-diff").tBodies[0].innerHTML = c.differing.map((d) =>
      `<tr data-id="${escapeHtml(d.id)}"><td>${escapeHtml(d.id)}</td><td>${escapeHtml(d.query)}</td>${cell(d.a)}${cell(d.b)}</tr>`).join("")
      || `<tr><td colspan="4" class="hint">两次评测每条问题的结果都相同</td></tr>`;
    status("");
  } catch (e) { status(e.message, true); }
}

// ---- charts: plain SVG, time on x, the figure on y ---------------------------------------------
function lineChart(svg, series) {
  const W = 560, H = 220, L = 48, R = 12, T = 12, B = 40;
  const pts = series.flatMap((s) => s.points);
  if (!pts.length) {
    svg.innerHTML = `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="hint">暂无数据</text>`;
    return;
  }
  const xs = pts.map((p) => p.t), ys = pts.map((p) => p.y);
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (x0 === x1) { x0 -= 3600e3; x1 += 3600e3; }
  const top = Math.max(...ys) <= 1 ? 1 : Math.max(...ys) * 1.1;
  const bottom = Math.max(...ys) <= 1 ? Math.max(0, Math.floor(Math.min(...ys) * 10) / 10 - 0.1) : 0;
  const x = (t) => L + (t - x0) / (x1 - x0) * (W - L - R);
  const y = (v) => T + (1 - (v - bottom) / ((top - bottom) || 1)) * (H - T - B);
  let out = "";
  for (let i = 0; i <= 4; i++) {
    const v = bottom + (top - bottom) * i / 4;
    out += `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" class="grid"/>` +
      `<text x="${L - 4}" y="${y(v) + 4}" text-anchor="end" class="tick">${top <= 1 ? v.toFixed(2) : Math.round(v)}</text>`;
  }
  for (const t of [x0, x1]) {
    out += `<text x="${x(t)}" y="${H - B + 16}" text-anchor="${t === x0 ? "start" : "end"}" class="tick">${escapeHtml(when(new Date(t).toISOString()).slice(0, 16))}</text>`;
  }
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const sorted = [...s.points].sort((a, b) => a.t - b.t);
    out += `<polyline fill="none" stroke="${c}" stroke-width="2" points="${sorted.map((p) => `${x(p.t)},${y(p.y)}`).join(" ")}"/>`;
    out += sorted.map((p) => `<circle cx="${x(p.t)}" cy="${y(p.y)}" r="3.5" fill="${c}" data-value="${p.y}"><title>${escapeHtml(p.label)}：${fmt(p.y)}</title></circle>`).join("");
    out += `<rect x="${L + i * 150}" y="${H - 14}" width="10" height="10" fill="${c}"/><text x="${L + 14 + i * 150}" y="${H - 5}" class="tick">${escapeHtml(s.name)}</text>`;
  });
  svg.innerHTML = out;
}

let history = null;

function drawRunsChart() {
  if (!history) return;
  const metric = $("chart-metric").value;
  const bySplit = {};
  for (const r of history.runs) {
    if (r.figures[metric] === undefined || r.figures[metric] === null) continue;
    (bySplit[r.split] ||= []).push({t: Date.parse(r.time), y: r.figures[metric], label: `${r.run_id}（${configText(r.config)}）`});
  }
  lineChart($("chart-runs"), Object.entries(bySplit).map(([split, points]) => ({name: `${figName(metric)} · ${split}`, points})));
}

async function refresh() {
  const suite = $("suite").value;
  const [runs, hist] = await Promise.all([api(`/v1/eval/runs?kb=${encodeURIComponent(kb())}`),
    api(`/v1/eval/history?kb=${encodeURIComponent(kb())}&suite=${encodeURIComponent(suite)}`)]);
  const a = pickedRun("a"), b = pickedRun("b");
  $("runs").tBodies[0].innerHTML = runs.runs.map(runRow).join("") || `<tr><td colspan="9" class="hint">尚无评测记录</td></tr>`;
  for (const [side, id] of [["a", a], ["b", b]]) {
    const input = id && document.querySelector(`input[name="pick-${side}"][value="${CSS.escape(id)}"]`);
    if (input) input.checked = true;
  }
  syncCompare();
  history = hist;
  for (const el of document.querySelectorAll(".kbname")) el.textContent = kb();
  lineChart($("chart-publish"), ["recall_at_5", "mrr_at_10"].map((k) => ({
    name: figName(k), points: hist.publishes.filter((p) => k in p.figures)
      .map((p) => ({t: Date.parse(p.time), y: p.figures[k], label: `发布 ${p.version}`}))})));
  const metrics = [...new Set(hist.runs.flatMap((r) => Object.keys(r.figures)))];
  const chosen = metrics.includes($("chart-metric").value) ? $("chart-metric").value : (metrics.includes(MAIN_FIGURE[suite]) ? MAIN_FIGURE[suite] : metrics[0]);
  $("chart-metric").innerHTML = metrics.map((m) => `<option value="${escapeHtml(m)}">${escapeHtml(figName(m))}</option>`).join("");
  if (chosen) $("chart-metric").value = chosen;
  drawRunsChart();
  document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
}

function init() {
  setupCommon();
  $("eval-form").addEventListener("submit", start);
  $("suite").addEventListener("change", () => { syncForm(); refresh().catch((e) => status(e.message, true)); });
  $("kb").addEventListener("change", () => refresh().catch((e) => status(e.message, true)));
  $("chart-metric").addEventListener("change", drawRunsChart);
  $("runs").addEventListener("change", syncCompare);
  $("compare").addEventListener("click", compare);
  syncForm();
  refresh().catch((e) => status(e.message, true));
}

init();

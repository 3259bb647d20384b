// The report page: a ticket export + period → POST /v1/reports → figures, rates, hot issues, risks, file links.
import {api, escapeHtml, setupCommon} from "./api.js";

const $ = (id) => document.getElementById(id);
const KPIS = ["response_rate", "resolution_rate", "satisfaction_rate"];
const FILES = ["report.docx", "report.xlsx", "report.html", "report.json"];

// As in the report documents: rates to two decimals, thresholds whole.
export function pct(v, digits = 2) { return v === null || v === undefined ? "—" : `${(v * 100).toFixed(digits)}%`; }

function rows(tableId, html) { $(tableId).tBodies[0].innerHTML = html || `<tr><td colspan="9" class="hint">无</td></tr>`; }
function counts(obj) {
  return Object.entries(obj || {}).map(([k, n]) => `<tr><td>${escapeHtml(k)}</td><td class="num">${escapeHtml(n)}</td></tr>`).join("");
}
function place(t) { return escapeHtml([t.district, t.street].filter(Boolean).join(" · ")); }

function render(body) {
  const r = body.report, p = body.period;
  $("r-title").textContent = r.title || `${p.name}（${p.label}）`;
  $("r-period").textContent = `周期：${p.name} · ${p.label}（${p.start} 至 ${p.end}）`;
  $("r-total").textContent = `工单总数 ${body.total} 件（其中剔除 ${r.filtered_total ?? 0} 件，不计入三率）；排除异常行 ${body.excluded_rows} 行`;
  const ex = $("r-excluded");
  ex.hidden = !body.excluded_rows;
  ex.querySelector("summary").textContent = `查看排除原因（${body.excluded_rows} 行）`;
  ex.querySelector("ul").innerHTML = (r.excluded || []).map((e) => `<li>第 ${escapeHtml(e.row)} 行：${escapeHtml(e.reason)}</li>`).join("");

  const flagged = new Set((body.kpi_flags || []).map((f) => f.kpi));
  $("r-kpi").innerHTML = KPIS.map((k) => {
    const d = (r.kpi_detail || {})[k] || {name: k, value: body.kpi[k]};
    const below = flagged.has(k);
    const frac = d.denominator !== undefined ? `（${escapeHtml(d.numerator)}/${escapeHtml(d.denominator)}）` : "";
    return `<div class="kpi${below ? " below" : ""}" data-kpi="${escapeHtml(k)}"><div class="kname">${escapeHtml(d.name)}</div>` +
      `<div class="kval">${pct(body.kpi[k])}</div><div class="meta">${frac} 考核线 ${pct(d.threshold, 0)}</div>` +
      `<div class="kflag">${below ? "⚠ 低于考核线" : body.kpi[k] === null ? "无可计算工单" : "达标"}</div></div>`;
  }).join("");

  rows("r-type", counts(r.by_type));
  rows("r-district", counts(r.by_district));
  rows("r-hot", (r.hot_issues || []).map((h) => {
    const a = h.answer;
    const ans = a ? `<div class="t">${escapeHtml(a.title)}</div><div class="meta">${escapeHtml([a.library === "policy" ? "政策" : "标准答复", a.doc_no, a.article].filter(Boolean).join(" · "))}</div>` : `<span class="hint">知识库中无对应内容</span>`;
    const districts = Object.entries(h.districts || {}).map(([d, n]) => `${escapeHtml(d)} ${escapeHtml(n)}`).join("、");
    return `<tr><td class="num">${escapeHtml(h.count)}${h.is_new ? ` <span class="badge">新增热点</span>` : ""}</td>` +
      `<td>${escapeHtml(h.subtopic_name || h.subtopic || "")}</td><td>${districts}</td><td class="text">${escapeHtml(h.example)}</td><td>${ans}</td></tr>`;
  }).join(""));

  const risks = r.risks || {};
  $("r-repeat-h").textContent = `重复来电（${risks.repeat_caller_count ?? 0} 个号码，以化名显示）`;
  rows("r-repeat", (risks.repeat_callers || []).map((c) =>
    `<tr><td>${escapeHtml(c.caller)}</td><td class="num">${escapeHtml(c.count)}</td><td>${escapeHtml((c.districts || []).join("、"))}</td><td class="text">${escapeHtml(c.example)}</td></tr>`).join(""));
  $("r-overdue-h").textContent = `超期未办结（${risks.overdue_count ?? 0} 件）`;
  rows("r-overdue", (risks.overdue || []).map((t) =>
    `<tr><td>${escapeHtml(t.ticket_id)}</td><td>${place(t)}</td><td>${escapeHtml(t.unit)}</td><td class="num">${escapeHtml(t.open_days)}</td><td class="text">${escapeHtml(t.summary)}</td></tr>`).join(""));
  $("r-urgent-h").textContent = `紧急情况（${risks.urgent_count ?? 0} 件）`;
  rows("r-urgent", (risks.urgent || []).map((t) =>
    `<tr><td>${escapeHtml(t.ticket_id)}</td><td>${place(t)}</td><td><span class="bad">${escapeHtml((t.signals || []).join("、"))}</span></td><td class="text">${escapeHtml(t.summary)}</td></tr>`).join(""));

  $("r-files").innerHTML = "下载：" + FILES.filter((f) => body.files[f]).map((f) =>
    `<a class="button" data-file="${escapeHtml(f)}" href="${escapeHtml(body.files[f])}" download="${escapeHtml(f)}">${escapeHtml(f)}</a>`).join(" ");
  $("result").hidden = false;
}

setupCommon();
$("period").addEventListener("change", () => {
  const special = $("period").value === "special";
  $("special-fields").hidden = !special;
  $("date-field").hidden = special;
});
$("report-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = $("file").files[0];
  if (!f) { $("status").textContent = "请先选择工单导出文件"; return; }
  const form = new FormData();
  form.append("file", f);
  form.append("kb", $("kb").value);
  form.append("period", $("period").value);
  if ($("period").value === "special") {
    for (const k of ["from", "to", "title"]) if ($(k).value) form.append(k, $(k).value);
  } else if ($("date").value) form.append("date", $("date").value);
  $("status").className = "";
  $("status").textContent = `正在生成报告：${f.name}…`;
  $("make").disabled = true;
  delete document.body.dataset.report;
  try {
    const body = await api("/v1/reports", {method: "POST", body: form});
    render(body);
    $("status").textContent = `已生成：${body.period.name}（${body.period.label}）`;
    document.body.dataset.report = body.report_id;
  } catch (e) {
    $("result").hidden = true;
    $("status").className = "err";
    $("status").textContent = e.message;
    document.body.dataset.report = "error";
  } finally { $("make").disabled = false; }
});

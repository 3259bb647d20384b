// The ticket page: one pasted ticket or a day's file → masked table, filters, result XLSX.
import {api, escapeHtml, setupCommon} from "./api.js";

const $ = (id) => document.getElementById(id);
let rows = [];

function flag(v) { return v === "是" || v === true; }

function render() {
  const review = $("f-review").checked, out = $("f-out").checked;
  const shown = rows.filter((r) => (!review || flag(r["需复核"])) && (!out || r["结论"] === "剔除申报"));
  $("table").tBodies[0].innerHTML = shown.map((r, i) => {
    const industry = r["错误"] ? "" : r["结论"] === "剔除申报" ? "其他" : ({minzheng: "民政", canlian: "残联"}[r["行业"]] || r["行业"] || "其他");
    const reason = r["剔除理由"] ? `<div class="reason">${escapeHtml(r["剔除理由"])}</div><button type="button" class="small copy" data-i="${i}">复制</button>` : "";
    return `<tr class="${flag(r["需复核"]) ? "review" : ""}"><td>${escapeHtml(r["工单编号"])}</td><td class="text">${escapeHtml(r["工单内容（已脱敏）"])}</td>` +
      `<td>${escapeHtml(industry)}</td><td>${escapeHtml(r["子主题"] || r["转办部门"] || r["主题"] || "")}</td>` +
      `<td>${r["置信度"] === "" ? "" : Number(r["置信度"]).toFixed(2)}</td><td>${flag(r["需复核"]) ? "是" : "否"}</td><td>${reason}</td>` +
      `<td>${r["风险等级"] && r["风险等级"] !== "none" ? `<span class="bad">${escapeHtml(r["风险信号"])}</span>` : ""}${r["错误"] ? `<span class="bad">${escapeHtml(r["错误"])}</span>` : ""}</td></tr>`;
  }).join("");
  $("table").tBodies[0].querySelectorAll(".copy").forEach((b) => b.addEventListener("click", async () => {
    const text = shown[Number(b.dataset.i)]["剔除理由"];
    try { await navigator.clipboard.writeText(text); $("summary").textContent = "已复制剔除理由"; }
    catch { $("summary").textContent = "复制失败，请手动选择"; }
  }));
}

setupCommon();
$("ticket").focus();
// A pasted ticket goes through the same upload path, so the server masks it before it is shown.
$("one").addEventListener("click", () => {
  const text = $("ticket").value.trim();
  if (!text) { $("summary").textContent = "请先粘贴工单内容"; return; }
  const csv = "工单编号,工单内容\n粘贴,\"" + text.replace(/"/g, '""') + "\"\n";
  upload(new File([csv], "粘贴工单.csv", {type: "text/csv"}));
});
$("file").addEventListener("change", (ev) => { if (ev.target.files[0]) upload(ev.target.files[0]); });
async function upload(f) {
  const form = new FormData();
  form.append("file", f);
  form.append("kb", $("kb").value);
  $("summary").textContent = `正在分类 ${f.name}…`;
  try {
    const r = await api("/v1/classify/file", {method: "POST", body: form});
    rows = r.rows;
    $("summary").textContent = `共 ${r.total} 条：行业确认 ${r.in_scope}，剔除 ${r.filtered}，需复核 ${r.needs_review}，有风险 ${r.risky}`;
    const a = $("download");
    a.href = r.download; a.hidden = false;
    render();
    document.body.dataset.classified = String(r.total);
  } catch (e) { $("summary").textContent = e.message; }
}
$("f-review").addEventListener("change", render);
$("f-out").addEventListener("change", render);

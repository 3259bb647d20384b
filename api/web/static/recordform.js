// The record form shared by the manager's edit page and the drafts page: one field per schema field (from
// /v1/record-forms), the values collected back into the record the API validates (the one validator), and the
// API's 422 field errors placed beside their fields. Each form lives in its own box, so several can share a page;
// `prefix` keeps their element ids apart.
import {escapeHtml} from "./api.js";

export function valueFor(field, record) {
  const v = record[field.name];
  if (v === undefined || v === null) return "";
  if (field.kind === "lines") return (v || []).join("\n");
  if (field.kind === "codes") return Array.isArray(v) ? v.join(", ") : String(v);
  if (field.kind === "refs") return (v || []).map((r) => r.article ? `${r.doc}#${r.article}` : r.doc).join("\n");
  return String(v);
}

function input(field, value, prefix) {
  const name = escapeHtml(field.name);
  const attrs = `id="${prefix}f-${name}" name="${name}" data-kind="${escapeHtml(field.kind)}" aria-describedby="${prefix}e-${name}"`;
  if (field.kind === "choice") {
    const opts = (field.required ? [] : [""]).concat(field.choices);
    return `<select ${attrs}>${opts.map((c) => `<option${c === value ? " selected" : ""}>${escapeHtml(c)}</option>`).join("")}</select>`;
  }
  if (["textarea", "lines", "refs"].includes(field.kind)) {
    const big = field.name === "body" ? 16 : field.kind === "textarea" ? 5 : 3;
    return `<textarea ${attrs} rows="${big}">${escapeHtml(value)}</textarea>`;
  }
  const type = field.kind === "date" ? "date" : "text";
  return `<input ${attrs} type="${type}" value="${escapeHtml(value)}">`;
}

export function renderFields(box, fields, record, {prefix = "", lockId = false} = {}) {
  box.innerHTML = fields.map((f) => `<label class="field${f.required ? " req" : ""}" data-field="${escapeHtml(f.name)}">` +
    `<span class="lbl">${escapeHtml(f.label)}${f.required ? " *" : ""}</span>${input(f, valueFor(f, record), prefix)}` +
    `<span class="field-err err" id="${prefix}e-${escapeHtml(f.name)}"></span></label>`).join("");
  const id = box.querySelector('[name="id"]');
  if (lockId && id) id.readOnly = true;
}

// The form's values over `base` (the stored record, so fields the form does not show are kept). For a new record
// (`isNew`) an empty optional field is left out, so the schema's default applies.
export function collect(box, fields, base, isNew) {
  const record = {...(base || {})};
  for (const f of fields) {
    const raw = box.querySelector(`[data-field="${f.name}"] [name]`).value;
    const text = raw.trim();
    if (isNew && !f.required && !text) { delete record[f.name]; continue; }
    if (f.kind === "lines") record[f.name] = text ? text.split("\n").map((s) => s.trim()).filter(Boolean) : [];
    else if (f.kind === "refs") {
      record[f.name] = text ? text.split("\n").map((s) => s.trim()).filter(Boolean).map((s) => {
        const [doc, ...article] = s.split("#");
        return {doc: doc.trim(), article: article.join("#").trim()};
      }) : [];
    } else if (f.kind === "choice" && !f.required && !text) delete record[f.name];  // the schema's default applies
    else if (f.kind === "date" || f.name === "successor") record[f.name] = text || null;
    else record[f.name] = f.name === "body" ? raw : text;
  }
  return record;
}

export function clearErrors(box) {
  for (const e of box.querySelectorAll(".field-err")) e.textContent = "";
  for (const e of box.querySelectorAll(".field.invalid")) e.classList.remove("invalid");
}

// 422 {"detail", "errors": [{"field", "reason"}]}: each reason next to its field ("policy_refs.0.doc" → policy_refs).
// Returns the summary line for the form's error slot; focuses the first invalid field.
export function placeErrors(box, err) {
  const errors = err.body?.errors || [];
  const general = [];
  for (const e of errors) {
    const name = String(e.field || "").split(".")[0];
    const slot = box.querySelector(`[data-field="${CSS.escape(name)}"] .field-err`);
    if (slot) {
      slot.textContent = slot.textContent ? `${slot.textContent}；${e.reason}` : e.reason;
      slot.closest(".field").classList.add("invalid");
    } else general.push(e.field && e.field !== "(记录)" ? `${e.field}：${e.reason}` : e.reason);
  }
  const placed = errors.length - general.length;
  box.querySelector(".field.invalid textarea, .field.invalid input, .field.invalid select")?.focus();
  if (!placed) return err.message;  // the detail lists them all
  const head = general.length ? `未保存：${placed} 处见各字段旁的红字` : `未保存：${placed} 处需要修改，见各字段旁的红字`;
  return [head, ...general].join("；");
}

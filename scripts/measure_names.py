"""Names found by kb.privacy.mask_names on the sample corpus (tickets, report samples, transcripts), every change
printed for review, plus directory and policy lines that must stay unchanged. Run: PYTHONPATH=. python scripts/measure_names.py"""
import collections
import csv
import glob
import json
import re

from kb.privacy import mask_names

texts = []
for f in ["corpus/reports/sample_minzheng.csv", "corpus/reports/sample_canlian.csv"]:
    texts += [r["诉求内容"] for r in csv.DictReader(open(f, encoding="utf-8-sig"))]
for f in sorted(glob.glob("corpus/tickets/*.csv")) + sorted(glob.glob("eval/data/tickets_*.csv")):
    texts += [r["text"] for r in csv.DictReader(open(f, encoding="utf-8-sig"))]
for f in sorted(glob.glob("corpus/transcripts/*.jsonl")):
    for line in open(f, encoding="utf-8"):
        d = json.loads(line)
        if d.get("type") == "utterance":
            texts.append(d["text"])
print("texts", len(texts), "distinct", len(set(texts)))
changes = collections.Counter()
for t in texts:
    m = mask_names(t)
    if m != t:
        # pair each changed span
        import difflib
        sm = difflib.SequenceMatcher(None, t, m, autojunk=False)
        for op, a1, a2, b1, b2 in sm.get_opcodes():
            if op != "equal":
                changes[(t[max(0,a1-4):a2+3], m[max(0,b1-4):b2+3])] += 1
print("changed texts", sum(mask_names(t) != t for t in texts), "spans", sum(changes.values()), "distinct", len(changes))
for (a, b), n in changes.most_common():
    print(n, a, "->", b)
# must-not-mask: directory and knowledge base text
other = []
for f in glob.glob("corpus/*/contacts.csv"):
    for r in csv.DictReader(open(f, encoding="utf-8-sig")):
        other += [r["unit"], r["street"], r["address"], r["duties"]]
for f in glob.glob("corpus/minzheng/**/*.md", recursive=True) + glob.glob("corpus/canlian/**/*.md", recursive=True):
    other += open(f, encoding="utf-8").read().splitlines()
bad = [(o, mask_names(o)) for o in other if mask_names(o) != o]
print("directory/policy lines", len(other), "changed", len(bad))
for a, b in bad[:40]:
    print("  ", a[:80], "->", b[:80])
left = collections.Counter()
for t in texts:
    for m in re.finditer(r"(.{0,3})(女士|先生|小姐|大爷|阿姨|奶奶|我叫|我姓|名叫)(.{0,3})", mask_names(t)):
        if not m.group(1).endswith("某"):
            left[m.group(0)] += 1
print("left unmasked title/cue contexts", sum(left.values()))
for k, n in left.most_common(40):
    print(" ", n, k)

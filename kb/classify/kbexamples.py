"""Training examples drawn from the knowledge base itself.

The taxonomy's own subtopic names, each standard answer's question and variants,
the head of its answer text, each problem-list entry, and each department's
keywords and duties are labelled by construction; they teach the model the vocabulary of every subtopic that eight
labelled tickets cannot.
"""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from kb.classify.duties import DutyBook


def kb_examples(corpus_dir: Path) -> list[tuple[str, str]]:
    from kb.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(corpus_dir / "taxonomy.yaml")
    out: list[tuple[str, str]] = [(sub.name, f"{sub.industry}:{code}") for code, sub in taxonomy.subtopics.items()]
    for kb in ("minzheng", "canlian"):
        for path in sorted((corpus_dir / kb / "answers").glob("*.yaml")):
            for a in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
                label = f"{kb}:{a['topics'][0]}"
                out.append((a["question"] + " " + " ".join(a.get("variants", [])), label))
                out.append((str(a.get("answer", ""))[:150], label))
        for path in sorted((corpus_dir / kb / "problems").glob("*.csv")):
            with open(path, encoding="utf-8-sig", newline="") as fh:
                for row in csv.DictReader(fh):
                    out.append((row["problem"], f"{kb}:{row['topics'].split(';')[0].strip()}"))
    book = DutyBook.load(corpus_dir / "duties")
    for dep in book.departments.values():
        if dep.id in ("minzheng", "canlian"):
            continue
        out.append((dep.duties, f"none:{dep.id}"))
        out.extend((k, f"none:{dep.id}") for k in dep.keywords)
    for pair in book.pairs:
        if pair.outside not in ("minzheng", "canlian"):
            out.extend((k, f"none:{pair.outside}") for k in pair.outside_keywords)
    return out


"""Issue #21 item 5: a CoNLL file with IOB2 inconsistencies (I-X after O,
after another type, opening a sentence) is evaluated, its F1, precision
and recall equal seqeval's default mode on the same gold and predicted
tags, the inconsistencies are counted in a warning of the context naming
file:line, and a strict context refuses the file at the first one.
Usage: iob2_seqeval.py DEMO_DIR TMP_DIR"""
import json
import random
import sys
from pathlib import Path

from seqeval.metrics import f1_score, precision_score, recall_score

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
from libqat import Context, Model, QatError, Tokenizer  # noqa: E402

demo, tmp = Path(sys.argv[1]), Path(sys.argv[2])
tmp.mkdir(parents=True, exist_ok=True)
labels = ["B-CMD", "B-OPT", "I-CMD", "I-OPT", "O"]
sentences = [s.split("\n") for s in (demo / "task.conll").read_text().strip().split("\n\n")][:60]
words = [[line.split("\t")[0] for line in s] for s in sentences]
rng = random.Random(7)


def write(path, tags):
    path.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(ws, ts)) for ws, ts in zip(words, tags)) + "\n")


def inconsistencies(path, tags):
    out, line = [], 0
    for ts in tags:
        prev = None
        for t in ts:
            line += 1
            if t[0] == "I" and not (prev and prev != "O" and prev[2:] == t[2:]):
                out.append(f"{path}:{line}: tag '{t}' " + (f"follows '{prev}'" if prev else "opens a sentence"))
            prev = t
        line += 1
    return out


ctx = Context("ref", threads=1)
model = Model.load(demo / "model", task="token-classification", num_labels=len(labels), context=ctx)
model.label_names = labels
tok = Tokenizer.load(demo / "spm.model")
first = tmp / "first.conll"
write(first, [[rng.choice(labels) for _ in ws] for ws in words])
model.evaluate(tok, first, 64, tmp / "first.json")
pred = json.loads((tmp / "first.json").read_text())["predictions"]
# Gold: the predictions with a third of the tags redrawn (so entities match
# and miss, and the file holds inconsistencies of every kind).
gold = [[rng.choice(labels) if rng.random() < 0.33 else p for p in ps] for ps in pred]
path = tmp / "gold.conll"
write(path, gold)
expected = inconsistencies(path, gold)
assert len(expected) > 5, expected
ctx.clear_warnings()
f1 = model.evaluate(tok, path, 64, tmp / "gold.json")
result = json.loads((tmp / "gold.json").read_text())
assert result["predictions"] == pred, "predictions changed with the gold file"
for name, ours, theirs in [("f1", f1, f1_score(gold, pred)), ("precision", result["precision"], precision_score(gold, pred)),
                           ("recall", result["recall"], recall_score(gold, pred))]:
    assert abs(ours - theirs) < 1e-12, f"{name}: libqat {ours} vs seqeval {theirs}"
warnings = ctx.warnings
assert len(warnings) == 1, warnings
assert f"{path}: {len(expected)} IOB2 inconsistencies" in warnings[0], warnings[0]
assert "; ".join(expected[:5]) in warnings[0], (expected[:5], warnings[0])
ctx.strict_iob = True
try:
    model.evaluate(tok, path, 64)
    raise AssertionError("a strict context accepted the inconsistencies")
except QatError as e:
    assert expected[0] + " (strict IOB2 needs B-" in str(e), str(e)
print(f"ok: F1 {f1:.4f} = seqeval's, {len(expected)} inconsistencies reported")

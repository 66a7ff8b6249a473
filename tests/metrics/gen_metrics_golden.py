#!/usr/bin/env python3
"""Oracle values for the metrics test: seqeval 1.2.2 (default mode) for NER,
scikit-learn for token classification, numpy for percentiles, on random and
adversarial tag sequences.  usage: gen_metrics_golden.py OUT.json"""
import json
import random
import sys
import warnings

import numpy as np
from seqeval.metrics import f1_score as seq_f1, precision_score as seq_p, recall_score as seq_r
from seqeval.metrics.sequence_labeling import precision_recall_fscore_support as seq_prfs
from sklearn.metrics import accuracy_score, f1_score

warnings.filterwarnings("ignore")

IOB2 = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
ODD = IOB2 + ["B-ORG-X", "I-ORG-X", "PER", "E-MISC", "S-MISC", ".", "I-", "B", "X", "\u00c9-PER", "B-\u00c9T\u00c9",
              "O-PER", "I_PER", "-"]


def ner_case(labels, gold, pred, name):
    g = [[labels[i] for i in s] for s in gold]
    p = [[labels[i] for i in s] for s in pred]
    pr, rc, f, sup = seq_prfs(g, p, average=None)
    # seqeval lists the types present, sorted; recompute the names the same way
    from seqeval.metrics.sequence_labeling import get_entities
    types = sorted({t for t, _, _ in get_entities(g)} | {t for t, _, _ in get_entities(p)})
    return {"name": name, "labels": labels, "gold": gold, "pred": pred,
            "precision": seq_p(g, p), "recall": seq_r(g, p), "f1": seq_f1(g, p),
            "per_type": {t: [float(pr[k]), float(rc[k]), float(f[k]), int(sup[k])] for k, t in enumerate(types)}}


def random_sentences(rng, n_labels, n_sent, max_len, weights=None):
    out = []
    for _ in range(n_sent):
        n = rng.randint(0, max_len)
        out.append([rng.choices(range(n_labels), weights=weights)[0] for _ in range(n)])
    return out


def perturb(rng, gold, n_labels, rate):
    return [[(rng.randrange(n_labels) if rng.random() < rate else x) for x in s] for s in gold]


def ner_cases(rng):
    cases = []
    L = IOB2
    adversarial = [
        ("i_without_b", [[0, 2, 2, 0, 4]], [[0, 1, 2, 0, 3]]),
        ("type_change", [[1, 4, 4, 0]], [[1, 2, 2, 0]]),
        ("b_after_b", [[1, 1, 1]], [[1, 2, 2]]),
        ("i_other_type_after_b", [[3, 2, 2, 4]], [[3, 4, 2, 2]]),
        ("entity_at_sentence_end", [[0, 1], [2, 2]], [[0, 1], [1, 2]]),
        ("empty_sentences", [[], [1, 2], []], [[], [1, 0], []]),
        ("all_o", [[0, 0], [0]], [[0, 0], [0]]),
        ("no_pred_entities", [[1, 2, 0]], [[0, 0, 0]]),
        ("no_gold_entities", [[0, 0, 0]], [[5, 6, 0]]),
        ("identical", [[1, 2, 0, 3, 5, 6]], [[1, 2, 0, 3, 5, 6]]),
        # degenerate: nothing at all, no gold entity but predicted ones
        ("only_empty_sentences", [[], [], []], [[], [], []]),
        ("single_token_entity", [[1]], [[1]]),
        ("pred_entities_no_gold", [[0, 0], [0]], [[1, 2], [3]]),
    ]
    for name, g, p in adversarial:
        cases.append(ner_case(L, g, p, name))
    for k in range(25):
        gold = random_sentences(rng, len(L), 30, 25, weights=[6, 2, 2, 1, 1, 1, 1])
        pred = perturb(rng, gold, len(L), [0.02, 0.1, 0.3, 0.6, 1.0][k % 5])
        cases.append(ner_case(L, gold, pred, "random_iob2_%d" % k))
    # odd tags: seqeval still chunks them by their first letter
    for k in range(25):
        gold = random_sentences(rng, len(ODD), 20, 15)
        pred = perturb(rng, gold, len(ODD), 0.4)
        cases.append(ner_case(ODD, gold, pred, "random_odd_%d" % k))
    # odd tags chaining across sentence separators
    cases.append(ner_case(ODD, [[ODD.index("X")], [ODD.index("X"), 1]], [[ODD.index("X")], [1, 2]], "x_across"))
    cases.append(ner_case(ODD, [[ODD.index("."), ODD.index("X"), 1]], [[ODD.index("X"), 1, 0]], "dot_then_x"))
    return cases


def cls_case(n_labels, gold, pred, name):
    g = [x for s in gold for x in s]
    p = [x for s in pred for x in s]
    return {"name": name, "n_labels": n_labels, "gold": gold, "pred": pred,
            "accuracy": accuracy_score(g, p),
            "micro": f1_score(g, p, average="micro"),
            "macro": f1_score(g, p, average="macro"),
            "weighted": f1_score(g, p, average="weighted")}


def cls_cases(rng):
    cases = [
        cls_case(3, [[0, 1, 2]], [[0, 1, 2]], "perfect"),
        cls_case(4, [[0, 0, 1]], [[3, 3, 3]], "pred_only_label"),
        cls_case(5, [[0, 1], [1]], [[0, 0], [0]], "missing_pred_label"),
        cls_case(6, [[2]], [[2]], "single"),
        # degenerate: empty sentences among others, one label everywhere,
        # everything wrong, one token, a label set mostly absent
        cls_case(3, [[], [1, 2], [], [0], []], [[], [1, 1], [], [0], []], "empty_sentences_mixed"),
        cls_case(4, [[3, 3, 3]], [[3, 3, 3]], "one_label_everywhere"),
        cls_case(2, [[0, 0]], [[1, 1]], "all_wrong"),
        cls_case(2, [[0]], [[1]], "one_token_wrong"),
        cls_case(50, [[7, 7, 9]], [[7, 9, 9]], "most_labels_absent"),
    ]
    for k in range(30):
        n_labels = rng.choice([2, 5, 17, 40])
        gold = random_sentences(rng, n_labels, rng.randint(1, 40), 30)
        if sum(len(s) for s in gold) == 0:
            gold[0] = [0]
        pred = perturb(rng, gold, n_labels, [0.05, 0.3, 0.9][k % 3])
        cases.append(cls_case(n_labels, gold, pred, "random_%d" % k))
    return cases


def percentile_cases(rng):
    out = []
    for n in [1, 2, 3, 10, 1000, 1001]:
        v = sorted(rng.random() for _ in range(n))
        for q in [0.0, 2.5, 25.0, 50.0, 97.5, 100.0]:
            out.append({"values": v, "q": q, "want": float(np.percentile(np.array(v), q))})
    return out


def main():
    rng = random.Random(20240611)
    data = {"ner": ner_cases(rng), "cls": cls_cases(rng), "percentile": percentile_cases(rng)}
    with open(sys.argv[1], "w") as f:
        json.dump(data, f)


if __name__ == "__main__":
    main()

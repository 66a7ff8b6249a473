"""Makes everything the demo needs, small and synthetic, in OUT_DIR:
  corpus.txt          in-domain French-like text for DAPT
  task.conll          a POS-tagging task (token<TAB>tag, blank line between sentences)
  corpus_small.txt,   the first 400 lines and 120 sentences of the two, for the quick
  task_small.conll    tests that check a run's bookkeeping rather than its learning
                      (they run under ASan and valgrind, where every sentence costs)
  spm.model           a SentencePiece unigram tokenizer trained on the corpus
  model/              a small RoBERTa-shaped encoder (config.json + model.safetensors),
                      initialised and saved by libqat itself
usage: make_demo.py OUT_DIR"""
from __future__ import annotations

import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))

WORDS = {
    "DET": ["le", "la", "les", "un", "une", "des", "ce", "cette"],
    "NOUN": ["patient", "médecin", "traitement", "dose", "hôpital", "infirmière", "symptôme", "fièvre", "analyse",
             "résultat", "cœur", "poumon", "tension", "douleur", "examen", "ordonnance"],
    "ADJ": ["aiguë", "chronique", "élevée", "légère", "sévère", "normal", "cardiaque", "rénale"],
    "VERB": ["présente", "reçoit", "montre", "prescrit", "surveille", "diminue", "augmente", "évalue"],
    "ADP": ["dans", "avec", "pour", "sans", "après", "pendant"],
    "NUM": ["2", "10", "37,5", "120", "3", "500"],
    "PUNCT": [".", ",", ";"],
}
TEMPLATES = [
    ["DET", "NOUN", "VERB", "DET", "NOUN", "ADJ", "PUNCT"],
    ["DET", "NOUN", "ADJ", "VERB", "NUM", "NOUN", "ADP", "DET", "NOUN", "PUNCT"],
    ["ADP", "DET", "NOUN", "PUNCT", "DET", "NOUN", "VERB", "DET", "NOUN", "PUNCT"],
    ["DET", "NOUN", "VERB", "ADP", "DET", "NOUN", "ADJ", "PUNCT"],
]


def sentence(rng: random.Random):
    template = rng.choice(TEMPLATES)
    return [(rng.choice(WORDS[tag]), tag) for tag in template]


def main() -> None:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(42)
    corpus = [" ".join(w for w, _ in sentence(rng) + sentence(rng)) + "\n" for _ in range(4000)]
    task = ["".join(f"{word}\t{tag}\n" for word, tag in sentence(rng)) + "\n" for _ in range(600)]
    for name, lines in (("corpus.txt", corpus), ("corpus_small.txt", corpus[:400]),
                        ("task.conll", task), ("task_small.conll", task[:120])):
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.writelines(lines)

    import sentencepiece as spm
    # RoBERTa's special ids: <s>=0 <pad>=1 </s>=2 <unk>=3, and a <mask> piece.
    spm.SentencePieceTrainer.train(
        input=os.path.join(out, "corpus.txt"), model_prefix=os.path.join(out, "spm"), vocab_size=100,
        model_type="unigram", bos_id=0, pad_id=1, eos_id=2, unk_id=3, user_defined_symbols=["<mask>"],
        character_coverage=1.0, minloglevel=2)
    vocab = spm.SentencePieceProcessor(model_file=os.path.join(out, "spm.model")).get_piece_size()

    import libqat
    model = libqat.Model.create(arch="roberta", task="mlm", context=libqat.Context("ref", seed=1), vocab_size=vocab,
                                hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128,
                                max_position_embeddings=72, pad_token_id=1)
    model.save(os.path.join(out, "model"))
    print(f"demo data in {out}: vocabulary {vocab}, encoder 2 x 64")


if __name__ == "__main__":
    main()

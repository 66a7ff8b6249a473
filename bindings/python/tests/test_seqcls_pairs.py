"""Pairs of texts for sequence classification through the Python bindings:
Tokenizer.encode_pair against transformers' BertTokenizerFast and
RobertaTokenizerFast (ids, token type ids, longest_first truncation), a BERT
classifier on encoded pairs against BertForSequenceClassification (logits,
loss and gradients with token type ids, the trainer's typed step), and the
pipeline plus Model.evaluate on TSV / JSONL pair files."""
import json
import random
import sys

import numpy as np
import pytest
import torch

import libqat

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "model"))
sys.path.insert(0, str(ROOT / "tests" / "tokenizer"))
from reference import build_model, quantize_model  # noqa: E402

pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")


def rel(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


@pytest.fixture(scope="module")
def hf_dirs(tmp_path_factory):
    """HF directories saved by BertTokenizerFast / RobertaTokenizerFast from
    tokenizers trained here on the French text generator."""
    import french_text
    import json_fixtures
    out = tmp_path_factory.mktemp("hf")
    train = french_text.lines(800, seed=1)
    dirs = {}
    for name, kind, cls, mtype, kw in [("bert", "wordpiece", transformers.BertTokenizerFast, "bert", {}),
                                       ("roberta", "bpe", transformers.RobertaTokenizerFast, "roberta",
                                        {"add_prefix_space": True})]:
        path = out / f"{name}.json"
        json_fixtures._train(kind, train, True, vocab_size=400).save(str(path))
        d = out / name
        cls(tokenizer_file=str(path), **kw).save_pretrained(d)
        (d / "config.json").write_text(json.dumps({"model_type": mtype}))
        dirs[name] = d
    return dirs


def pairs(n, seed):
    import french_text
    rng = random.Random(seed)
    texts = [t for t in french_text.lines(200, seed=seed) if t.strip()]
    return [(rng.choice(texts), rng.choice(texts)) for _ in range(n)]


@pytest.mark.parametrize("name", ["bert", "roberta"])
def test_encode_pair_matches_transformers(hf_dirs, name):
    ref = transformers.AutoTokenizer.from_pretrained(hf_dirs[name])
    tok = libqat.Tokenizer.load(hf_dirs[name])
    truncated = 0
    for a, b in pairs(60, seed=3):
        for max_length in (None, 9, 16, 17, 33):
            kw = dict(truncation=True, max_length=max_length) if max_length else {}
            want = ref(a, b, return_token_type_ids=True, **kw)
            ids, types = tok.encode_pair(a, b, max_length=max_length)
            assert ids == want["input_ids"], (a, b, max_length)
            assert types == want["token_type_ids"], (a, b, max_length)
            truncated += max_length is not None and len(ids) == max_length
        want = ref(a, return_token_type_ids=True)
        assert tok.encode_pair(a) == (want["input_ids"], want["token_type_ids"])
    assert truncated > 50
    if name == "bert":
        ids, types = tok.encode_pair("le chat", "dort")
        sep = ids.index(tok.special_id("sep"))
        assert types == [0] * (sep + 1) + [1] * (len(ids) - sep - 1)
    with pytest.raises(libqat.QatError, match="special tokens"):
        tok.encode_pair("le chat", "dort", max_length=2)


def batch_of(tok, examples, max_length):
    enc = [tok.encode_pair(a, b, max_length=max_length) for a, b in examples]
    seq = max(len(i) for i, _ in enc)
    ids = np.zeros((len(enc), seq), dtype=np.int64)  # BERT's [PAD] is 0
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for r, (i, t) in enumerate(enc):
        ids[r, :len(i)], mask[r, :len(i)], types[r, :len(t)] = i, 1, t
    return ids, mask, types


@pytest.mark.parametrize("config", ["FP32", "E8W8A8", "E6W1.58A6"])
def test_bert_pairs_logits_loss_gradients_and_trainer_step(hf_dirs, config):
    tok = libqat.Tokenizer.load(hf_dirs["bert"])
    ids, mask, types = batch_of(tok, pairs(4, seed=5), max_length=24)
    assert types.sum() > 0  # the second texts are type 1
    dims = dict(vocab=tok.vocab_size, hidden=20, layers=2, heads=4, inter=36, positions=32, types=2, pad=0,
                labels=3, eps=1e-12)
    ref = build_model("bert", "seqcls", dims, seed=11)
    with torch.no_grad():  # at HF's init scale (0.02) the logits hardly depend on the input: make them
        ref.bert.embeddings.token_type_embeddings.weight.mul_(10.0)
        ref.classifier.weight.mul_(50.0)
    quantize_model(ref, config)
    labels = np.array([0, 2, 1, 2])
    t = dict(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
             token_type_ids=torch.from_numpy(types))
    with torch.no_grad():
        ref(**t)  # initialises the activation quantizers on this batch, as libqat's first forward does
        want_logits = ref(**t).logits.numpy()
    ref.zero_grad()
    out = ref(**t, labels=torch.from_numpy(labels))
    out.loss.backward()

    def make():
        m = libqat.Model.create(arch="bert", task="sequence-classification", context=libqat.Context("ref"),
                                quant=config, vocab_size=dims["vocab"], hidden_size=20, num_layers=2, num_heads=4,
                                intermediate_size=36, max_position_embeddings=32, type_vocab_size=2, pad_token_id=0,
                                num_labels=3, layer_norm_eps=1e-12, hidden_dropout=0.0, attention_dropout=0.0,
                                classifier_dropout=0.0)
        names = set(m.parameter_names())
        for name, value in ref.state_dict().items():
            if value.is_floating_point() and name in names:  # quantizer steps included, initialised
                m.set_parameter(name, value.numpy())
        return m

    model = make()
    assert rel(model.forward(ids, mask, types), want_logits) <= 1e-4
    loss = model.backward(ids, mask, labels, types)
    assert loss == pytest.approx(out.loss.item(), rel=1e-4)
    params = dict(ref.named_parameters())
    for name in model.parameter_names():
        want, got = params[name].grad.numpy(), model.get_gradient(name)
        assert rel(got, want) <= 1e-3 or np.sqrt(np.mean((got - want) ** 2)) <= 1e-6, name
    # The trainer's typed step sees the types: its loss is transformers' (no
    # dropout), and type 1's embedding gets a gradient, which a step that
    # leaves the types out never gives it.
    table = "bert.embeddings.token_type_embeddings.weight"
    for micro in (0, 2):  # micro-batches split the types with the rows
        typed = make()
        step = libqat.Trainer(typed, total_steps=4, batch_size=4, micro_batch_size=micro)
        assert step.step(ids, mask, labels, types) == pytest.approx(out.loss.item(), rel=1e-4)
        assert np.abs(typed.get_gradient(table)[1]).max() > 0
    untyped = make()
    libqat.Trainer(untyped, total_steps=4, batch_size=4).step(ids, mask, labels)
    assert np.abs(untyped.get_gradient(table)[1]).max() == 0


def write_task(path, n, seed):
    """'yes' when the first text starts with `le` or the second with `un`."""
    rng = random.Random(seed)
    rest = ["patient présente une fièvre", "médecin prescrit un traitement", "dose augmente", "examen normal"]
    rows = []
    for _ in range(n):
        a, b = rng.choice(["le", "un", "ce"]), rng.choice(["le", "un", "ce"])
        rows.append((f"{a} {rng.choice(rest)}", f"{b} {rng.choice(rest)}", "yes" if a == "le" or b == "un" else "no"))
    if str(path).endswith(".jsonl"):
        path.write_text("".join(json.dumps({"premise": p, "hypothesis": h, "label": y}) + "\n" for p, h, y in rows))
    else:
        path.write_text("sentence1\tsentence2\tlabel\n" + "".join(f"{p}\t{h}\t{y}\n" for p, h, y in rows))


def test_pipeline_and_evaluate_on_pair_files(hf_dirs, tmp_path):
    tok = libqat.Tokenizer.load(hf_dirs["bert"])
    model = libqat.Model.create(arch="bert", task="mlm", context=libqat.Context("ref"), vocab_size=tok.vocab_size,
                                hidden_size=32, num_layers=1, num_heads=4, intermediate_size=64,
                                max_position_embeddings=64, type_vocab_size=2, pad_token_id=0)
    model.save(tmp_path / "bert")
    write_task(tmp_path / "train.tsv", 48, 1)
    write_task(tmp_path / "eval.jsonl", 16, 2)
    write_task(tmp_path / "test.jsonl", 24, 3)
    acc = libqat.run_pipeline(tmp_path / "bert", tmp_path / "train.tsv", tmp_path / "run", tokenizer=hf_dirs["bert"],
                              quant="E8W8A8", total_steps=4, eval_file=tmp_path / "eval.jsonl",
                              test_file=tmp_path / "test.jsonl", max_seq_len=32, batch_size=8, learning_rate=1e-3,
                              context=libqat.Context("ref"))
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["task"] == "sequence-classification"
    assert results["test"]["f1_metric"] == "accuracy"
    assert results["test"]["accuracy"] == acc and results["test"]["examples"] == 24
    saved = libqat.Model.load(tmp_path / "run" / "model", task="sequence-classification", context=libqat.Context("ref"))
    assert saved.label_names == ["no", "yes"]
    assert saved.evaluate(tok, tmp_path / "test.jsonl", max_seq_len=32, results_path=tmp_path / "e.json") == acc
    ev = json.loads((tmp_path / "e.json").read_text())
    assert ev["macro_f1"] == results["test"]["macro_f1"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"premise": "le chat", "hypothesis": "dort", "label": "yes"}\n{"premise": "x", "label": "no"}\n')
    with pytest.raises(libqat.QatError, match="bad.jsonl:2: no second text"):
        saved.evaluate(tok, bad, max_seq_len=32)


@pytest.mark.parametrize("config", ["E8W8A8", "E6W1.58A6"])
def test_packed_sequence_classifier_on_pairs(hf_dirs, tmp_path, config):
    """The packed model's pooler and classifier: logits of encoded pairs
    equal the fake-quant model's, and its embedded tokenizer encodes pairs."""
    tok = libqat.Tokenizer.load(hf_dirs["bert"])
    ids, mask, types = batch_of(tok, pairs(5, seed=9), max_length=20)
    model = libqat.Model.create(arch="bert", task="sequence-classification", context=libqat.Context("ref"),
                                quant=config, vocab_size=tok.vocab_size, hidden_size=32, num_layers=2, num_heads=4,
                                intermediate_size=48, max_position_embeddings=32, type_vocab_size=2,
                                pad_token_id=0, num_labels=3)
    want = model.forward(ids, mask, types)  # calibrates the activation steps
    want = model.forward(ids, mask, types)
    libqat.export(model, tmp_path / "m.qatp", tokenizer=hf_dirs["bert"])
    with libqat.PackedModel(tmp_path / "m.qatp") as pm:
        assert pm.info("task") == 3 and pm.info("num_labels") == 3
        got = pm.forward(ids, mask, types)
        assert got.shape == (5, 3)
        assert rel(got, want) <= 1e-4
        assert (got.argmax(1) == want.argmax(1)).all()
        assert pm.tokenizer().encode_pair("le chat", "dort") == tok.encode_pair("le chat", "dort")

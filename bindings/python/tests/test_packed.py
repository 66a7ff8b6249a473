"""libqat.PackedModel and libqat.estimate through the Python bindings:
packed inference against Model.forward, malformed files, and the
footprint / BitOPs figures of docs/method.md section 8 computed here independently."""
import json
import zlib

import numpy as np
import pytest

import libqat
from libqat.packed import PackedModel, estimate, export

CONFIGS = ["FP32", "E8W8A8", "E4W4A4", "E2W2A2", "E6W2A6", "E6W1.58A6"]


def rel(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def tiny(arch, task, quant):
    m = libqat.Model.create(arch=arch, task=task, quant=quant, vocab_size=30, hidden_size=16, num_layers=2,
                            num_heads=2, intermediate_size=40, max_position_embeddings=20, type_vocab_size=2,
                            pad_token_id=1 if arch == "roberta" else 0, num_labels=4)
    rng = np.random.default_rng(3)
    for name in m.parameter_names():
        v = m.get_parameter(name)
        if v.ndim == 1 and not name.endswith(".step"):
            m.set_parameter(name, v + rng.uniform(-0.1, 0.1, v.shape).astype(np.float32))
    ids = rng.integers(2, 30, size=(2, 6)).astype(np.int32)
    mask = np.ones_like(ids)
    ids[1, 4:], mask[1, 4:] = (1 if arch == "roberta" else 0), 0
    return m, ids, mask


@pytest.mark.parametrize("quant", CONFIGS)
@pytest.mark.parametrize("arch,task", [("roberta", "mlm"), ("bert", "token-classification")])
def test_packed_matches_fake_quant(tmp_path, quant, arch, task):
    m, ids, mask = tiny(arch, task, quant)
    m.forward(ids, mask)  # calibrates LSQ activation steps
    want = m.forward(ids, mask)
    export(m, tmp_path / "m.qatp")
    with PackedModel(tmp_path / "m.qatp") as pm:
        assert pm.quant == quant
        for threads in (1, 2):
            pm.threads = threads
            got = pm.forward(ids, mask)
            assert got.shape == want.shape
            assert rel(got, want) <= 1e-4
            assert (got.argmax(-1) == want.argmax(-1)).all()


@pytest.mark.parametrize("quant", ["E6W1.58A6", "E4W4A4"])
def test_smaller_batch_after_larger_one(tmp_path, quant):
    """The scratch only grows: a forward of fewer tokens after a larger one
    reuses it and gives a fresh model's bits (batch 1 of 6 tokens after
    batch 2, and a shorter sequence after that)."""
    m, ids, mask = tiny("bert", "token-classification", quant)
    m.forward(ids, mask)
    export(m, tmp_path / "m.qatp")
    with PackedModel(tmp_path / "m.qatp") as fresh:
        want_row = fresh.forward(ids[:1], mask[:1])
    with PackedModel(tmp_path / "m.qatp") as fresh:
        want_short = fresh.forward(ids[:1, :4], mask[:1, :4])
    with PackedModel(tmp_path / "m.qatp") as pm:
        both = pm.forward(ids, mask)
        assert np.array_equal(pm.forward(ids[:1], mask[:1]), want_row)
        assert np.array_equal(pm.forward(ids[:1, :4], mask[:1, :4]), want_short)
        assert np.array_equal(pm.forward(ids, mask), both)


@pytest.mark.parametrize("quant", ["E6W1.58A6", "E8W8A8"])
def test_isa_paths_bit_identical(tmp_path, monkeypatch, quant):
    """Every integer path this CPU has gives the scalar path's bits; PackedModel.isa
    says which one runs (auto: QAT_ISA, read when the path is resolved)."""
    m, ids, mask = tiny("bert", "token-classification", quant)
    m.forward(ids, mask)
    export(m, tmp_path / "m.qatp")
    monkeypatch.delenv("QAT_ISA", raising=False)
    with PackedModel(tmp_path / "m.qatp") as pm:
        paths = libqat.isa_paths()
        assert paths[:2] == ["auto", "scalar"] and {"avx2", "avx512vnni", "onednn", "neon", "amx", "i8mm", "avx512vbmi"} <= set(paths)
        assert pm.isa in paths[1:]
        with pytest.raises(ValueError, match="'sse9' is not one of auto, scalar"):
            pm.set_isa("sse9")
        pm.set_isa("scalar")
        assert pm.isa == "scalar"
        ref = pm.forward(ids, mask)
        for isa in paths[2:]:
            try:
                pm.set_isa(isa)
            except libqat.QatError as e:
                assert "unavailable" in str(e)
                print(f"SKIP: ISA path {isa} not tested: {e}")
                continue
            assert pm.isa == isa
            assert np.array_equal(pm.forward(ids, mask), ref), isa
        pm.set_isa("auto")
        monkeypatch.setenv("QAT_ISA", "scalar")
        assert pm.isa == "scalar"


def test_malformed_and_tokenizer(tmp_path):
    m, ids, mask = tiny("bert", "mlm", "E6W1.58A6")
    m.forward(ids, mask)
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n")
    export(m, tmp_path / "m.qatp", tokenizer=vocab, ternary="1.6")
    data = (tmp_path / "m.qatp").read_bytes()
    pm = PackedModel(data=data)
    assert pm.info("has_tokenizer") == 1 and pm.info("file_bytes") == len(data)
    assert pm.tokenizer().encode("hello world") == [5, 6]
    pm.close()
    for bad in (data[:-1], b"X" + data[1:], data[:100] + bytes([data[100] ^ 1]) + data[101:], b""):
        with pytest.raises(libqat.QatError):
            PackedModel(data=bad)


def expected(cfg, quant, seq):
    """docs/method.md section 8 from the config, written out independently."""
    bits = {"FP32": (32, 32, 32), "E8W8A8": (8, 8, 8), "E4W4A4": (4, 4, 4), "E2W2A2": (2, 2, 2),
            "E6W2A6": (6, 2, 6), "E6W1.58A6": (6, 2, 6)}[quant]
    e, w, a = bits
    h, i, n = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    tables = (cfg["vocab_size"] + cfg["max_position_embeddings"] + cfg["type_vocab_size"]) * h
    linear = n * (4 * h * h + 2 * h * i)      # q, k, v, attention output, intermediate, output
    floats = n * (4 * h + i + h) + n * 4 * h + 2 * h   # linear biases, 2 LayerNorms/layer, embedding LN
    size_bits = tables * e + linear * w + floats * 32
    return size_bits / 8, w * a * linear * seq


@pytest.mark.parametrize("quant", CONFIGS)
def test_estimate(tmp_path, quant):
    for cfg in ({"model_type": "camembert", "vocab_size": 32005, "hidden_size": 768, "num_hidden_layers": 12,
                 "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 514,
                 "type_vocab_size": 1, "pad_token_id": 1},
                {"model_type": "bert", "vocab_size": 30522, "hidden_size": 256, "num_hidden_layers": 4,
                 "num_attention_heads": 4, "intermediate_size": 1024, "max_position_embeddings": 512,
                 "type_vocab_size": 2, "pad_token_id": 0}):
        path = tmp_path / "config.json"
        path.write_text(json.dumps(cfg))
        for seq in (128, 512):
            size, bitops = estimate(path, quant, seq)
            want_size, want_bitops = expected(cfg, quant, seq)
            assert size == pytest.approx(want_size, rel=1e-12)
            assert bitops == pytest.approx(want_bitops, rel=1e-12)
    # the study's CamemBERT-base figures: FP32 440 MB, 44.5 TBitOPs at 512 tokens
    if quant == "FP32":
        path.write_text(json.dumps({"model_type": "camembert", "vocab_size": 32005, "hidden_size": 768,
                                    "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
                                    "max_position_embeddings": 514, "type_vocab_size": 1, "pad_token_id": 1}))
        size, bitops = estimate(path, "FP32", 512)
        assert round(size / 1e6) == 440 and round(bitops / 1e12, 1) == 44.5


def reseal(d: bytearray) -> bytes:
    """Header size and CRC32 trailer fixed up after an edit (docs/formats.md)."""
    d[16:24] = len(d).to_bytes(8, "little")
    d[-8:-4] = (zlib.crc32(bytes(d[:-8])) & 0xFFFFFFFF).to_bytes(4, "little")
    return bytes(d)


@pytest.mark.parametrize("task", ["token-classification", "sequence-classification"])
def test_label_names(tmp_path, task):
    m, ids, mask = tiny("bert", task, "E8W4A8")
    m.forward(ids, mask)
    m.label_names = ["O", "B-MÉD", "I-MÉD", "B-PER"]
    export(m, tmp_path / "m.qatp")
    data = (tmp_path / "m.qatp").read_bytes()
    with PackedModel(data=data) as pm:
        assert pm.info("has_label_names") == 1
        assert pm.label_names == m.label_names == ["O", "B-MÉD", "I-MÉD", "B-PER"]
    # A corrupted record is refused, naming it: 3 names for 4 labels.
    at = data.index(b"labels")
    payload = (at + len(b"labels") + 7) & ~7
    bad = bytearray(data)
    bad[payload:payload + 4] = (3).to_bytes(4, "little")
    with pytest.raises(libqat.QatError, match="'labels' has 3 names for 4 labels"):
        PackedModel(data=reseal(bad))


def test_no_label_names(tmp_path):
    m, ids, mask = tiny("roberta", "token-classification", "E6W1.58A6")
    m.forward(ids, mask)
    assert m.label_names is None
    export(m, tmp_path / "m.qatp")
    with PackedModel(tmp_path / "m.qatp") as pm:
        assert pm.label_names is None and pm.info("has_label_names") == 0
        assert pm.forward(ids, mask).shape == (2, 6, 4)

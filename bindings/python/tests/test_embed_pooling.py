"""The model's own pooling (QAT_POOLING_MODEL): read from a
sentence-transformers checkpoint (modules.json, 1_Pooling/config.json, a
Normalize module), saved back, exported to .qatp, and packed embeddings
(PackedModel.embed) against transformers on the real all-MiniLM-L6-v2 and
against the fake-quant Model.embed. Bad module files are refused or
reported by name. The minilm fixture is conftest.py's."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import libqat
from libqat.packed import PackedModel, export
from sentence_oracle import encode_batch, pooled

MODES = ["pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens",
         "pooling_mode_mean_sqrt_len_tokens"]


def st_pooling(d):
    """(pooling, normalize) as sentence-transformers builds them from d."""
    modules = json.loads((d / "modules.json").read_text())
    types = [m["type"].rsplit(".", 1)[-1] for m in modules]
    cfg = json.loads((d / modules[types.index("Pooling")]["path"] / "config.json").read_text())
    pooling = "cls" if cfg["pooling_mode_cls_token"] else "mean"
    return pooling, "Normalize" in types[types.index("Pooling"):]


SENTENCES = ["A man is eating food.", "Packed ternary encoders on small CPUs."]


def torch_embed(hf, ids, mask, pooling, normalize):
    with torch.no_grad():
        return pooled(hf, ids, mask, pooling, normalize).numpy()


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_checkpoint_pooling_by_default_and_packed(minilm, tmp_path):
    """One load of the real checkpoint (loading is most of the time): its
    pooling by default, FP32 packed against transformers, then ternary
    packed against the fake-quant model."""
    from transformers import BertModel
    pooling, normalize = st_pooling(minilm)
    ids, mask = encode_batch(minilm, SENTENCES)
    hf = BertModel.from_pretrained(str(minilm)).eval()
    ref = torch_embed(hf, ids, mask, pooling, normalize)
    model = libqat.Model.load(str(minilm))
    assert model.pooling == (pooling, normalize)
    st_max = json.loads((minilm / "sentence_bert_config.json").read_text())["max_seq_length"]
    assert model.max_seq_length == st_max
    assert rel(model.embed(ids, mask), ref) < 1e-5  # the checkpoint's own pooling
    other = "cls" if pooling == "mean" else "mean"
    export(model, tmp_path / "fp32.qatp", tokenizer=minilm)  # FP32: the packed runtime's float path
    with PackedModel(tmp_path / "fp32.qatp") as pm:
        assert pm.pooling == (pooling, normalize)
        assert pm.max_seq_length == st_max
        assert rel(pm.embed(ids, mask), ref) < 1e-5
        assert rel(pm.embed(ids, mask, pooling=other), model.embed(ids, mask, pooling=other)) < 1e-5
    cli_embed_matches(minilm, hf, tmp_path / "fp32.qatp", pooling, normalize)
    model.set_quant("E6W1.58A6")
    model.forward(ids, mask)  # calibrates the LSQ activation steps
    want = model.embed(ids, mask)
    assert rel(want, ref) > 1e-3  # quantized: a different model from the float one
    export(model, tmp_path / "q.qatp")
    with PackedModel(tmp_path / "q.qatp") as pm:
        assert pm.info("integer_linears") == 6 * 6
        for threads in (1, 2):
            pm.threads = threads
            assert rel(pm.embed(ids, mask), want) < 1e-4


def qat_cli():
    lib = os.environ.get("LIBQAT_LIBRARY")
    cli = Path(lib).resolve().parent / "examples" / "qat" / "qat" if lib else None
    return cli if cli and cli.exists() else None


def cli_embed_matches(minilm, hf, qatp, pooling, normalize):
    """qat infer --embed tokenizes as sentence-transformers does ([CLS] text [SEP]) and pools the
    checkpoint's way: against transformers on the same text."""
    from tokenizers import Tokenizer
    cli = qat_cli()
    if cli is None:
        return  # the CLI is built next to the library in the build tree (-Dexamples=true)
    text = "A man is eating a piece of bread."
    out = subprocess.run([str(cli), "infer", str(qatp), "--embed", "--threads", "1", "--text", text],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == 1
    got = np.array([float(x) for x in out[0].split("\t")], np.float32)[None]
    tok = Tokenizer.from_file(str(minilm / "tokenizer.json"))
    tok.no_padding()
    ids = np.array([tok.encode(text).ids], np.int32)
    want = torch_embed(hf, ids, np.ones_like(ids), pooling, normalize)
    assert rel(got, want) < 1e-5
    cls = subprocess.run([str(cli), "infer", str(qatp), "--embed", "--pooling", "cls", "--text", text],
                         capture_output=True, text=True, check=True).stdout
    assert rel(np.array([float(x) for x in cls.split()], np.float32)[None],
               torch_embed(hf, ids, np.ones_like(ids), "cls", False)) < 1e-5
    # A text longer than sentence_bert_config.json's max_seq_length: cut there, as sentence-transformers
    # cuts it (its tokenizer truncates at max_seq_length, specials included).
    st_max = json.loads((minilm / "sentence_bert_config.json").read_text())["max_seq_length"]
    long_text = " ".join(["the packed encoder reads a long line"] * (st_max // 4))
    out = subprocess.run([str(cli), "infer", str(qatp), "--embed", "--threads", "1", "--text", long_text],
                         capture_output=True, text=True, check=True).stdout
    tok.enable_truncation(max_length=st_max)
    ids = np.array([tok.encode(long_text).ids], np.int32)
    assert ids.shape[1] == st_max
    want = torch_embed(hf, ids, np.ones_like(ids), pooling, normalize)
    assert rel(np.array([float(x) for x in out.split()], np.float32)[None], want) < 1e-5


def tiny_dir(tmp_path, pooling_cfg=None, modules=None, transformer_cfg=None):
    m = libqat.Model.create(arch="bert", task="mlm", vocab_size=30, hidden_size=16, num_layers=1, num_heads=2,
                            intermediate_size=32, max_position_embeddings=20, type_vocab_size=2, pad_token_id=0)
    d = tmp_path / "tiny"
    m.save(d)
    m.close()
    if modules is not None:
        (d / "modules.json").write_text(modules if isinstance(modules, str) else json.dumps(modules))
    if pooling_cfg is not None:
        (d / "1_Pooling").mkdir(exist_ok=True)
        (d / "1_Pooling" / "config.json").write_text(
            pooling_cfg if isinstance(pooling_cfg, str) else json.dumps(pooling_cfg))
    if transformer_cfg is not None:
        (d / "sentence_bert_config.json").write_text(
            transformer_cfg if isinstance(transformer_cfg, str) else json.dumps(transformer_cfg))
    return d


def st_modules(*kinds, pooling_path="1_Pooling"):
    paths = {"Transformer": "", "Pooling": pooling_path, "Normalize": "2_Normalize", "Dense": "2_Dense"}
    return [{"idx": i, "name": str(i), "path": paths[k], "type": f"sentence_transformers.models.{k}"}
            for i, k in enumerate(kinds)]


def pooling_cfg(mode, dim=16):
    return {"word_embedding_dimension": dim, **{m: m == mode for m in MODES}}


IDS = np.array([[2, 5, 7, 9, 0, 0], [3, 4, 8, 11, 12, 6]], np.int32)
MASK = np.array([[1, 1, 1, 1, 0, 0], [1] * 6], np.int32)


@pytest.mark.parametrize("mode,normalize", [("pooling_mode_cls_token", False), ("pooling_mode_cls_token", True),
                                            ("pooling_mode_mean_tokens", True)])
def test_pooling_read_and_saved_back(tmp_path, mode, normalize):
    kinds = ["Transformer", "Pooling"] + (["Normalize"] if normalize else [])
    d = tiny_dir(tmp_path, pooling_cfg(mode), st_modules(*kinds))
    pooling = "cls" if mode == "pooling_mode_cls_token" else "mean"
    m = libqat.Model.load(d)
    assert m.pooling == (pooling, normalize)
    assert np.array_equal(m.embed(IDS, MASK), m.embed(IDS, MASK, pooling=pooling, normalize=normalize))
    m.save(tmp_path / "again")
    assert st_pooling(tmp_path / "again") == (pooling, normalize)  # as sentence-transformers reads it
    assert libqat.Model.load(tmp_path / "again").pooling == (pooling, normalize)


def test_no_pooling_said_is_mean(tmp_path):
    m = libqat.Model.load(tiny_dir(tmp_path))
    assert m.pooling == ("mean", False)
    assert np.array_equal(m.embed(IDS, MASK), m.embed(IDS, MASK, pooling="mean"))
    m.set_pooling("cls", True)
    assert m.pooling == ("cls", True)
    m.forward(IDS, MASK)
    export(m, tmp_path / "t.qatp")
    with PackedModel(tmp_path / "t.qatp") as pm:
        assert pm.pooling == ("cls", True)
        assert rel(pm.embed(IDS, MASK), m.embed(IDS, MASK)) < 1e-5
    with pytest.raises(ValueError, match="pooling"):
        m.set_pooling("max")


@pytest.mark.parametrize("modules,cfg,why", [
    (st_modules("Transformer", "Pooling"), pooling_cfg("pooling_mode_max_tokens"), "pooling_mode_max_tokens"),
    (st_modules("Transformer", "Pooling"), {**pooling_cfg("pooling_mode_cls_token"), "pooling_mode_mean_tokens": True},
     "exactly one"),
    (st_modules("Transformer", "Pooling", "Dense"), pooling_cfg("pooling_mode_mean_tokens"), "2_Dense"),
    (st_modules("Transformer"), None, "no Pooling module"),
])
def test_unsupported_pooling_is_named(tmp_path, modules, cfg, why):
    m = libqat.Model.load(tiny_dir(tmp_path, cfg, modules))  # loads: the encoder is usable
    with pytest.raises(libqat.QatError, match=why):
        m.pooling
    with pytest.raises(libqat.QatError, match=why):
        m.embed(IDS, MASK)
    assert m.embed(IDS, MASK, pooling="mean").shape == (2, 16)
    m.forward(IDS, MASK)
    export(m, tmp_path / "u.qatp")
    with PackedModel(tmp_path / "u.qatp") as pm:  # the reason travels with the file
        with pytest.raises(libqat.QatError, match=why):
            pm.embed(IDS, MASK)
        assert pm.embed(IDS, MASK, pooling="cls").shape == (2, 16)


@pytest.mark.parametrize("modules,cfg,why", [
    ("[{", None, "modules.json"),
    ({"0": {}}, None, "not a JSON array"),
    ([{"idx": 0, "path": "", "type": 3}], None, "type"),
    ([{"idx": 0, "type": "sentence_transformers.models.Pooling"}], None, "lacks its path"),
    (st_modules("Transformer", "Pooling", pooling_path="../elsewhere"), None, "leaves the checkpoint"),
    (st_modules("Transformer", "Pooling"), None, "config.json"),
    (st_modules("Transformer", "Pooling"), pooling_cfg("pooling_mode_mean_tokens", dim=384),
     "word_embedding_dimension 384"),
    (st_modules("Transformer", "Pooling"), {**pooling_cfg("pooling_mode_mean_tokens"), "pooling_mode_cls_token": 1},
     "pooling_mode_cls_token"),
    (st_modules("Transformer", "Pooling"), "[]", "not a JSON object"),
])
def test_malformed_module_files_refused(tmp_path, modules, cfg, why):
    d = tiny_dir(tmp_path, cfg, modules)
    with pytest.raises(libqat.QatError, match=why):
        libqat.Model.load(d)


def test_max_seq_length_read_saved_and_exported(tmp_path):
    d = tiny_dir(tmp_path, pooling_cfg("pooling_mode_mean_tokens"), st_modules("Transformer", "Pooling"),
                 {"max_seq_length": 12, "do_lower_case": False})
    m = libqat.Model.load(d)
    assert m.max_seq_length == 12
    m.set_pooling("cls")  # the pooling changes, the truncation stays
    assert m.max_seq_length == 12
    m.save(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "sentence_bert_config.json").read_text())["max_seq_length"] == 12
    assert libqat.Model.load(tmp_path / "again").max_seq_length == 12
    m.forward(IDS, MASK)
    export(m, tmp_path / "m.qatp")
    with PackedModel(tmp_path / "m.qatp") as pm:
        assert pm.max_seq_length == 12
    assert libqat.Model.load(tiny_dir(tmp_path / "none")).max_seq_length is None


@pytest.mark.parametrize("cfg,why", [
    ({"max_seq_length": 0}, "max_seq_length"),
    ({"max_seq_length": 70000}, "max_seq_length"),
    ({"max_seq_length": "256"}, "max_seq_length"),
    ("[1]", "not a JSON object"),
    ("{", "sentence_bert_config.json"),
])
def test_malformed_sentence_bert_config_refused(tmp_path, cfg, why):
    with pytest.raises(libqat.QatError, match=why):
        libqat.Model.load(tiny_dir(tmp_path, transformer_cfg=cfg))


def test_do_lower_case_is_named(tmp_path):
    """sentence-transformers lower-cases the text itself when do_lower_case is set; libqat's tokenizers
    do not, so the checkpoint's own embedding is refused by name rather than computed differently."""
    d = tiny_dir(tmp_path, pooling_cfg("pooling_mode_mean_tokens"), st_modules("Transformer", "Pooling"),
                 {"max_seq_length": 12, "do_lower_case": True})
    m = libqat.Model.load(d)
    with pytest.raises(libqat.QatError, match="do_lower_case"):
        m.embed(IDS, MASK)
    assert m.embed(IDS, MASK, pooling="mean").shape == (2, 16)

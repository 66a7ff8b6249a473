"""Builds the checkpoint fixtures of the formats tests into OUT (build dir):

  models/<case>/          tiny random HF models written by save_pretrained
                          (safetensors and pytorch_model.bin, single and
                          sharded, tied and untied decoders)
  models/<case>.ref       every tensor of the weights files, read by
                          safetensors / torch.load (see refdump.py)
  models/<case>.expect    config attributes as transformers' AutoConfig sees
                          them ("key value" lines)
  torch/*.bin             torch.save archives: strided views, shared
                          storages, F16/BF16, protocol 4, zip64, deflated,
                          legacy format, hostile pickles; *.ref alongside
  safetensors/*           safetensors.torch.save_file output, mixed dtypes
  seeds/<target>/         small inputs for the fuzz targets

usage: gen_checkpoints.py OUT_DIR
Nothing here is committed; the tests regenerate it (seed 0: reproducible).
"""
import collections
import io
import os
import pickle
import shutil
import struct
import sys
import zipfile
import zlib

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refdump import write_ref  # noqa: E402

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
import transformers  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

TINY = dict(vocab_size=96, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=64, max_position_embeddings=40)


def read_weights(d):
    """What python reads from a checkpoint directory's weights files."""
    out = collections.OrderedDict()
    files = sorted(os.listdir(d))
    for f in files:
        p = os.path.join(d, f)
        if f.endswith(".safetensors"):
            out.update(load_file(p))
        elif f.endswith(".bin"):
            out.update(torch.load(p, map_location="cpu"))
    return out


def write_expect(d, path):
    c = transformers.AutoConfig.from_pretrained(d)
    none = lambda v: -1 if v is None else v  # noqa: E731
    rows = [
        ("model_type", c.model_type), ("vocab_size", c.vocab_size),
        ("hidden_size", c.hidden_size), ("num_hidden_layers", c.num_hidden_layers),
        ("num_attention_heads", c.num_attention_heads),
        ("intermediate_size", c.intermediate_size),
        ("max_position_embeddings", c.max_position_embeddings),
        ("type_vocab_size", c.type_vocab_size), ("pad_token_id", none(c.pad_token_id)),
        ("bos_token_id", none(c.bos_token_id)), ("eos_token_id", none(c.eos_token_id)),
        ("layer_norm_eps", repr(float(c.layer_norm_eps))),
        ("tie_word_embeddings", int(c.tie_word_embeddings)),
        ("hidden_dropout_prob", repr(float(c.hidden_dropout_prob))),
        ("attention_probs_dropout_prob", repr(float(c.attention_probs_dropout_prob))),
        ("num_labels", c.num_labels),
        ("architecture", c.architectures[0]),
    ]
    with open(path, "w") as f:
        for k, v in rows:
            f.write("%s %s\n" % (k, v))


def make_models(out):
    mdir = os.path.join(out, "models")
    os.makedirs(mdir, exist_ok=True)
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    t = transformers
    cases = [
        # name, config class, model class, config extras, save kwargs
        ("camembert_mlm_st", t.CamembertConfig, t.CamembertForMaskedLM,
         dict(type_vocab_size=1, pad_token_id=1, bos_token_id=5, eos_token_id=6,
              layer_norm_eps=1e-5), dict(safe_serialization=True)),
        ("camembert_mlm_bin", t.CamembertConfig, t.CamembertForMaskedLM,
         dict(type_vocab_size=1, pad_token_id=1, bos_token_id=5, eos_token_id=6,
              layer_norm_eps=1e-5), dict(safe_serialization=False)),
        ("roberta_tok_st", t.RobertaConfig, t.RobertaForTokenClassification,
         dict(type_vocab_size=1, id2label=dict(enumerate(labels)),
              label2id={l: i for i, l in enumerate(labels)}), dict(safe_serialization=True)),
        ("bert_mlm_untied_bin", t.BertConfig, t.BertForMaskedLM,
         dict(tie_word_embeddings=False, hidden_dropout_prob=0.2), dict(safe_serialization=False)),
        ("xlmr_mlm_sharded_st", t.XLMRobertaConfig, t.XLMRobertaForMaskedLM,
         dict(tie_word_embeddings=False), dict(safe_serialization=True, max_shard_size="40KB")),
        ("bert_tok_sharded_bin", t.BertConfig, t.BertForTokenClassification,
         dict(num_labels=3), dict(safe_serialization=False, max_shard_size="40KB")),
    ]
    for i, (name, cfg_cls, model_cls, extra, save_kw) in enumerate(cases):
        torch.manual_seed(100 + i)
        cfg = cfg_cls(**TINY, **extra)
        model = model_cls(cfg).eval()
        d = os.path.join(mdir, name)
        shutil.rmtree(d, ignore_errors=True)
        model.save_pretrained(d, **save_kw)
        write_ref(os.path.join(mdir, name + ".ref"), read_weights(d))
        write_expect(d, os.path.join(mdir, name + ".expect"))


def specials(dtype):
    """Values whose conversion is easy to get wrong: signed zero, infinities,
    NaN, the smallest subnormal and normal numbers, the largest finite."""
    fi = torch.finfo(dtype)
    v = [0.0, -0.0, 1.0, -2.5, float("inf"), float("-inf"), float("nan"),
         fi.tiny, -fi.tiny, fi.max, -fi.max, fi.tiny / 4, fi.tiny * 0.5 ** (fi.bits - 6)]
    return torch.tensor(v, dtype=torch.float32).to(dtype)


def views_state():
    g = torch.Generator().manual_seed(7)
    rnd = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    base = rnd(6, 5)
    shared = rnd(40)
    cube = rnd(3, 4, 5)
    d = collections.OrderedDict()
    d["transposed"] = base.t()                      # strides (1, 5)
    d["row_slice"] = base[2:4]                      # storage offset 10
    d["col_slice"] = base[:, 1:4]                   # offset 1, strides (5, 1)
    d["permuted"] = cube.permute(2, 0, 1)           # 3-d non-contiguous
    d["shared_a"] = shared[:20].view(4, 5)          # two overlapping views
    d["shared_b"] = shared[10:].view(5, 6)          # of one storage
    d["expanded"] = rnd(3, 1).expand(3, 4)          # stride 0
    d["scalar"] = torch.tensor(3.5)
    d["empty"] = torch.zeros(0, 4)
    d["half"] = specials(torch.float16)
    d["half_2d_t"] = rnd(4, 3).half().t()
    d["bf16"] = specials(torch.bfloat16)
    d["bf16_2d"] = rnd(3, 4).bfloat16()
    d["position_ids"] = torch.arange(10).expand(1, -1)  # int64: skipped
    d["param"] = torch.nn.Parameter(rnd(2, 3))      # _rebuild_parameter
    d["deep8"] = rnd(2, 1, 3, 1, 2, 1, 2, 1)
    d["name.with.unicode.é"] = rnd(2)
    return d


def zip_entries(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def write_zip64(path, entries):
    """A stored zip in which every size and offset goes through zip64 extra
    fields and zip64 end records, as archives over 4 GiB need (python's
    zipfile only uses them when it must)."""
    out = io.BytesIO()
    central = []
    for name, data in entries:
        nb = name.encode()
        crc = zlib.crc32(data) & 0xFFFFFFFF
        off = out.tell()
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc,
                              0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(extra)) + nb + extra)
        out.write(data)
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21,
                                   crc, 0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(cextra), 0, 0, 0,
                                   0, 0xFFFFFFFF) + nb + cextra)
    cd_off = out.tell()
    for c in central:
        out.write(c)
    cd_size = out.tell() - cd_off
    eocd64_off = out.tell()
    n = len(entries)
    out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, cd_size, cd_off))
    out.write(struct.pack("<IIQI", 0x07064B50, 0, eocd64_off, 1))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                          0xFFFFFFFF, 0))
    with open(path, "wb") as f:
        f.write(out.getvalue())
    with zipfile.ZipFile(path) as z:  # python agrees it is a valid zip64
        assert z.testzip() is None and len(z.infolist()) == n


def write_zip(path, entries, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in entries:
            z.writestr(name, data)


class _Evil:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def make_torch(out):
    tdir = os.path.join(out, "torch")
    os.makedirs(tdir, exist_ok=True)
    d = views_state()
    p = lambda n: os.path.join(tdir, n)  # noqa: E731
    torch.save(d, p("views.bin"))
    torch.save(d, p("views_p4.bin"), pickle_protocol=4)
    write_ref(p("views.ref"), d)
    entries = zip_entries(p("views.bin"))
    write_zip64(p("views_zip64.bin"), entries)
    write_zip(p("views_deflate.bin"), entries, zipfile.ZIP_DEFLATED)
    for name in ("views_zip64.bin", "views_deflate.bin"):  # torch agrees too
        back = torch.load(p(name))
        assert all(torch.equal(back[k], v) or k in ("half", "bf16") for k, v in d.items())
    torch.save({"w": torch.ones(2)}, p("legacy.bin"), _use_new_zipfile_serialization=False)
    # Hostile archives: valid zips whose pickle asks for code execution.
    write_zip(p("hostile_os_system.bin"),
              [("hostile/data.pkl", pickle.dumps(_Evil(os.system, "true"), protocol=2))])
    write_zip(p("hostile_eval.bin"),
              [("hostile/data.pkl", pickle.dumps(_Evil(eval, "1+1"), protocol=4))])
    # A storage shorter than its pickle claims (a truncated or edited file).
    short = [(n, b[: len(b) // 2] if n.endswith("/data/0") else b) for n, b in entries]
    write_zip(p("short_storage.bin"), short)
    # A storage missing altogether.
    write_zip(p("missing_storage.bin"), [(n, b) for n, b in entries if not n.endswith("/data/0")])
    return entries


def make_safetensors(out):
    sdir = os.path.join(out, "safetensors")
    os.makedirs(sdir, exist_ok=True)
    g = torch.Generator().manual_seed(11)
    d = collections.OrderedDict()
    d["f32"] = torch.randn(3, 4, generator=g)
    d["f16"] = specials(torch.float16)
    d["bf16"] = specials(torch.bfloat16)
    d["bf16_2d"] = torch.randn(2, 5, generator=g).bfloat16()
    d["i64"] = torch.arange(6)
    d["scalar"] = torch.tensor(-1.25)
    d["empty"] = torch.zeros(0, 3)
    d["deep8"] = torch.randn(1, 2, 1, 2, 1, 2, 1, 2, generator=g)
    save_file(d, os.path.join(sdir, "mixed.safetensors"), metadata={"format": "pt", "note": "x"})
    write_ref(os.path.join(sdir, "mixed.ref"), d)
    save_file({"a": torch.tensor([1.0, 2.0])}, os.path.join(sdir, "tiny.safetensors"))


def make_seeds(out, torch_entries):
    seeds = os.path.join(out, "seeds")
    for t in ("safetensors", "zip", "pickle", "config"):
        os.makedirs(os.path.join(seeds, t), exist_ok=True)
    cp = lambda src, t, n: shutil.copy(os.path.join(out, src), os.path.join(seeds, t, n))  # noqa
    cp("safetensors/mixed.safetensors", "safetensors", "mixed")
    cp("safetensors/tiny.safetensors", "safetensors", "tiny")
    for n in ("views.bin", "views_zip64.bin", "views_deflate.bin"):
        cp("torch/" + n, "zip", n)
    for n in ("views.bin", "views_p4.bin", "hostile_eval.bin"):
        with zipfile.ZipFile(os.path.join(out, "torch", n)) as z:
            pkl = [i for i in z.namelist() if i.endswith("data.pkl")][0]
            with open(os.path.join(seeds, "pickle", n + ".pkl"), "wb") as f:
                f.write(z.read(pkl))
    with zipfile.ZipFile(os.path.join(out, "models", "camembert_mlm_bin", "pytorch_model.bin")) as z:
        with open(os.path.join(seeds, "pickle", "camembert.pkl"), "wb") as f:
            f.write(z.read("pytorch_model/data.pkl"))
    for case in ("camembert_mlm_st", "roberta_tok_st", "bert_mlm_untied_bin"):
        cp(os.path.join("models", case, "config.json"), "config", case + ".json")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    make_models(out)
    entries = make_torch(out)
    make_safetensors(out)
    make_seeds(out, entries)
    with open(os.path.join(out, "stamp"), "w") as f:
        f.write("ok\n")


if __name__ == "__main__":
    main()

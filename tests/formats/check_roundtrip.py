"""libqat's writers checked by the python ecosystem: every generated HF
checkpoint is re-saved by formats_tool (libqat's readers, then its
config.json and safetensors writers), and then

  - safetensors.torch.load_file returns the reference tensors bit for bit,
    all float32, with __metadata__ {"format": "pt"};
  - safetensors.torch.save_file of those tensors produces the very same
    bytes (header layout, order, padding);
  - transformers' from_pretrained loads the re-saved directory with no
    missing or unexpected weights, the same config values and a state dict
    identical to the original model's.

usage: check_roundtrip.py FORMATS_TOOL DATA_DIR
"""
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refdump import read_ref  # noqa: E402

CASES = ["camembert_mlm_st", "camembert_mlm_bin", "roberta_tok_st", "bert_mlm_untied_bin",
         "xlmr_mlm_sharded_st", "bert_tok_sharded_bin"]
CONFIG_KEYS = ["model_type", "vocab_size", "hidden_size", "num_hidden_layers",
               "num_attention_heads", "intermediate_size", "max_position_embeddings",
               "type_vocab_size", "pad_token_id", "bos_token_id", "eos_token_id", "layer_norm_eps",
               "tie_word_embeddings", "hidden_dropout_prob", "attention_probs_dropout_prob",
               "hidden_act", "position_embedding_type", "id2label", "label2id", "num_labels",
               "architectures"]


def bits_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(
        a.contiguous().view(torch.int32), b.contiguous().view(torch.int32))


def check_case(tool, data, case, tmp):
    src = os.path.join(data, "models", case)
    arch = dict(line.split(" ", 1) for line in open(src + ".expect").read().splitlines())
    arch = arch["architecture"]
    out = os.path.join(tmp, case)
    os.makedirs(out)
    subprocess.run([tool, "copy", src, out, arch], check=True)
    st_path = os.path.join(out, "model.safetensors")

    ours = load_file(st_path)
    ref = read_ref(src + ".ref")
    assert sorted(ours) == sorted(ref), (case, sorted(set(ours) ^ set(ref)))
    for k in ref:
        assert ours[k].dtype == torch.float32, (case, k, ours[k].dtype)
        assert bits_equal(ours[k], ref[k]), (case, k)
    with safe_open(st_path, "pt") as f:
        assert f.metadata() == {"format": "pt"}, f.metadata()
    again = os.path.join(tmp, case + ".py.safetensors")
    save_file(ours, again, metadata={"format": "pt"})
    assert open(again, "rb").read() == open(st_path, "rb").read(), case + ": bytes differ from save_file"

    cls = getattr(transformers, arch)
    orig = cls.from_pretrained(src)
    new, info = cls.from_pretrained(out, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], (case, info)
    a, b = orig.config.to_dict(), new.config.to_dict()
    for k in CONFIG_KEYS:
        assert a.get(k) == b.get(k), (case, k, a.get(k), b.get(k))
    so, sn = orig.state_dict(), new.state_dict()
    assert sorted(so) == sorted(sn), case
    for k in so:
        assert bits_equal(so[k], sn[k]), (case, k)
    print("ok  %-22s %3d tensors, config and weights identical in HF" % (case, len(ours)))


def main():
    tool, data = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            check_case(tool, data, case, tmp)
    print("%d passed, 0 failed" % len(CASES))


if __name__ == "__main__":
    main()

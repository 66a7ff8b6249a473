import pytest

import libqat


def test_version_is_the_c_library_version(repo_root):
    header = (repo_root / "include" / "qat" / "core.h").read_text()
    parts = [line.split()[2] for line in header.splitlines()
             if line.startswith("#define QAT_VERSION_") and line.split()[1] in
             ("QAT_VERSION_MAJOR", "QAT_VERSION_MINOR", "QAT_VERSION_PATCH")]
    assert libqat.version() == ".".join(parts)


def test_backends_and_context():
    names = libqat.backends()
    assert names[0] == "ref"
    for name in names:
        ctx = libqat.Context(name, threads=1, seed=7)
        assert ctx.backend == name
        assert ctx.threads == 1
        assert ctx.seed == 7


def test_precision_policy():
    for name in libqat.backends():
        ctx = libqat.Context(name, precision="fp32")
        assert ctx.precision == "fp32"
        if name in ("ref", "cpu"):  # host backends compute in fp32 only
            for other in ("tf32", "bf16"):
                with pytest.raises(libqat.QatError, match="fp32 only") as err:
                    ctx.precision = other
                assert err.value.status == "QAT_ERR_UNSUPPORTED"
                assert ctx.precision == "fp32"
        else:
            for other in ("tf32", "bf16", "fp32"):
                ctx.precision = other
                assert ctx.precision == other
        with pytest.raises(ValueError, match="fp16"):
            ctx.precision = "fp16"


def test_fused_attention_setting():
    for name in libqat.backends():
        ctx = libqat.Context(name)
        assert ctx.fused_attention is False  # the default: probabilities kept
        ctx.fused_attention = True
        assert ctx.fused_attention is True
        assert libqat.Context(name, fused_attention=True).fused_attention is True
        ctx.fused_attention = False
        assert ctx.fused_attention is False


def test_unknown_backend_raises_with_message():
    with pytest.raises(libqat.QatError) as err:
        libqat.Context("tpu")
    assert err.value.status == "QAT_ERR_NOT_FOUND"
    assert "tpu" in err.value.message


def test_bad_thread_count_raises():
    with pytest.raises(libqat.QatError, match="outside"):
        libqat.Context("ref", threads=-3)


@pytest.mark.parametrize("text", ["FP32", "E8W8A8", "E4W4A4", "E2W2A2", "E6W2A6", "E6W1.58A6",
                                  "E6W1.58A6@seed-code", "E8W4(row)A8(lsq+)", "E8W8A8@shared,frozen-step"])
def test_quant_config_round_trip(text):
    cfg = libqat.QuantConfig(text)
    assert str(cfg) == text
    assert str(libqat.QuantConfig(str(cfg))) == text


def test_quant_config_describe():
    d = libqat.QuantConfig("E6W1.58A6").describe()
    assert d["embedding"] == {"algo": "lsq", "bits": 6, "granularity": "tensor"}
    assert d["weight"]["algo"] == "bitnet158"
    assert d["activation"] == {"algo": "bitnet158", "bits": 6, "granularity": "token"}


def test_quant_config_switches_and_profile():
    cfg = libqat.QuantConfig("E6W1.58A6")
    assert cfg.profile == "paper" and not any(cfg.describe()["switches"].values())
    cfg.profile = "seed-code"
    assert str(cfg) == "E6W1.58A6@seed-code"
    assert cfg.describe()["weight"]["granularity"] == "row"
    cfg.set_switch("mlm_head", False)
    assert cfg.profile == "custom"
    assert str(cfg) == "E6W1.58(row)A6@shared,frozen-step,symmetric"
    with pytest.raises(ValueError, match="unknown switch"):
        cfg.switch("nope")
    with pytest.raises(ValueError, match="paper"):
        cfg.profile = "custom"
    assert libqat.QuantConfig("E8W8A8(lsq+)").describe()["activation"]["algo"] == "lsq+"


@pytest.mark.parametrize("bad", ["E9W1A", "W4", "E6W1.5A6", "", "E8W8A8@nope", "E8W4(row)A8@shared"])
def test_quant_config_errors(bad):
    with pytest.raises(libqat.QatError) as err:
        libqat.QuantConfig(bad)
    assert err.value.status == "QAT_ERR_INVALID_ARGUMENT"

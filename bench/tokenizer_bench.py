"""Tokenizer throughput: libqat vs python3-sentencepiece's C++ encoder
(--type unigram|bpe) or vs HF `tokenizers` on a tokenizer.json (--type
wordpiece: BERT normalizer + WordPiece; --type bytelevel: RoBERTa's
ByteLevel BPE), one thread each (RAYON_NUM_THREADS=1), on the same
generated French text (default 20 MB) and the same trained model, in one
script. Also checks the ids agree.

usage: PATH=.venv/bin:$PATH python3 bench/tokenizer_bench.py [--lib build/libqat.so.0] [--mb 20]
       [--type unigram|bpe|wordpiece|bytelevel] [--vocab 8000]"""
import argparse
import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "tokenizer"))
import french_text  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", default=str(ROOT / "build" / "libqat.so.0"))
    ap.add_argument("--mb", type=float, default=20.0)
    ap.add_argument("--type", default="unigram", choices=["unigram", "bpe", "wordpiece", "bytelevel"])
    ap.add_argument("--vocab", type=int, default=8000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tokbench"))
    t0 = time.time()
    lines, size, seed = [], 0, 100
    while size < args.mb * 1e6:
        chunk = french_text.lines(20000, seed=seed)
        seed += 1
        lines += chunk
        size += sum(len(x.encode()) + 1 for x in chunk)
    lines = [x.replace("\n", " ") for x in lines]
    text_path = work / "text.txt"
    text_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if args.type in ("wordpiece", "bytelevel"):
        sys.path.insert(0, str(ROOT / "tests" / "tokenizer"))
        import tokenizers
        from json_fixtures import _train
        kind = "wordpiece" if args.type == "wordpiece" else "bpe"
        model = str(work / "tokenizer.json")
        _train(kind, lines[:40000], True, vocab_size=args.vocab).save(model)
        ref_name = f"tokenizers {tokenizers.__version__} encode_batch, RAYON_NUM_THREADS=1"
        oracle = tokenizers.Tokenizer.from_file(model)
        t = time.perf_counter()
        ref = [e.ids for e in oracle.encode_batch(lines, add_special_tokens=False)]
        t_spm = time.perf_counter() - t
    else:
        import sentencepiece as spm
        spm.SentencePieceTrainer.train(sentence_iterator=iter(lines[:40000]), model_prefix=str(work / "m"),
                                       model_type=args.type, vocab_size=args.vocab, character_coverage=0.9995,
                                       num_threads=2, minloglevel=2)
        model = str(work / "m.model")
        ref_name = f"sentencepiece {spm.__version__} encode(list, num_threads=1)"
        sp = spm.SentencePieceProcessor(model_file=model)
        t = time.perf_counter()
        ref = sp.encode(lines, num_threads=1)
        t_spm = time.perf_counter() - t
    print(f"text: {len(lines)} lines, {size / 1e6:.1f} MB; model: {args.type}, vocab {args.vocab} "
          f"(setup {time.time() - t0:.0f}s)")

    exe = work / "tokenizer_bench"
    libdir = str(Path(args.lib).resolve().parent)
    subprocess.run(["cc", "-O2", "-o", str(exe), str(ROOT / "bench" / "tokenizer_bench.c"),
                    "-I", str(ROOT / "include"), "-L", libdir, "-l:" + Path(args.lib).name,
                    "-Wl,-rpath," + libdir], check=True)
    out = subprocess.run([str(exe), model, str(text_path)], check=True, capture_output=True, text=True).stdout
    n_lines, n_bytes, n_ids, t_qat = out.split()
    t_qat = float(t_qat)

    os.environ["LIBQAT_LIBRARY"] = str(Path(args.lib).resolve())
    sys.path.insert(0, str(ROOT / "bindings" / "python"))
    from libqat import Tokenizer
    tok = Tokenizer.load(model)
    t = time.perf_counter()
    mine = [tok.encode(x) for x in lines]
    t_py = time.perf_counter() - t
    same = sum(a == b for a, b in zip(mine, ref))
    n_ref = sum(map(len, ref))
    assert int(n_ids) == n_ref, (n_ids, n_ref)

    mb = size / 1e6
    print(f"{ref_name}: {t_spm:.2f}s  {mb / t_spm:.2f} MB/s")
    print(f"libqat C API, 1 thread:                         {t_qat:.2f}s  {mb / t_qat:.2f} MB/s  "
          f"ratio {t_spm / t_qat:.2f}x")
    print(f"libqat Python binding, per line (ctypes):       {t_py:.2f}s  {mb / t_py:.2f} MB/s  "
          f"ratio {t_spm / t_py:.2f}x")
    print(f"identical ids on {same}/{len(lines)} lines ({n_ref} ids)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Golden records for the corpus reader: Python's own UTF-8 decoding with
errors="replace" and an independent implementation of the documented
long-line rule (docs/data.md), on random lines mixing multi-byte characters,
Unicode spaces and ill-formed bytes.  usage: gen_corpus_golden.py OUT.json"""
import json
import random
import sys

WS = " \t\r\x0b\x0c\u00a0\u1680\u2000\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def segments(line, m):
    out = []
    t = line.lstrip(WS)
    while len(t) > m:
        window = t[:m + 1]
        cut = max((i for i, ch in enumerate(window) if ch in WS), default=-1)
        seg, rest = (t[:cut], t[cut + 1:]) if cut > 0 else (t[:m], t[m:])
        seg = seg.rstrip(WS)
        if seg:
            out.append(seg)
        t = rest.lstrip(WS)
    t = t.rstrip(WS)
    if t:
        out.append(t)
    return out


def main():
    rng = random.Random(2024)
    pieces = [b"a", b"b", b"z", b" ", b" ", b"\t", b"\r", "é".encode(), "€".encode(), "😀".encode(),
              "\u00a0".encode(), "\u3000".encode(), "\u2009".encode(), b"\xff", b"\x80", b"\xc3", b"\xe2\x82",
              b"\xf0\x9f", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80"]
    cases = []
    for m in [1, 2, 3, 5, 8, 13, 40]:
        lines = [b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 5 * m + 10))) for _ in range(120)]
        data = b"\n".join(lines)
        records = [s for line in lines for s in segments(line.decode("utf-8", "replace"), m)]
        cases.append({"max_chars": m, "input": data.hex(), "records": records})
    with open(sys.argv[1], "w") as f:
        json.dump({"cases": cases}, f)


if __name__ == "__main__":
    main()

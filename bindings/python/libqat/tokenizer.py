"""Tokenizers: SentencePiece .model files, HF tokenizer.json, BERT vocab.txt
and HF checkpoint directories (with CamemBERT's / XLM-R's id conventions)."""
from __future__ import annotations

import ctypes
from typing import Sequence

from ._lib import Handle, QatError, check, declare, lib

_c_size_p = ctypes.POINTER(ctypes.c_size_t)
_c_i32_p = ctypes.POINTER(ctypes.c_int32)
_load = declare("qat_tokenizer_load", [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)])
_free = declare("qat_tokenizer_free", [ctypes.c_void_p], None)
_encode = declare("qat_tokenizer_encode",
                  [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, _c_i32_p, ctypes.c_size_t, _c_size_p])
_encode_words = declare("qat_tokenizer_encode_words",
                        [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), _c_size_p, ctypes.c_size_t,
                         ctypes.c_uint, ctypes.c_size_t, _c_i32_p, _c_i32_p, ctypes.c_size_t, _c_size_p])
_encode_pair = declare("qat_tokenizer_encode_pair",
                       [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
                        ctypes.c_uint, ctypes.c_size_t, _c_i32_p, _c_i32_p, ctypes.c_size_t, _c_size_p])
_decode = declare("qat_tokenizer_decode",
                  [ctypes.c_void_p, _c_i32_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, _c_size_p])
_vocab_size = declare("qat_tokenizer_vocab_size", [ctypes.c_void_p, _c_size_p])
_special_id = declare("qat_tokenizer_special_id", [ctypes.c_void_p, ctypes.c_int, _c_i32_p])
_piece_to_id = declare("qat_tokenizer_piece_to_id", [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, _c_i32_p])
_id_to_piece = declare("qat_tokenizer_id_to_piece",
                       [ctypes.c_void_p, ctypes.c_int32, ctypes.c_char_p, ctypes.c_size_t, _c_size_p])
_kind = declare("qat_tokenizer_kind", [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p)])
_save = declare("qat_tokenizer_save", [ctypes.c_void_p, ctypes.c_char_p])

_BUFFER_TOO_SMALL = -10
_SPECIALS = {"pad": 0, "unk": 1, "bos": 2, "eos": 3, "mask": 4}


class Tokenizer(Handle):
    """An immutable tokenizer; encode/decode may run from several threads.

    >>> tok = Tokenizer.load("sentencepiece.bpe.model")
    >>> tok.decode(tok.encode("Bonjour !"))
    'Bonjour !'
    """

    _free = staticmethod(_free)

    def __init__(self, handle: ctypes.c_void_p):
        self._handle = handle

    @classmethod
    def load(cls, path) -> "Tokenizer":
        """A .model file, a tokenizer.json, a vocab.txt or an HF directory."""
        handle = ctypes.c_void_p()
        check(_load(str(path).encode(), ctypes.byref(handle)))
        return cls(handle)

    def encode(self, text: str) -> list[int]:
        """Ids of `text`, without special tokens."""
        data = text.encode("utf-8", "surrogatepass")
        cap = len(data) + 16
        while True:
            buf = (ctypes.c_int32 * cap)()
            count = ctypes.c_size_t()
            st = _encode(self._handle, data, len(data), buf, cap, ctypes.byref(count))
            if st == _BUFFER_TOO_SMALL:
                cap = count.value
                continue
            check(st)
            return buf[:count.value]

    def encode_words(self, words: Sequence[str], add_special_tokens: bool = True,
                     max_length: int | None = None) -> tuple[list[int], list[int | None]]:
        """Ids of pre-split words (is_split_into_words=True) and, per id, the
        index of its word (None for special tokens, as HF's word_ids())."""
        encoded = [w.encode("utf-8", "surrogatepass") for w in words]
        n = len(encoded)
        arr = (ctypes.c_char_p * max(n, 1))(*encoded)
        lens = (ctypes.c_size_t * max(n, 1))(*[len(e) for e in encoded])
        flags = 1 if add_special_tokens else 0
        cap = sum(len(e) for e in encoded) + 2 * n + 8
        while True:
            ids = (ctypes.c_int32 * cap)()
            widx = (ctypes.c_int32 * cap)()
            count = ctypes.c_size_t()
            st = _encode_words(self._handle, arr, lens, n, flags, max_length or 0, ids, widx, cap,
                               ctypes.byref(count))
            if st == _BUFFER_TOO_SMALL:
                cap = count.value
                continue
            check(st)
            k = count.value
            return ids[:k], [None if w < 0 else w for w in widx[:k]]

    def encode_pair(self, text: str, text_pair: str | None = None, max_length: int | None = None,
                    slow_truncation: bool = False) -> tuple[list[int], list[int]]:
        """Ids and token type ids of one text or a pair, with the model's
        special tokens, as HF's tokenizer(text, text_pair, truncation=True,
        max_length=...) gives them: <s> A </s></s> B </s> (types 0) for
        RoBERTa / CamemBERT, [CLS] A [SEP] B [SEP] (B's types 1) for BERT.
        Truncation is `longest_first`, shared as the fast tokenizers share
        it, or with slow_truncation=True as transformers' Python ones do."""
        a = text.encode("utf-8", "surrogatepass")
        b = None if text_pair is None else text_pair.encode("utf-8", "surrogatepass")
        flags = 2 if slow_truncation else 0
        cap = len(a) + (len(b) if b is not None else 0) + 16
        while True:
            ids = (ctypes.c_int32 * cap)()
            types = (ctypes.c_int32 * cap)()
            count = ctypes.c_size_t()
            st = _encode_pair(self._handle, a, len(a), b, 0 if b is None else len(b), flags, max_length or 0, ids,
                              types, cap, ctypes.byref(count))
            if st == _BUFFER_TOO_SMALL:
                cap = count.value
                continue
            check(st)
            return ids[:count.value], types[:count.value]

    def decode(self, ids: Sequence[int]) -> str:
        """Text of `ids` (special tokens of HF checkpoints are skipped)."""
        n = len(ids)
        arr = (ctypes.c_int32 * max(n, 1))(*ids)
        needed = ctypes.c_size_t()
        st = _decode(self._handle, arr, n, None, 0, ctypes.byref(needed))
        if st != _BUFFER_TOO_SMALL:
            check(st)
        buf = ctypes.create_string_buffer(needed.value)
        check(_decode(self._handle, arr, n, buf, needed.value, None))
        return buf.raw[:needed.value - 1].decode("utf-8", errors="replace")

    @property
    def vocab_size(self) -> int:
        v = ctypes.c_size_t()
        check(_vocab_size(self._handle, ctypes.byref(v)))
        return v.value

    def __len__(self) -> int:
        return self.vocab_size

    def special_id(self, name: str) -> int | None:
        """'pad', 'unk', 'bos' (= cls), 'eos' (= sep) or 'mask'; None if absent."""
        key = {"cls": "bos", "sep": "eos"}.get(name, name)
        if key not in _SPECIALS:
            raise ValueError(f"unknown special token {name!r}; expected one of {sorted(_SPECIALS)}")
        v = ctypes.c_int32()
        check(_special_id(self._handle, _SPECIALS[key], ctypes.byref(v)))
        return None if v.value < 0 else v.value

    def piece_to_id(self, piece: str) -> int:
        data = piece.encode()
        v = ctypes.c_int32()
        check(_piece_to_id(self._handle, data, len(data), ctypes.byref(v)))
        return v.value

    def id_to_piece(self, id: int) -> str:
        needed = ctypes.c_size_t()
        st = _id_to_piece(self._handle, id, None, 0, ctypes.byref(needed))
        if st != _BUFFER_TOO_SMALL:
            check(st)
        buf = ctypes.create_string_buffer(needed.value)
        check(_id_to_piece(self._handle, id, buf, needed.value, None))
        return buf.value.decode("utf-8", errors="replace")

    @property
    def kind(self) -> str:
        """'sentencepiece-unigram', 'sentencepiece-bpe', 'wordpiece'..."""
        name = ctypes.c_char_p()
        check(_kind(self._handle, ctypes.byref(name)))
        return name.value.decode()

    def save(self, directory) -> None:
        """Writes the file it was loaded from into `directory`, as
        save_pretrained does next to a model (Tokenizer.load(directory) then
        gives the same ids); tokenizer files of another kind there are removed."""
        check(_save(self._handle, str(directory).encode()))

    def __repr__(self) -> str:
        return f"Tokenizer(kind={self.kind!r}, vocab_size={self.vocab_size})"


__all__ = ["Tokenizer", "QatError"]
_ = lib

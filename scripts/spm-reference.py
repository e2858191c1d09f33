"""SentencePiece reference tokenization of a GGUF's `llama` (SentencePiece) vocabulary.

Builds a SentencePiece ModelProto from the GGUF's own tokens, scores and token types (read with
llama.cpp's `gguf` package) and encodes each string with the `sentencepiece` library itself:

    python scripts/spm-reference.py MODEL.gguf [--add-space-prefix] < strings.json > ids.json

stdin: a JSON array of strings; stdout: a JSON array of id lists (no BOS/EOS).
--add-space-prefix overrides the file's tokenizer.ggml.add_space_prefix (SentencePiece's
add_dummy_prefix: a "▁" before each run of text).

User-defined pieces (Gemma's "\n", runs of spaces and tabs, HTML tags) are matched in the raw
text before SentencePiece sees it, leftmost-longest, as llama.cpp and Hugging Face tokenizers do
(SentencePiece itself would look for them after escaping spaces to "▁", so "  " would never match
the piece "  ").
"""
import re
import json
import sys

import gguf
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb


def field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def build(path, space_prefix=None):
    r = gguf.GGUFReader(path)
    tokens = field(r, "tokenizer.ggml.tokens")
    scores = field(r, "tokenizer.ggml.scores")
    types = field(r, "tokenizer.ggml.token_type")
    m = pb.ModelProto()
    for tok, score, typ in zip(tokens, scores, types):
        p = m.pieces.add()
        p.piece, p.score, p.type = tok, score, typ  # GGUF uses SentencePiece's type numbers
    t = m.trainer_spec
    t.model_type = pb.TrainerSpec.BPE
    t.byte_fallback = True
    t.vocab_size = len(tokens)
    for name, key in (("unk_id", "unknown"), ("bos_id", "bos"), ("eos_id", "eos"), ("pad_id", "padding")):
        v = field(r, f"tokenizer.ggml.{key}_token_id")
        setattr(t, name, -1 if v is None else int(v))
    n = m.normalizer_spec
    n.name = "identity"
    prefix = field(r, "tokenizer.ggml.add_space_prefix") if space_prefix is None else space_prefix
    n.add_dummy_prefix = True if prefix is None else bool(prefix)
    n.remove_extra_whitespaces = False
    n.escape_whitespaces = True
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(m.SerializeToString())
    user = {tok: i for i, (tok, typ) in enumerate(zip(tokens, types)) if typ == pb.ModelProto.SentencePiece.USER_DEFINED}
    return sp, user


def encode(sp, user, matcher, text):
    ids, last = [], 0
    for m in matcher.finditer(text) if matcher else []:
        if m.start() > last:
            ids += sp.EncodeAsIds(text[last:m.start()])
        ids.append(user[m.group(0)])
        last = m.end()
    if last < len(text):
        ids += sp.EncodeAsIds(text[last:])
    return ids


def main():
    sp, user = build(sys.argv[1], True if "--add-space-prefix" in sys.argv[2:] else None)
    ordered = sorted(user, key=len, reverse=True)
    matcher = re.compile("|".join(re.escape(u) for u in ordered)) if ordered else None
    texts = json.load(sys.stdin)
    json.dump([encode(sp, user, matcher, t) for t in texts], sys.stdout)


if __name__ == "__main__":
    main()

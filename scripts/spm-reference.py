"""SentencePiece reference tokenization of a GGUF's `llama` (SentencePiece) vocabulary.

Builds a SentencePiece ModelProto from the GGUF's own tokens, scores and token types (read with
llama.cpp's `gguf` package) and encodes each string with the `sentencepiece` library itself:

    python scripts/spm-reference.py MODEL.gguf < strings.json > ids.json

stdin: a JSON array of strings; stdout: a JSON array of id lists (no BOS/EOS).
"""
import json
import sys

import gguf
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb


def field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def build(path):
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
    prefix = field(r, "tokenizer.ggml.add_space_prefix")
    n.add_dummy_prefix = True if prefix is None else bool(prefix)
    n.remove_extra_whitespaces = False
    n.escape_whitespaces = True
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(m.SerializeToString())
    return sp


def main():
    sp = build(sys.argv[1])
    texts = json.load(sys.stdin)
    json.dump([sp.EncodeAsIds(t) for t in texts], sys.stdout)


if __name__ == "__main__":
    main()

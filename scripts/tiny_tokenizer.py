"""The tiny models' tokenizer for scripts/make-tiny-models.py: byte-level BPE trained here on a
small corpus (exactly the vocabulary size asked for, special tokens last) and a ChatML chat
template."""

import json
import sys
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Training text for the BPE tokenizer (written for this script).
CORPUS = """\
The quick brown fox jumps over the lazy dog while the cat sleeps in the sun.
A small model can still tell a story: once upon a time there was a tiny robot.
The robot lived in a quiet village near the river and liked to count the stars.
Every morning it walked to the market, bought three apples and a loaf of bread.
Numbers matter too: 0 1 2 3 4 5 6 7 8 9 10 42 100 256 1024 2048 65536 3.14159.
Hello, world! How are you today? I am fine, thank you. What is your name?
User: please write a short poem about the ocean and the moon.
Assistant: The ocean hums a silver tune, beneath the watching, patient moon.
def add(a, b):
    return a + b
for (let i = 0; i < 10; i++) { console.log(i * 2); }
{"name": "tiny", "layers": 2, "hidden": 64, "vocab": 512, "ok": true}
Machine learning models turn tokens into vectors, mix them with attention,
and predict the next token one step at a time until the answer is complete.
Rotary position embeddings rotate pairs of features by an angle that grows
with the position, so attention can compare where two tokens are.
Quantization stores weights with fewer bits, grouping values and keeping a
scale and a bias for every group, which saves memory and bandwidth.
Ünïcödé text: café, naïve, résumé, Straße, 東京, 北京, こんにちは, 안녕하세요, 🙂🚀.
The weather is nice; the weather was cold; the weather will be warm tomorrow.
She sells sea shells by the sea shore, and the shells she sells are surely shells.
Peter Piper picked a peck of pickled peppers; where is the peck he picked?
In the beginning the library was empty, then the readers came with their books,
and the shelves filled with history, science, poetry, mathematics and music.
Please answer briefly. Yes. No. Maybe. I don't know. Let's think step by step.
"""


def train_tokenizer(vocab_size: int, add_bos: bool) -> Tokenizer:
    """Byte-level BPE with exactly `vocab_size` entries, special tokens last."""
    n_regular = vocab_size - len(SPECIAL_TOKENS)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=n_regular,
        min_frequency=1,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    lines = CORPUS.splitlines(keepends=True)
    tok.train_from_iterator(lines * 4, trainer=trainer)
    if tok.get_vocab_size() != n_regular:
        sys.exit(
            f"tokenizer: trained {tok.get_vocab_size()} regular tokens, wanted {n_regular}; "
            "extend CORPUS"
        )
    tok.add_special_tokens(SPECIAL_TOKENS)
    assert tok.get_vocab_size() == vocab_size
    byte_level = processors.ByteLevel(trim_offsets=False)
    if add_bos:
        bos = SPECIAL_TOKENS[0]
        template = processors.TemplateProcessing(
            single=f"{bos} $A",
            pair=f"{bos} $A {bos} $B",
            special_tokens=[(bos, tok.token_to_id(bos))],
        )
        tok.post_processor = processors.Sequence([byte_level, template])
    else:
        tok.post_processor = byte_level
    return tok


def write_tokenizer(out: Path, tok: Tokenizer, bos_token, add_bos_token):
    tok.save(str(out / "tokenizer.json"))
    added = {
        str(tok.token_to_id(t)): {
            "content": t,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for t in SPECIAL_TOKENS
    }
    template = ("{{ bos_token }}" if add_bos_token else "") + CHATML
    cfg = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "added_tokens_decoder": added,
        "bos_token": bos_token,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 4096,
        "chat_template": template,
    }
    if add_bos_token is not None:
        # transformers >= 5 rebuilds the post-processor from this flag when present.
        cfg["add_bos_token"] = add_bos_token
    (out / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")

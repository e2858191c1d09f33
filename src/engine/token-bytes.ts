/**
 * Each token's bytes, as the grammar engine reads the vocabulary: byte-level BPE strings mapped
 * back through GPT-2's byte↔unicode table, SentencePiece pieces with `▁` as a space and
 * `<0xNN>` as one byte, special tokens as the byte 0xFF followed by their name (llguidance's
 * marker, which keeps them apart from text and lets a Lark grammar name them as `<|name|>`).
 */
import type { Tokenizer } from './tokenizer.js';

/** GPT-2's printable stand-in for each byte, inverted: code point → byte. */
function byteLevelTable(): Map<number, number> {
  const table = new Map<number, number>();
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table.set(printable ? b : 256 + extra++, b);
  }
  return table;
}

function usesByteLevel(node: unknown): boolean {
  if (!node || typeof node !== 'object') return false;
  const o = node as { type?: unknown; decoders?: unknown[] };
  if (o.type === 'ByteLevel') return true;
  return Array.isArray(o.decoders) && o.decoders.some(usesByteLevel);
}

export interface TokenBytes {
  /** Every token's bytes, concatenated. */
  bytes: Uint8Array;
  /** Token t is bytes[offsets[t], offsets[t + 1]); `size + 1` entries. */
  offsets: Uint32Array;
}

/** The byte strings of token ids 0..size-1 (ids the tokenizer lacks are empty). */
export function tokenBytes(tokenizer: Tokenizer, size: number): TokenBytes {
  const byteLevel = usesByteLevel(tokenizer.toTokenizerJson().decoder);
  const table = byteLevel ? byteLevelTable() : undefined;
  const encoder = new TextEncoder();
  const pieces: Uint8Array[] = [];
  let total = 0;
  for (let id = 0; id < size; id++) {
    const piece = tokenizer.idToToken(id);
    let out: Uint8Array;
    if (piece === undefined) {
      out = new Uint8Array();
    } else if (tokenizer.isSpecial(id)) {
      const name = encoder.encode(piece);
      out = new Uint8Array(name.length + 1);
      out[0] = 0xff;
      out.set(name, 1);
    } else if (tokenizer.isAdded(id)) {
      out = encoder.encode(piece);
    } else if (table) {
      const codes = Array.from(piece, (ch) => table.get(ch.codePointAt(0)!));
      out = codes.every((c) => c !== undefined) ? Uint8Array.from(codes as number[]) : encoder.encode(piece);
    } else {
      const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
      out = byte ? Uint8Array.of(parseInt(byte[1], 16)) : encoder.encode(piece.replaceAll('\u2581', ' '));
    }
    pieces.push(out);
    total += out.length;
  }
  const bytes = new Uint8Array(total);
  const offsets = new Uint32Array(size + 1);
  let at = 0;
  pieces.forEach((p, i) => {
    bytes.set(p, at);
    at += p.length;
    offsets[i + 1] = at;
  });
  return { bytes, offsets };
}

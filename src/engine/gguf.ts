/**
 * GGUF metadata reader (header, key/value metadata and tensor infos; never tensor data).
 *
 * The file is read through a small sliding buffer so a multi-GB model costs only the bytes
 * of its header. Every length read from the file is checked against the bytes that remain
 * before anything is allocated, so a corrupt length fails fast with INVALID_MODEL instead of
 * allocating gigabytes or looping for hours.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { MlxNativeError } from '../errors.js';
import { architectureConfig, CONFIG_TENSORS, GGUF_ARCHITECTURES } from './gguf-arch.js';

/** A GGUF metadata value. 64-bit integers are numbers when they fit in 2^53, else bigints. */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

/** One tensor's header entry (its data is not read). */
export interface GgufTensorInfo {
  name: string;
  /** Dimensions in GGUF order (innermost first, i.e. reversed compared with row-major shapes). */
  dims: number[];
  /** ggml type id (see {@link GGML_TYPE_NAMES}). */
  type: number;
  /** ggml type name, or `type_<id>` when unknown. */
  typeName: string;
  /** Offset of the tensor's data relative to {@link GgufMetadata.dataOffset}. */
  offset: number;
  /** Size of the data in bytes, when the type's block layout is known. */
  nbytes?: number;
}

/** Everything in a GGUF file before the tensor data. */
export interface GgufMetadata {
  version: number;
  /** Key/value metadata (null-prototype object, so keys such as `__proto__` are safe). */
  kv: Record<string, GgufValue>;
  tensors: GgufTensorInfo[];
  /** `general.alignment`, default 32. */
  alignment: number;
  /** Absolute file offset of the tensor data section. */
  dataOffset: number;
  fileSize: number;
  /** Values of the small float32 tensors that carry configuration (gguf-arch.ts CONFIG_TENSORS). */
  values: Record<string, number[]>;
}

/** Names of ggml tensor types, by id. */
export const GGML_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1',
  10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS',
  17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS',
  24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0',
  35: 'TQ2_0', 39: 'MXFP4',
};

/** [elements per block, bytes per block] for types whose layout we are sure of (bounds checks). */
const BLOCK_LAYOUT: Readonly<Record<number, readonly [number, number]>> = {
  0: [1, 4], 1: [1, 2], 2: [32, 18], 3: [32, 20], 6: [32, 22], 7: [32, 24], 8: [32, 34],
  9: [32, 36], 10: [256, 84], 11: [256, 110], 12: [256, 144], 13: [256, 176], 14: [256, 210],
  15: [256, 292], 24: [1, 1], 25: [1, 2], 26: [1, 4], 27: [1, 8], 28: [1, 8], 30: [1, 2],
  39: [32, 17],
};

const GGUF_MAGIC = 0x46554747; // "GGUF" read as little-endian uint32
const MAX_DIMS = 4; // GGML_MAX_DIMS
const MAX_ARRAY_DEPTH = 8; // nested arrays are legal but never deep in real files
// Bounding by the file size alone still lets a corrupt length in a 40 GB file ask for a 30 GB
// string; real metadata strings are < 1 MiB and the largest arrays (vocabularies) < 1M entries.
const MAX_STRING = 256 << 20;
const MAX_ARRAY = 1 << 26;

// Value type ids from the GGUF spec.
const T = {
  U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7,
  STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12,
} as const;
/** Encoded size of each fixed-size value type; strings and arrays take at least 8 bytes. */
const MIN_SIZE: readonly number[] = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8];

/** Builds the INVALID_MODEL error every parse failure uses. */
function invalid(message: string): MlxNativeError {
  return new MlxNativeError('INVALID_MODEL', `[gguf] ${message}`);
}

/** Sequential little-endian reader over a FileHandle with a refillable window. */
class Reader {
  private buf = Buffer.alloc(0);
  private bufStart = 0; // file offset of buf[0]
  pos = 0; // absolute file offset of the next byte

  constructor(private readonly fh: FileHandle, readonly size: number) {}

  /** Bytes left in the file after the cursor. */
  get remaining(): number {
    return this.size - this.pos;
  }

  /** True when `n` bytes are already buffered, so callers can skip the `await` (hot loops). */
  has(n: number): boolean {
    return this.pos + n <= this.bufStart + this.buf.length;
  }

  /** Makes `n` bytes available at the cursor, or throws when the file ends first. */
  async ensure(n: number): Promise<void> {
    if (this.has(n)) return;
    if (n > this.remaining) throw invalid(`truncated metadata at byte ${this.pos} (need ${n} bytes, file has ${this.remaining} left)`);
    // Read ahead generously: the token/merge arrays are megabytes of tiny strings.
    const len = Math.min(Math.max(n, 1 << 20), this.remaining);
    const next = Buffer.allocUnsafe(len);
    const { bytesRead } = await this.fh.read(next, 0, len, this.pos);
    if (bytesRead < n) throw invalid(`truncated metadata at byte ${this.pos + bytesRead}`);
    this.buf = next.subarray(0, bytesRead);
    this.bufStart = this.pos;
  }

  private at(n: number): number {
    const o = this.pos - this.bufStart;
    this.pos += n;
    return o;
  }

  u8(): number { return this.buf.readUInt8(this.at(1)); }
  i8(): number { return this.buf.readInt8(this.at(1)); }
  u16(): number { return this.buf.readUInt16LE(this.at(2)); }
  i16(): number { return this.buf.readInt16LE(this.at(2)); }
  u32(): number { return this.buf.readUInt32LE(this.at(4)); }
  i32(): number { return this.buf.readInt32LE(this.at(4)); }
  f32(): number { return this.buf.readFloatLE(this.at(4)); }
  f64(): number { return this.buf.readDoubleLE(this.at(8)); }
  u64(): bigint { return this.buf.readBigUInt64LE(this.at(8)); }
  i64(): bigint { return this.buf.readBigInt64LE(this.at(8)); }

  /** Reads a u64 count/length and checks that `count * unit` bytes can still follow. */
  async length(unit: number, what: string): Promise<number> {
    const start = this.pos;
    await this.ensure(8);
    const n = this.u64();
    if (n * BigInt(unit) > BigInt(this.remaining)) {
      // Either the file was cut short or the length itself is garbage; we cannot tell which.
      throw invalid(`truncated or corrupt metadata at byte ${start}: ${what} ${n} needs more than the ${this.remaining} bytes left`);
    }
    return Number(n);
  }

  /** {@link length}, plus an absolute cap (see MAX_STRING / MAX_ARRAY). */
  async cappedLength(unit: number, what: string, cap: number): Promise<number> {
    const n = await this.length(unit, what);
    if (n > cap) throw invalid(`corrupt metadata at byte ${this.pos - 8}: ${what} ${n} exceeds the limit of ${cap}`);
    return n;
  }

  /** Reads a string without awaiting when it is fully buffered; undefined otherwise. */
  bufferedString(): string | undefined {
    if (!this.has(8)) return undefined;
    const o = this.pos - this.bufStart;
    const n = this.buf.readBigUInt64LE(o);
    if (n > BigInt(this.remaining - 8) || !this.has(8 + Number(n))) return undefined;
    this.pos += 8 + Number(n);
    return this.buf.toString('utf8', o + 8, o + 8 + Number(n));
  }

  async string(what = 'string length'): Promise<string> {
    const n = await this.cappedLength(1, what, MAX_STRING);
    await this.ensure(n);
    const o = this.at(n);
    return this.buf.toString('utf8', o, o + n);
  }
}

/** Converts a 64-bit integer to a number when exact, so common counts stay plain numbers. */
function big(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Readers of the fixed-size scalar types; callers ensure the bytes are buffered first. */
const SCALARS: Readonly<Record<number, (r: Reader) => GgufValue>> = {
  [T.U8]: (r) => r.u8(), [T.I8]: (r) => r.i8(), [T.U16]: (r) => r.u16(), [T.I16]: (r) => r.i16(),
  [T.U32]: (r) => r.u32(), [T.I32]: (r) => r.i32(), [T.F32]: (r) => r.f32(), [T.BOOL]: (r) => r.u8() !== 0,
  [T.U64]: (r) => big(r.u64()), [T.I64]: (r) => big(r.i64()), [T.F64]: (r) => r.f64(),
};

async function readValue(r: Reader, type: number, depth: number): Promise<GgufValue> {
  if (type === T.STRING) return r.string();
  if (type === T.ARRAY) {
    if (depth >= MAX_ARRAY_DEPTH) throw invalid(`arrays nested too deep at byte ${r.pos}`);
    await r.ensure(4);
    const elemType = r.u32();
    if (elemType >= MIN_SIZE.length) throw invalid(`unknown array element type ${elemType} at byte ${r.pos - 4}`);
    const count = await r.cappedLength(MIN_SIZE[elemType], 'array length', MAX_ARRAY);
    const out: GgufValue[] = new Array(count);
    if (elemType === T.STRING) {
      for (let i = 0; i < count; i++) {
        // Sync fast path while the string is buffered: avoids ~100k awaits for a vocab.
        out[i] = r.bufferedString() ?? (await r.string('array string length'));
      }
    } else if (elemType === T.ARRAY) {
      for (let i = 0; i < count; i++) out[i] = await readValue(r, T.ARRAY, depth + 1);
    } else {
      const size = MIN_SIZE[elemType];
      const read = SCALARS[elemType];
      for (let i = 0; i < count; i++) {
        if (!r.has(size)) await r.ensure(size);
        out[i] = read(r);
      }
    }
    return out;
  }
  const read = SCALARS[type];
  if (!read) throw invalid(`unknown value type ${type} at byte ${r.pos - 4}`);
  await r.ensure(MIN_SIZE[type]);
  return read(r);
}

/**
 * Reads a GGUF file's header, metadata and tensor infos without touching tensor data.
 * @throws Error with `code = 'INVALID_MODEL'` for a non-GGUF, unsupported, truncated or corrupt file.
 */
export async function readGgufMetadata(path: string): Promise<GgufMetadata> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const r = new Reader(fh, size);
    await r.ensure(24).catch(() => {
      throw invalid(`file too small to be GGUF (${size} bytes): ${path}`);
    });
    const magic = r.u32();
    if (magic !== GGUF_MAGIC) throw invalid(`bad magic 0x${magic.toString(16).padStart(8, '0')} (not a GGUF file): ${path}`);
    const version = r.u32();
    // v1 used 32-bit lengths and is long obsolete; v2 and v3 share this layout.
    if (version !== 2 && version !== 3) throw invalid(`unsupported GGUF version ${version}`);
    // Each tensor info takes >= 24 bytes and each kv >= 13, which caps absurd counts by file size.
    const tensorCount = await r.length(24, 'tensor count');
    const kvCount = await r.length(13, 'metadata count');

    const kv = Object.create(null) as Record<string, GgufValue>;
    for (let i = 0; i < kvCount; i++) {
      const key = await r.string('key length');
      await r.ensure(4);
      const type = r.u32();
      kv[key] = await readValue(r, type, 0);
    }

    const tensors: GgufTensorInfo[] = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = await r.string('tensor name length');
      await r.ensure(4);
      const nDims = r.u32();
      if (nDims > MAX_DIMS) throw invalid(`tensor '${name}' has ${nDims} dims (max ${MAX_DIMS})`);
      await r.ensure(8 * nDims + 12);
      const dims: number[] = [];
      for (let d = 0; d < nDims; d++) {
        const v = r.u64();
        if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(`tensor '${name}' has absurd dimension ${v}`);
        dims.push(Number(v));
      }
      const type = r.u32();
      const offset = r.u64();
      if (offset > BigInt(size)) throw invalid(`tensor '${name}' data offset ${offset} is beyond the end of the ${size}-byte file (truncated?)`);
      const info: GgufTensorInfo = { name, dims, type, typeName: GGML_TYPE_NAMES[type] ?? `type_${type}`, offset: Number(offset) };
      const layout = BLOCK_LAYOUT[type];
      if (layout) {
        const elems = dims.reduce((a, b) => a * b, 1);
        info.nbytes = Math.ceil(elems / layout[0]) * layout[1];
      }
      tensors.push(info);
    }

    const alignment = typeof kv['general.alignment'] === 'number' ? kv['general.alignment'] : 32;
    if (!Number.isInteger(alignment) || alignment <= 0 || alignment > 1 << 20) throw invalid(`bad general.alignment ${String(alignment)}`);
    const dataOffset = Math.ceil(r.pos / alignment) * alignment;
    for (const t of tensors) {
      if (t.nbytes !== undefined && dataOffset + t.offset + t.nbytes > size) {
        throw invalid(`tensor '${t.name}' data ends at byte ${dataOffset + t.offset + t.nbytes} but the file has ${size} bytes (truncated?)`);
      }
    }
    const values: Record<string, number[]> = {};
    for (const t of tensors) {
      const count = t.dims.reduce((a, b) => a * b, 1);
      if (!CONFIG_TENSORS.has(t.name) || t.type !== 0 || count > 1 << 16) continue;
      const bytes = Buffer.alloc(count * 4);
      await fh.read(bytes, 0, bytes.length, dataOffset + t.offset);
      values[t.name] = Array.from({ length: count }, (_, i) => bytes.readFloatLE(4 * i));
    }
    return { version, kv, tensors, alignment, dataOffset, fileSize: size, values };
  } finally {
    await fh.close();
  }
}

/**
 * GGUF stores floats as f32, so 1e-5 comes back as 9.99999974e-6. Return the shortest decimal
 * that rounds to the same f32, which is what the original config.json said.
 */
function shortestF32(x: number): number {
  for (let p = 1; p <= 17; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === Math.fround(x)) return y;
  }
  return x;
}

function num(kv: Record<string, GgufValue>, key: string): number | undefined {
  const v = kv[key];
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

/**
 * Maps GGUF metadata to a Hugging Face style `config.json` object (llama, qwen2, qwen3 and
 * other llama-like architectures that use the same `<arch>.*` keys).
 *
 * Not recoverable from GGUF: Llama 3.x "llama3" rope scaling parameters (the converter bakes
 * them into a `rope_freqs` tensor), so only explicit `rope.scaling.*` keys are mapped.
 * @throws Error with code INVALID_MODEL when general.architecture or a required key is missing.
 */
export function ggufToHfConfig(meta: GgufMetadata): Record<string, unknown> {
  const { kv } = meta;
  const arch = kv['general.architecture'];
  if (typeof arch !== 'string') throw invalid('missing general.architecture');
  const k = (name: string): number | undefined => num(kv, `${arch}.${name}`);
  const need = (name: string): number => {
    const v = k(name);
    if (v === undefined) throw invalid(`missing ${arch}.${name}`);
    return v;
  };
  const hidden = need('embedding_length');
  const heads = need('attention.head_count');
  const tokens = kv['tokenizer.ggml.tokens'];
  const vocab = k('vocab_size') ?? (Array.isArray(tokens) ? tokens.length : undefined);
  const eps = k('attention.layer_norm_rms_epsilon');
  const hasTensor = (name: string): boolean => meta.tensors.some((t) => t.name === name);

  const config: Record<string, unknown> = {
    architectures: [GGUF_ARCHITECTURES[arch]?.hf ?? `${arch[0].toUpperCase()}${arch.slice(1)}ForCausalLM`],
    model_type: GGUF_ARCHITECTURES[arch]?.modelType ?? arch,
    hidden_size: hidden,
    num_hidden_layers: need('block_count'),
    intermediate_size: need('feed_forward_length'),
    num_attention_heads: heads,
    num_key_value_heads: k('attention.head_count_kv') ?? heads,
    head_dim: k('attention.key_length') ?? hidden / heads,
    rms_norm_eps: eps === undefined ? 1e-6 : shortestF32(eps),
    rope_theta: shortestF32(k('rope.freq_base') ?? 10000),
    max_position_embeddings: k('context_length') ?? 2048,
    vocab_size: vocab,
    hidden_act: 'silu',
    // No separate output matrix means the LM head reuses the embedding.
    tie_word_embeddings: !hasTensor('output.weight'),
    attention_bias: hasTensor('blk.0.attn_q.bias'),
    bos_token_id: num(kv, 'tokenizer.ggml.bos_token_id'),
    eos_token_id: num(kv, 'tokenizer.ggml.eos_token_id'),
  };
  const ropeType = kv[`${arch}.rope.scaling.type`];
  const factor = k('rope.scaling.factor');
  if (typeof ropeType === 'string' && ropeType !== 'none' && factor !== undefined) {
    const scaling: Record<string, unknown> = { rope_type: ropeType, type: ropeType, factor: shortestF32(factor) };
    const orig = k('rope.scaling.original_context_length');
    if (orig !== undefined) scaling.original_max_position_embeddings = orig;
    const attn = k('rope.scaling.attn_factor');
    if (attn !== undefined) scaling.attention_factor = shortestF32(attn);
    for (const [key, field] of [['yarn_beta_fast', 'beta_fast'], ['yarn_beta_slow', 'beta_slow']]) {
      const v = k(`rope.scaling.${key}`);
      if (v !== undefined) scaling[field] = shortestF32(v);
    }
    config.rope_scaling = scaling;
  }
  const window = k('attention.sliding_window');
  if (window !== undefined) config.sliding_window = window;
  Object.assign(config, architectureConfig(arch, config, k, meta));
  for (const key of Object.keys(config)) if (config[key] === undefined) delete config[key];
  return config;
}

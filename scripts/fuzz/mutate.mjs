// Mutations for the fuzz harness: of bytes (in a chosen range of a file), of parsed JSON, and of
// Jinja template source. All are driven by a seeded PRNG so a failing case can be replayed.

/** Values that break parsers: zeros, all ones, sign bits, sizes that overflow. */
const INTERESTING_U32 = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];
const INTERESTING_JSON = [null, true, false, 0, -1, 1, 0.5, -0.0, 2 ** 31, 2 ** 53, 1e308, -1e308, 1e-308, '', 'x', '\u0000', '💥'.repeat(3), [], {}, [0], { a: 1 }];

/**
 * Applies one random byte-level mutation to `buf` (a copy is returned) within [lo, hi).
 * @returns {{ buf: Buffer, what: string }}
 */
export function mutateBytes(r, buf, lo = 0, hi = buf.length) {
  const at = lo + Math.floor(r.next() * Math.max(1, hi - lo));
  const choice = r.int(0, 5);
  if (choice === 0) {
    const out = Buffer.from(buf);
    const n = r.int(1, 8);
    for (let i = 0; i < n; i++) out[Math.min(out.length - 1, at + i)] ^= 1 << r.int(0, 7);
    return { buf: out, what: `flip ${n} byte(s) at ${at}` };
  }
  if (choice === 1) {
    const out = Buffer.from(buf);
    const v = r.pick(INTERESTING_U32);
    if (at + 4 <= out.length) out.writeUInt32LE(v >>> 0, at);
    return { buf: out, what: `u32 ${v} at ${at}` };
  }
  if (choice === 2) {
    const out = Buffer.from(buf);
    const v = r.pick([0n, 1n, 0xffffffffn, 0x7fffffffffffffffn, 0xffffffffffffffffn, 1n << 40n]);
    if (at + 8 <= out.length) out.writeBigUInt64LE(v, at);
    return { buf: out, what: `u64 ${v} at ${at}` };
  }
  if (choice === 3) return { buf: buf.subarray(0, at), what: `truncate at ${at}` };
  if (choice === 4) {
    const n = r.int(1, 64);
    return { buf: Buffer.concat([buf.subarray(0, at), Buffer.alloc(n, r.int(0, 255)), buf.subarray(at)]), what: `insert ${n} bytes at ${at}` };
  }
  const n = r.int(1, 64);
  return { buf: Buffer.concat([buf.subarray(0, at), buf.subarray(at + n)]), what: `delete ${n} bytes at ${at}` };
}

/** Every [parent, key] in a JSON value, for picking a node to mutate. */
function slots(value, out = [], depth = 0) {
  if (depth > 12 || value === null || typeof value !== 'object') return out;
  for (const key of Object.keys(value)) {
    out.push([value, key]);
    slots(value[key], out, depth + 1);
  }
  return out;
}

/**
 * One random mutation of a JSON value (a deep copy is returned): a node replaced by a value
 * of another type, deleted, or a number pushed to an edge. `prefer` limits the choice to
 * keys matching it, when any do.
 * @returns {{ json: unknown, what: string }}
 */
export function mutateJson(r, json, prefer) {
  const copy = structuredClone(json);
  let all = slots(copy);
  if (prefer) {
    const preferred = all.filter(([, k]) => prefer.test(k));
    if (preferred.length && r.next() < 0.8) all = preferred;
  }
  if (all.length === 0) return { json: r.pick(INTERESTING_JSON), what: 'replace the whole value' };
  const [parent, key] = r.pick(all);
  const old = parent[key];
  const choice = r.int(0, 3);
  if (choice === 0 && !Array.isArray(parent)) {
    delete parent[key];
    return { json: copy, what: `delete ${key}` };
  }
  if (choice === 1 && typeof old === 'number') {
    const v = r.pick([0, -1, old * 2, old + 1, old - 1, -old, 2 ** 31, 1e12, 0.5]);
    parent[key] = v;
    return { json: copy, what: `${key}: ${old} -> ${v}` };
  }
  if (choice === 2 && typeof old === 'string' && old.length > 0) {
    const cut = r.int(0, old.length - 1);
    parent[key] = r.next() < 0.5 ? old.slice(0, cut) : old.slice(0, cut) + r.pick(['{{', '}}', '{%', '%}', '\u0000', '"', '\\', '💥']) + old.slice(cut);
    return { json: copy, what: `edit string ${key}` };
  }
  const v = r.pick(INTERESTING_JSON);
  parent[key] = structuredClone(v);
  return { json: copy, what: `${key} -> ${JSON.stringify(v)}` };
}

const JINJA_BITS = ['{{', '}}', '{%', '%}', '{% endfor %}', '{% if %}', '{{ messages[99] }}', '{{ raise_exception("x") }}', '{{ 1/0 }}', '|', '(', ')', "'", '{% for m in messages %}', '{{ message["content"] | upper }}', '{{ none.attr }}'];

/** One random edit of Jinja source: a span deleted, a fragment inserted, or a span doubled. */
export function mutateTemplate(r, source) {
  const at = r.int(0, source.length);
  const choice = r.int(0, 2);
  if (choice === 0) {
    const n = r.int(1, 40);
    return { source: source.slice(0, at) + source.slice(at + n), what: `delete ${n} chars at ${at}` };
  }
  if (choice === 1) {
    const bit = r.pick(JINJA_BITS);
    return { source: source.slice(0, at) + bit + source.slice(at), what: `insert ${JSON.stringify(bit)} at ${at}` };
  }
  const n = r.int(1, 60);
  return { source: source.slice(0, at) + source.slice(at, at + n) + source.slice(at), what: `double ${n} chars at ${at}` };
}

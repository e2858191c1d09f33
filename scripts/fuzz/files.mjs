// Damaged copies of the real fixtures for the fuzz harness: the GGUF file (header and tensor
// data), and the MLX directory's model.safetensors header, config.json, tokenizer.json and chat
// template. Unchanged files of a directory are symlinks, so a case costs little but the file it
// damages.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { readGgufMetadata } from '../../dist/engine/gguf.js';
import { mutateBytes, mutateJson, mutateTemplate } from './mutate.mjs';

/** File targets, and the key names JSON mutations prefer for each. */
export const FILE_TARGETS = ['gguf', 'safetensors', 'config', 'tokenizer', 'template'];
const PREFER = {
  config: /hidden|layers|heads|vocab|head_dim|intermediate|rope|eps|quantization|bits|group|tie|model_type|max_position/,
  tokenizer: /vocab|merges|type|pre_tokenizer|decoder|added_tokens|model|normalizer|post_processor/,
  safetensors: /dtype|shape|data_offsets/,
};

/** `head` followed by `source`'s bytes from `from` on (up to `until`), written to `out`. */
async function writeSpliced(out, head, source, from, until) {
  const stream = createWriteStream(out);
  stream.write(head);
  if (until === undefined || until > from) await pipeline(createReadStream(source, { start: from, end: until === undefined ? undefined : until - 1 }), stream);
  else await new Promise((resolve, reject) => stream.end((err) => (err ? reject(err) : resolve())));
}

/** Reads the parts of the fixtures that mutations touch, once. */
export async function loadSources({ gguf, mlxDir }) {
  const meta = await readGgufMetadata(gguf);
  const handle = await open(gguf, 'r');
  const header = Buffer.alloc(meta.dataOffset);
  await handle.read(header, 0, meta.dataOffset, 0);
  await handle.close();
  const st = join(mlxDir, 'model.safetensors');
  const sth = await open(st, 'r');
  const len = Buffer.alloc(8);
  await sth.read(len, 0, 8, 0);
  const stHeaderLen = Number(len.readBigUInt64LE());
  const stHeader = Buffer.alloc(8 + stHeaderLen);
  await sth.read(stHeader, 0, stHeader.length, 0);
  await sth.close();
  return {
    gguf,
    mlxDir,
    ggufHeader: header,
    ggufSize: meta.fileSize,
    safetensors: st,
    safetensorsHeader: stHeader,
    config: JSON.parse(await readFile(join(mlxDir, 'config.json'), 'utf8')),
    tokenizer: JSON.parse(await readFile(join(mlxDir, 'tokenizer.json'), 'utf8')),
    tokenizerConfig: JSON.parse(await readFile(join(mlxDir, 'tokenizer_config.json'), 'utf8')),
  };
}

/** A directory like the fixture's with `files` (name -> Buffer | string) written over it. */
async function variantDir(src, dir, files) {
  await mkdir(dir, { recursive: true });
  for (const name of await readdir(src.mlxDir)) {
    if (name in files) continue;
    await symlink(join(src.mlxDir, name), join(dir, name));
  }
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === 'function') await content(join(dir, name));
    else await writeFile(join(dir, name), content);
  }
}

/**
 * Writes one damaged model for `target` under `dir`; returns { path, what }.
 * @param {'gguf'|'safetensors'|'config'|'tokenizer'|'template'} target
 */
export async function makeCase(r, src, target, dir) {
  await mkdir(dir, { recursive: true });
  if (target === 'gguf') {
    const path = join(dir, 'model.gguf');
    const inData = r.next() < 0.15;
    if (inData) {
      // The tensor data: a truncated file, or damaged weights (which must still load and run).
      if (r.next() < 0.5) {
        const cut = r.int(src.ggufHeader.length, src.ggufSize - 1);
        await writeSpliced(path, src.ggufHeader, src.gguf, src.ggufHeader.length, cut);
        return { path, what: `gguf truncated at ${cut} of ${src.ggufSize}` };
      }
      await writeSpliced(path, src.ggufHeader, src.gguf, src.ggufHeader.length);
      const h = await open(path, 'r+');
      const at = r.int(src.ggufHeader.length, src.ggufSize - 16);
      const junk = r.pick([Buffer.alloc(16, 0xff), Buffer.alloc(16, 0), Buffer.from('7fc000007fc000007fc000007fc00000', 'hex')]);
      await h.write(junk, 0, junk.length, at);
      await h.close();
      return { path, what: `gguf data overwritten at ${at}` };
    }
    const { buf, what } = mutateBytes(r, src.ggufHeader);
    await writeSpliced(path, buf, src.gguf, src.ggufHeader.length);
    return { path, what: `gguf header: ${what}` };
  }
  if (target === 'safetensors') {
    let head;
    let what;
    if (r.next() < 0.6) {
      const json = JSON.parse(src.safetensorsHeader.subarray(8).toString('utf8'));
      const m = mutateJson(r, json, PREFER.safetensors);
      const text = Buffer.from(JSON.stringify(m.json));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(text.length));
      head = Buffer.concat([len, text]);
      what = `safetensors header json: ${m.what}`;
    } else {
      const m = mutateBytes(r, src.safetensorsHeader);
      head = m.buf;
      what = `safetensors header bytes: ${m.what}`;
    }
    const path = join(dir, 'model');
    await variantDir(src, path, { 'model.safetensors': (out) => writeSpliced(out, head, src.safetensors, src.safetensorsHeader.length) });
    return { path, what };
  }
  const path = join(dir, 'model');
  if (target === 'config') {
    const m = mutateJson(r, src.config, PREFER.config);
    await variantDir(src, path, { 'config.json': JSON.stringify(m.json) });
    return { path, what: `config.json: ${m.what}` };
  }
  if (target === 'tokenizer') {
    const m = mutateJson(r, src.tokenizer, PREFER.tokenizer);
    await variantDir(src, path, { 'tokenizer.json': JSON.stringify(m.json) });
    return { path, what: `tokenizer.json: ${m.what}` };
  }
  const m = mutateTemplate(r, src.tokenizerConfig.chat_template);
  await variantDir(src, path, { 'tokenizer_config.json': JSON.stringify({ ...src.tokenizerConfig, chat_template: m.source }) });
  return { path, what: `chat_template: ${m.what}` };
}

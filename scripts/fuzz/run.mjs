// The file half of the fuzz harness: damaged fixtures loaded (and, when they load, run) in a
// child process, one case at a time, each bounded in time. A child that dies is a crash, one
// that does not answer in time is a hang, a thread that outlives its case is a leak, and an
// error that is not an MlxNativeError with a real code is unclear. Each finding keeps its input.
import { spawn } from 'node:child_process';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { rng } from '../soak/mix.mjs';
import { FILE_TARGETS, loadSources, makeCase } from './files.mjs';
import { mutateTemplate } from './mutate.mjs';

const WORKER = fileURLToPath(new URL('./worker.mjs', import.meta.url));

/** A worker process and a way to wait for its next line (or its death). */
function startWorker() {
  const proc = spawn(process.execPath, [WORKER], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const queue = [];
  let waiter;
  createInterface({ input: proc.stdout }).on('line', (line) => {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    if (waiter) waiter.resolve(msg);
    else queue.push(msg);
  });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  exited.then((e) => waiter?.resolve({ exited: e }));
  return {
    send: (obj) => proc.stdin.write(`${JSON.stringify(obj)}\n`),
    /** The next message, { exited } if the process died, or { timeout: true }. */
    next(timeoutMs) {
      if (queue.length) return Promise.resolve(queue.shift());
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve({ exited: { code: proc.exitCode, signal: proc.signalCode } });
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiter = undefined;
          resolve({ timeout: true });
        }, timeoutMs);
        waiter = { resolve: (m) => (clearTimeout(timer), (waiter = undefined), resolve(m)) };
      });
    },
    stderr: () => stderr,
    kill: () => proc.kill('SIGKILL'),
    exited,
  };
}

/**
 * Threads a load case may leave behind. While the known native bug is there (MLX stream threads
 * outlive every model; none since the stream pool, test/engine-threads.test.ts), a clean load leaves `perLoad` and loads that
 * take other paths (dequantized weights, another dtype) were seen to leave up to two more; once
 * it is fixed, none.
 */
function allowance(perLoad) {
  return perLoad > 0 ? perLoad + 2 : 0;
}

const MESSAGES = [
  [{ role: 'user', content: 'Hi' }],
  [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }, { role: 'user', content: 'Bye' }],
  [{ role: 'assistant', content: '' }],
];

/**
 * Runs file cases until `iterations` or `seconds` is reached.
 * @param {{ gguf: string, mlxDir: string, iterations: number, seconds: number, seed: number,
 *   targets?: string[], workDir: string, caseTimeoutMs?: number, log?: (s: string) => void }} o
 */
export async function fuzzFiles(o) {
  const log = o.log ?? (() => undefined);
  const r = rng(o.seed);
  const targets = o.targets ?? [...FILE_TARGETS, 'render'];
  const src = await loadSources({ gguf: o.gguf, mlxDir: o.mlxDir });
  const report = { cases: 0, ok: 0, clearError: 0, findings: [], byTarget: {}, codes: {} };
  const deadline = performance.now() + o.seconds * 1000;
  const timeoutMs = o.caseTimeoutMs ?? 120_000;
  let worker;
  let perLoad = { gguf: 0, mlx: 0 };
  const calibrate = async () => {
    worker = startWorker();
    worker.send({ id: 0, op: 'calibrate', gguf: o.gguf, mlxDir: o.mlxDir });
    const msg = await worker.next(timeoutMs * 3);
    if (!msg.calibrated) throw new Error(`fuzz worker failed to start: ${JSON.stringify(msg)}\n${worker.stderr()}`);
    perLoad = msg.perLoad;
    report.threadsLeftPerLoad = perLoad;
  };
  await calibrate();
  try {
    for (let i = 1; i <= o.iterations && performance.now() < deadline; i++) {
      const target = targets[(i - 1) % targets.length];
      const dir = join(o.workDir, `case-${i}`);
      let c;
      if (target === 'render') {
        const m = mutateTemplate(r, src.tokenizerConfig.chat_template);
        c = { id: i, op: 'template', source: m.source, messages: r.pick(MESSAGES), what: `render: ${m.what}`, allowance: 0 };
      } else {
        const made = await makeCase(r, src, target, dir);
        c = { id: i, op: 'load', path: made.path, what: made.what, allowance: allowance(perLoad[target === 'gguf' ? 'gguf' : 'mlx']) };
      }
      worker.send(c);
      let msg = await worker.next(timeoutMs);
      if (msg.started) msg = await worker.next(timeoutMs);
      report.cases++;
      report.byTarget[target] = (report.byTarget[target] ?? 0) + 1;
      let finding;
      if (msg.exited) finding = { kind: 'crash', detail: `worker died (${msg.exited.signal ?? `exit ${msg.exited.code}`})`, stderr: worker.stderr() };
      else if (msg.timeout) finding = { kind: 'hang', detail: `no answer in ${timeoutMs} ms` };
      else if (msg.result.ok) report.ok++;
      else if (msg.result.clear) {
        report.clearError++;
        report.codes[msg.result.code] = (report.codes[msg.result.code] ?? 0) + 1;
      } else finding = { kind: 'unclear-error', detail: `${msg.result.code}: ${msg.result.message}` };
      const t = msg.threads;
      if (!finding && t && t.after > t.before + t.allowance) {
        finding = { kind: 'thread-leak', detail: `${t.after} threads after the case, ${t.before} before (a clean load leaves ${t.allowance})` };
      }
      if (finding) {
        const keep = join(o.workDir, 'findings', `${finding.kind}-${i}`);
        await mkdir(keep, { recursive: true });
        if (c.op === 'load') await cp(dir, keep, { recursive: true, verbatimSymlinks: true });
        await writeFile(join(keep, 'case.json'), `${JSON.stringify({ ...c, seed: o.seed, finding }, null, 2)}\n`);
        report.findings.push({ id: i, target, what: c.what, ...finding, kept: keep });
        log(`case ${i} ${target}: ${finding.kind}: ${finding.detail} (${c.what}); input kept in ${keep}`);
        if (finding.kind === 'crash' || finding.kind === 'hang') {
          worker.kill();
          await calibrate();
        }
      } else if (i % 10 === 0) log(`${i} cases: ${report.ok} ok, ${report.clearError} clear errors, ${report.findings.length} findings`);
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    worker.kill();
  }
  return report;
}

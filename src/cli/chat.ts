/** `mlx-native chat --model M`: an interactive chat that keeps the conversation's history. */
import { createInterface } from 'node:readline/promises';
import type { ChatMessage } from '../engine/types.js';
import { loadOptions, loadOptionsFrom, loadWithProgress, parse, samplingFrom, samplingOptions, timingLine } from './common.js';

const help = `Usage: mlx-native chat --model PATH [--system TEXT] [--dtype TYPE] [--max-tokens N] [--temperature T] ...
Type a message and press Enter. Commands: /reset (forget the history), /exit. Ctrl-C stops a reply.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    model: { type: 'string' },
    system: { type: 'string' },
    help: { type: 'boolean' },
    ...samplingOptions,
    ...loadOptions,
  });
  if (values.help) return console.log(help), 0;
  if (!values.model) {
    console.error(help);
    return 1;
  }
  const model = await loadWithProgress(values.model, loadOptionsFrom(values));
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
  const initial: ChatMessage[] = values.system ? [{ role: 'system', content: values.system }] : [];
  let history = [...initial];
  let controller: AbortController | undefined;
  rl.on('SIGINT', () => (controller ? controller.abort() : rl.close()));
  try {
    for (;;) {
      let line: string;
      try {
        line = (await rl.question('> ')).trim();
      } catch {
        break; // input closed
      }
      if (line === '/exit') break;
      if (line === '/reset') {
        history = [...initial];
        continue;
      }
      if (!line) continue;
      history.push({ role: 'user', content: line });
      controller = new AbortController();
      const gen = model.chat(history, { ...samplingFrom(values), signal: controller.signal });
      for await (const chunk of gen) process.stdout.write(chunk.text);
      const result = await gen.result;
      controller = undefined;
      process.stdout.write('\n');
      history.push({ role: 'assistant', content: result.text });
      console.error(timingLine(result, result.finishReason));
    }
    return 0;
  } finally {
    rl.close();
    await model.dispose();
  }
}

/** `mlx-native generate --model M --prompt TEXT`: streams the completion to stdout. */
import { loadOptions, loadOptionsFrom, loadWithProgress, parse, samplingFrom, samplingOptions, timingLine } from './common.js';

const help = `Usage: mlx-native generate --model PATH --prompt TEXT [--chat] [--max-tokens N]
  [--temperature T] [--top-p P] [--top-k K] [--min-p P] [--repetition-penalty R] [--seed S]
  [--dtype float32|float16|bfloat16]

  --chat    wrap the prompt as a user message with the model's chat template
  --dtype   compute dtype (default: float32 on the CPU, float16 on GPUs)`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    model: { type: 'string' },
    prompt: { type: 'string' },
    chat: { type: 'boolean' },
    help: { type: 'boolean' },
    ...samplingOptions,
    ...loadOptions,
  });
  if (values.help) return console.log(help), 0;
  if (!values.model || values.prompt === undefined) {
    console.error(help);
    return 1;
  }
  const model = await loadWithProgress(values.model, loadOptionsFrom(values));
  try {
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    const options = { ...samplingFrom(values), signal: controller.signal };
    const gen = values.chat
      ? model.chat([{ role: 'user', content: values.prompt }], options)
      : model.generate(values.prompt, options);
    for await (const chunk of gen) process.stdout.write(chunk.text);
    const result = await gen.result;
    process.stdout.write('\n');
    console.error(timingLine(result, result.finishReason));
    return 0;
  } finally {
    await model.dispose();
  }
}

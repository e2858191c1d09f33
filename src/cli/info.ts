/** `mlx-native info --model M`: prints the model's metadata. */
import { loadWithProgress, parse } from './common.js';

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { model: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } });
  if (values.help || !values.model) {
    console.log('Usage: mlx-native info --model PATH [--json]');
    return values.help ? 0 : 1;
  }
  const model = await loadWithProgress(values.model);
  try {
    const memory = await model.memory();
    const info = { ...model.info, name: model.name, mlxActiveMemory: memory.activeMemory, eosTokenIds: model.tokenizer.eosTokenIds };
    if (values.json) {
      console.log(JSON.stringify(info, null, 2));
    } else {
      const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
      const rows: [string, string][] = [
        ['name', info.name],
        ['path', info.path],
        ['format', info.format],
        ['architecture', info.architecture],
        ['parameters', `${(info.parameterCount / 1e6).toFixed(1)} M`],
        ['quantization', info.quantization],
        ['context length', String(info.contextLength)],
        ['vocabulary', String(info.vocabSize)],
        ['layers', String(info.numLayers)],
        ['hidden size', String(info.hiddenSize)],
        ['weights', mib(info.weightBytes)],
        ['MLX memory', mib(info.mlxActiveMemory)],
        ['chat template', model.chatTemplate.isFallback ? 'ChatML (fallback)' : 'from the model'],
      ];
      for (const t of info.ggufTensorTypes ?? []) rows.push([`GGUF ${t.type}`, `${t.count} tensors → ${t.becomes}`]);
      for (const [k, v] of rows) console.log(`${k.padEnd(16)}${v}`);
    }
    return 0;
  } finally {
    await model.dispose();
  }
}

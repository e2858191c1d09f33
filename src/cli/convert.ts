/** `mlx-native convert MODEL.gguf OUTDIR [--dtype float16|float32|bfloat16]` */
import { convertGguf } from '../engine/convert.js';
import { COMPUTE_DTYPES } from '../engine/model.js';
import type { ComputeDtype } from '../engine/types.js';
import { MlxNativeError } from '../errors.js';
import { parse } from './common.js';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { dtype: { type: 'string' }, help: { type: 'boolean' } }, true);
  if (values.help || positionals.length !== 2) {
    console.log('Usage: mlx-native convert MODEL.gguf OUTDIR [--dtype float16|float32|bfloat16]');
    return values.help ? 0 : 1;
  }
  const dtype = (values.dtype ?? 'float16') as ComputeDtype;
  if (!COMPUTE_DTYPES.includes(dtype)) throw new MlxNativeError('INVALID_ARGUMENT', '--dtype must be float16, float32 or bfloat16', { param: 'dtype' });
  const started = Date.now();
  await convertGguf(positionals[0], positionals[1], { dtype });
  console.error(`wrote ${positionals[1]} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}

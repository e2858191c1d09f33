// "A batched row decodes what it decodes alone", checked as strictly as the backend allows.
//
// On the CPU every kernel computes a row the same way whatever else is in the batch, so greedy
// tokens are equal, bit for bit. On a GPU MLX chooses kernels by row count (quantized matmul and
// the engine's decode kernel per row bucket, expert routing sorted past 64 rows), and their sums
// round differently: a batched row may then take another token, but only where its solo run had
// a near tie. So on a GPU the rows must agree up to their first difference, and there the token
// the batched row took must be one the solo run ranked within `tolerance` (logprob) of its pick.
// After that the two continue from different text and are not compared.
import { expect } from 'vitest';
import { Runtime, type TokenLogprob } from '../../src/index.js';

export interface Decoded {
  tokens: number[];
  logprobs?: TokenLogprob[];
}

let backend: Promise<string> | undefined;

/** The MLX backend the engine runs on here ("cpu", "cuda", "metal"). */
export function engineBackend(): Promise<string> {
  backend ??= (async () => {
    const rt = new Runtime();
    try {
      return (await rt.deviceInfo()).backend;
    } finally {
      rt.dispose();
    }
  })();
  return backend;
}

/** Options that make a generation return what expectSameDecode needs: 2 alternatives a token. */
export const NEAR_TIE_LOGPROBS = { logprobs: true, topLogprobs: 2 } as const;

/**
 * `batched` is `alone` (CPU: exactly; GPU: up to a near tie of `alone`'s, see above). `alone`
 * needs logprobs with 2 alternatives (NEAR_TIE_LOGPROBS) for the GPU check.
 */
export async function expectSameDecode(batched: Decoded, alone: Decoded, tolerance: number, what = '') {
  if ((await engineBackend()) === 'cpu') {
    expect(batched.tokens, what).toEqual(alone.tokens);
    return;
  }
  const n = Math.min(batched.tokens.length, alone.tokens.length);
  const first = [...Array(n).keys()].find((i) => batched.tokens[i] !== alone.tokens[i]);
  if (first === undefined) {
    expect(batched.tokens.length, what).toBe(alone.tokens.length);
    return;
  }
  const at = alone.logprobs?.[first];
  expect(at, `${what}: no logprobs at token ${first} of the solo run`).toBeDefined();
  const taken = at!.topLogprobs.find((t) => t.token === batched.tokens[first]);
  expect(taken, `${what}: batched token ${first} is not among the solo run's top 2`).toBeDefined();
  expect(at!.logprob - taken!.logprob, `${what}: token ${first} differs without a near tie`).toBeLessThanOrEqual(tolerance);
}

// Inputs the fuzz harness (npm run fuzz) found to fail badly, kept as regression tests. Each
// names the finding it came from; the model must fail with a clear MlxNativeError.
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { loadModel, MlxNativeError } from '../src/index.js';
import { fixtureVariant } from './helpers/model-dirs.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function loadError(path: string): Promise<unknown> {
  try {
    const model = await loadModel(path, { onWarning: () => undefined });
    await model.dispose();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('tokenizer.json', () => {
  // Fuzz seed 1, case 4: "tokenizer.json: type -> 1" was a plain Error from the tokenizer library.
  it('with a post-processor of an unknown type is INVALID_MODEL', async () => {
    dir = await fixtureVariant({ tokenizer: (t) => ({ ...t, post_processor: { ...(t.post_processor as object), type: 1 } }) });
    const err = await loadError(dir);
    expect(err).toBeInstanceOf(MlxNativeError);
    expect(err).toMatchObject({ code: 'INVALID_MODEL' });
    expect((err as Error).message).toMatch(/\[tokenizer\] cannot build the tokenizer/);
  });

  it('with added_tokens that are not a list is INVALID_MODEL', async () => {
    dir = await fixtureVariant({ tokenizer: (t) => ({ ...t, added_tokens: { a: 1 } }) });
    expect(await loadError(dir)).toMatchObject({ code: 'INVALID_MODEL' });
  });
});

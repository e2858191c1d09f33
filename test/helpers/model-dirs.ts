// Variants of the fixture's MLX directory for tests that need a different context, chat
// template or tokenizer: a temp directory whose weights are links to the fixture's and whose
// JSON files are edited copies.
import { mkdtemp, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureFixtureF32 } from './models.js';

type Json = Record<string, unknown>;

/** Edits applied to the copied JSON files (each gets the parsed file and returns the new one). */
export interface DirEdits {
  config?: (config: Json) => Json;
  tokenizerConfig?: (config: Json) => Json;
  tokenizer?: (tokenizer: Json) => Json;
}

/**
 * A new temp directory that is the fixture (float32 MLX conversion) with `edits` applied.
 *
 * @example
 * const dir = await fixtureVariant({ config: (c) => ({ ...c, max_position_embeddings: 64 }) });
 */
export async function fixtureVariant(edits: DirEdits): Promise<string> {
  const source = await ensureFixtureF32();
  const dir = await mkdtemp(join(tmpdir(), 'mlx-native-variant-'));
  for (const name of await readdir(source)) {
    const edit = { 'config.json': edits.config, 'tokenizer_config.json': edits.tokenizerConfig, 'tokenizer.json': edits.tokenizer }[name];
    if (edit) {
      const json = JSON.parse(await readFile(join(source, name), 'utf8')) as Json;
      await writeFile(join(dir, name), JSON.stringify(edit(json), null, 2));
    } else {
      await symlink(join(source, name), join(dir, name));
    }
  }
  return dir;
}

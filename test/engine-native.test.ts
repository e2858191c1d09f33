// The engine core without Node (native/tools/engine_test.cpp) on the fixture model: the per-row
// logits hook inside a batch, 16 mixed-length greedy requests batched against their solo runs,
// and a constraint that allows nothing failing only its own request.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveModel } from '../src/engine/model-spec.js';
import { FIXTURE } from './helpers/fixture.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const binary = ['build/engine_test', 'build/Release/engine_test'].map((p) => join(root, p)).find(existsSync);

describe('engine core (native test binary)', () => {
  it('passes every check of engine_test on the fixture model', async () => {
    expect(binary, 'build/engine_test is missing: `node scripts/install.mjs --force` builds native/tools').toBeDefined();
    const model = await resolveModel(FIXTURE);
    const config = join(mkdtempSync(join(tmpdir(), 'mlx-native-test-')), 'config.json');
    writeFileSync(config, JSON.stringify(model.hfConfig));
    const r = spawnSync(binary!, ['--model', FIXTURE, '--config', config], { encoding: 'utf8', timeout: 420_000 });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status, out).toBe(0);
    expect(out).toMatch(/^3 passed, 0 failed$/m);
    expect(out).toContain('ok a hooked row follows its mask');
  }, 480_000);
});

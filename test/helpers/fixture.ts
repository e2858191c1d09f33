// The real fixture model (SmolLM2-135M-Instruct, Q4_1 GGUF) that engine tests run on.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FIXTURE = fileURLToPath(new URL('../../models/SmolLM2-135M-Instruct.Q4_1.gguf', import.meta.url));

if (!existsSync(FIXTURE)) {
  throw new Error(`fixture model missing: ${FIXTURE}\nRun \`node scripts/fetch-fixtures.mjs\` first.`);
}

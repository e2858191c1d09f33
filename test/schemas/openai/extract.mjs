#!/usr/bin/env node
// Extracts the OpenAI schemas the server tests validate against from OpenAI's published OpenAPI
// spec (https://github.com/openai/openai-openapi, `openapi.yaml`), so the tests need nothing
// outside the repository. Run it again when the spec moves on:
//
//   node test/schemas/openai/extract.mjs path/to/openapi.yml
//
// It keeps the listed root schemas and everything they reference, and rewrites OpenAPI 3.0's
// `nullable: true` (which the 3.1 spec still uses in places, often beside a `$ref` or without
// a `type`) into JSON Schema's `anyOf [schema, {type: 'null'}]`. The output records the spec's
// version and a hash of its bytes.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** The schemas test/helpers/server-schemas.ts validates responses against. */
export const ROOTS = [
  'CreateChatCompletionResponse',
  'CreateChatCompletionStreamResponse',
  'CreateCompletionResponse',
  'ListModelsResponse',
  'Model',
  'ErrorResponse',
  'Response',
  'ResponseStreamEvent',
  'CreateEmbeddingResponse',
];
const OUT = fileURLToPath(new URL('./schemas.json', import.meta.url));
const PREFIX = '#/components/schemas/';

/** Rewrites OpenAPI 3.0 `nullable` into plain JSON Schema, recursively. */
function denullable(node) {
  if (Array.isArray(node)) return node.map(denullable);
  if (!node || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) out[k] = k === 'example' || k === 'examples' ? v : denullable(v);
  const nullable = out.nullable === true;
  delete out.nullable;
  return nullable ? { anyOf: [out, { type: 'null' }] } : out;
}

/** Names of the component schemas `node` references. */
function refs(node, found = new Set()) {
  if (Array.isArray(node)) for (const v of node) refs(v, found);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith(PREFIX)) found.add(v.slice(PREFIX.length));
      else if (k !== 'example' && k !== 'examples') refs(v, found);
    }
  }
  return found;
}

/** The roots and the schemas they reach, from `spec`'s components. */
export function extract(specText) {
  const spec = parse(specText);
  const all = spec.components.schemas;
  const keep = new Map();
  const todo = [...ROOTS];
  while (todo.length) {
    const name = todo.pop();
    if (keep.has(name)) continue;
    if (!all[name]) throw new Error(`schema ${name} is not in the spec`);
    keep.set(name, denullable(all[name]));
    todo.push(...refs(all[name]));
  }
  const schemas = Object.fromEntries([...keep].sort(([a], [b]) => a.localeCompare(b)));
  return {
    source: {
      title: spec.info.title,
      version: spec.info.version,
      openapi: spec.openapi,
      sha256: createHash('sha256').update(specText).digest('hex'),
      extractedBy: 'test/schemas/openai/extract.mjs',
    },
    components: { schemas },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const specPath = process.argv[2];
  if (!specPath) {
    console.error('usage: node test/schemas/openai/extract.mjs path/to/openapi.yml');
    process.exit(2);
  }
  const out = extract(readFileSync(specPath, 'utf8'));
  writeFileSync(OUT, `${JSON.stringify(out, null, 1)}\n`);
  console.log(`${OUT}: ${Object.keys(out.components.schemas).length} schemas from OpenAI API ${out.source.version}`);
}

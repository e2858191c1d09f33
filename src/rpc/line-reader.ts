/**
 * Splits a byte stream into lines without trusting it: a line longer than `maxLineBytes` is
 * skipped as it streams past (never held in memory), bytes that are not UTF-8 are reported
 * rather than decoded into replacement characters, and a last line without its newline is
 * still delivered at end of input.
 */
import type { Readable } from 'node:stream';

export type Line =
  | { kind: 'text'; text: string }
  | { kind: 'invalid_utf8'; bytes: number }
  | { kind: 'too_long'; bytes: number };

const NEWLINE = 0x0a;

/**
 * @example
 * for await (const line of readLines(process.stdin, 16 << 20)) if (line.kind === 'text') handle(line.text);
 */
export async function* readLines(input: Readable, maxLineBytes: number): AsyncGenerator<Line> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let parts: Buffer[] = [];
  let size = 0;
  let skipping = false; // inside a line that is already too long

  const finish = (): Line | undefined => {
    const bytes = size;
    const wasSkipping = skipping;
    const buf = wasSkipping ? undefined : parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
    parts = [];
    size = 0;
    skipping = false;
    if (!buf) return { kind: 'too_long', bytes };
    let end = buf.length;
    if (end > 0 && buf[end - 1] === 0x0d) end--; // CRLF
    if (end === 0) return undefined;
    try {
      return { kind: 'text', text: decoder.decode(buf.subarray(0, end)) };
    } catch {
      return { kind: 'invalid_utf8', bytes: end };
    }
  };

  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    for (;;) {
      const nl = data.indexOf(NEWLINE);
      const piece = nl < 0 ? data : data.subarray(0, nl);
      size += piece.length;
      if (size > maxLineBytes) skipping = true;
      if (skipping) parts = [];
      else if (piece.length > 0) parts.push(piece);
      if (nl < 0) break;
      const line = finish();
      if (line) yield line;
      data = data.subarray(nl + 1);
    }
  }
  if (size > 0) {
    const line = finish();
    if (line) yield line;
  }
}

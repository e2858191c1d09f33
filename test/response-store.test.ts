// The Responses API's in-memory store keeps its bounds: entry count and conversation text.
import { describe, expect, it } from 'vitest';
import { ResponseStore } from '../src/server/response-store.js';

const entry = (text: string) => ({ messages: [{ role: 'user' as const, content: text }], response: { text } });

describe('ResponseStore', () => {
  it('drops the oldest entries past the entry limit', () => {
    const store = new ResponseStore({ maxEntries: 3, maxChars: 1000 });
    for (let i = 0; i < 5; i++) store.put(`r${i}`, entry(`turn ${i}`));
    expect(store.size).toBe(3);
    expect(store.get('r0')).toBeUndefined();
    expect(store.get('r1')).toBeUndefined();
    expect(store.get('r4')?.response).toEqual({ text: 'turn 4' });
  });

  it('drops the oldest entries past the text limit, and never keeps one larger than it', () => {
    const store = new ResponseStore({ maxEntries: 100, maxChars: 25 });
    store.put('a', entry('x'.repeat(10)));
    store.put('b', entry('y'.repeat(10)));
    store.put('c', entry('z'.repeat(10)));
    expect([store.get('a'), store.get('b') !== undefined, store.get('c') !== undefined]).toEqual([undefined, true, true]);
    store.put('huge', entry('w'.repeat(26)));
    expect(store.get('huge')).toBeUndefined();
    expect(store.size).toBe(2);
  });

  it('replaces an id in place and deletes', () => {
    const store = new ResponseStore({ maxEntries: 2, maxChars: 30 });
    store.put('a', entry('x'.repeat(20)));
    store.put('a', entry('y'.repeat(20)));
    expect(store.size).toBe(1);
    expect(store.get('a')?.response).toEqual({ text: 'y'.repeat(20) });
    expect(store.delete('a')).toBe(true);
    expect(store.delete('a')).toBe(false);
    store.put('b', entry('z'.repeat(30)));
    expect(store.get('b')).toBeDefined();
  });
});

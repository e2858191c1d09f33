/**
 * Stop-string detection over streamed text.
 *
 * A stop string can arrive split across deltas ("<|us" + "er|>"), so text that could still
 * become the start of a stop string is held back until it either completes the stop string
 * (then it and everything after it is dropped) or stops matching (then it is released).
 */

/** Result of {@link StopMatcher.push}. */
export interface StopMatch {
  /** Text that is safe to emit now. */
  text: string;
  /** True once a stop string was found; later pushes return ''. */
  stopped: boolean;
  /** The stop string that matched (set when `stopped` first becomes true). */
  stop?: string;
}

/** Finds the first occurrence of any of a set of stop strings in a stream of text deltas. */
export class StopMatcher {
  private readonly stops: string[];
  private readonly maxLen: number;
  private held = '';
  private done = false;

  /** @param stops Stop strings; empty strings are ignored. */
  constructor(stops: string | readonly string[] | undefined) {
    const list = typeof stops === 'string' ? [stops] : (stops ?? []);
    this.stops = [...new Set(list)].filter((s) => s.length > 0);
    this.maxLen = Math.max(0, ...this.stops.map((s) => s.length));
  }

  /** Whether a stop string has been seen. */
  get stopped(): boolean {
    return this.done;
  }

  /** Feeds a text delta. */
  push(delta: string): StopMatch {
    if (this.done) return { text: '', stopped: true };
    if (this.stops.length === 0) return { text: delta, stopped: false };
    const buf = this.held + delta;
    // Earliest occurrence wins; on a tie the longer stop string is reported.
    let at = -1;
    let hit: string | undefined;
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i !== -1 && (at === -1 || i < at || (i === at && s.length > hit!.length))) {
        at = i;
        hit = s;
      }
    }
    if (hit !== undefined) {
      this.done = true;
      this.held = '';
      return { text: buf.slice(0, at), stopped: true, stop: hit };
    }
    const keep = this.partialSuffix(buf);
    this.held = buf.slice(buf.length - keep);
    return { text: buf.slice(0, buf.length - keep), stopped: false };
  }

  /** At the end of generation: returns the held-back text (it never completed a stop string). */
  flush(): string {
    const out = this.done ? '' : this.held;
    this.held = '';
    return out;
  }

  /** Length of the longest suffix of `buf` that is a proper prefix of some stop string. */
  private partialSuffix(buf: string): number {
    for (let len = Math.min(this.maxLen - 1, buf.length); len > 0; len--) {
      const tail = buf.slice(buf.length - len);
      if (this.stops.some((s) => s.startsWith(tail))) return len;
    }
    return 0;
  }
}

/**
 * Thinking kept apart from the answer: the block's markers for a chat template, and a streaming
 * splitter that routes text inside the block to `reasoning` and the rest to `content`.
 */
import type { ReasoningMode, ReasoningOptions } from './types.js';

export interface ThinkMarkers {
  open: string;
  close: string;
}

/** gpt-oss (harmony): thinking is the analysis channel, the answer the final one. */
export const HARMONY_MARKERS: ThinkMarkers = { open: '<|channel|>analysis<|message|>', close: '<|end|>' };
/** The headers harmony writes before the final answer (dropped from the content). */
export const HARMONY_HEADERS = ['<|start|>assistant<|channel|>final<|message|>', '<|channel|>final<|message|>', '<|start|>assistant'];

/**
 * The thinking markers a template uses: `<think>` unless it speaks Magistral's `[THINK]` or
 * gpt-oss's channels.
 */
export function thinkMarkers(templateSource: string): ThinkMarkers {
  if (templateSource.includes('[THINK]')) return { open: '[THINK]', close: '[/THINK]' };
  if (templateSource.includes('<|channel|>')) return HARMONY_MARKERS;
  return { open: '<think>', close: '</think>' };
}

/** Whether a rendered prompt ends inside an opened thinking block (the template prefilled it). */
export function promptOpensBlock(prompt: string, markers: ThinkMarkers): boolean {
  const tail = prompt.trimEnd();
  return tail.endsWith(markers.open);
}

/** reasoning_effort as a thinking budget in tokens (`minimal` closes the block at once). */
export const EFFORT_BUDGET = { minimal: 0, low: 256, medium: 1024, high: 4096 } as const;

/** The budget a request asks for, or undefined for none. */
export function reasoningBudget(o: ReasoningOptions | undefined): number | undefined {
  if (o?.budget !== undefined) return o.budget;
  return o?.effort !== undefined ? EFFORT_BUDGET[o.effort] : undefined;
}

/** Length of the longest suffix of `text` that is a proper prefix of `marker`. */
export function partialSuffix(text: string, marker: string): number {
  for (let n = Math.min(marker.length - 1, text.length); n > 0; n--) {
    if (text.endsWith(marker.slice(0, n))) return n;
  }
  return 0;
}

export interface Split {
  content: string;
  reasoning: string;
}

/**
 * Splits streamed text into thinking and answer. `auto` looks for a block at the start of the
 * output; `prefilled` starts inside one; `off` passes everything through as content. Text that
 * might be the start of a marker is held until it is decided.
 */
export class ReasoningSplitter {
  #state: 'before' | 'inside' | 'after';
  #held = '';
  #afterBlock = false;

  constructor(
    mode: ReasoningMode,
    private readonly markers: ThinkMarkers,
  ) {
    this.#state = mode === 'prefilled' ? 'inside' : mode === 'off' ? 'after' : 'before';
  }

  push(text: string): Split {
    const out: Split = { content: '', reasoning: '' };
    let rest = this.#held + text;
    this.#held = '';
    while (rest) {
      if (this.#state === 'before') {
        const lead = rest.length - rest.trimStart().length;
        const body = rest.slice(lead);
        if (body.startsWith(this.markers.open)) {
          this.#state = 'inside';
          rest = body.slice(this.markers.open.length);
        } else if (body.length < this.markers.open.length && this.markers.open.startsWith(body)) {
          this.#held = rest; // still could be the opening marker
          return out;
        } else {
          this.#state = 'after';
        }
      } else if (this.#state === 'inside') {
        const end = rest.indexOf(this.markers.close);
        if (end >= 0) {
          out.reasoning += rest.slice(0, end);
          rest = rest.slice(end + this.markers.close.length);
          this.#state = 'after';
          this.#afterBlock = true;
        } else {
          const keep = partialSuffix(rest, this.markers.close);
          out.reasoning += rest.slice(0, rest.length - keep);
          this.#held = rest.slice(rest.length - keep);
          return out;
        }
      } else {
        // The answer after a block starts at its first non-blank character.
        if (this.#afterBlock) {
          rest = rest.trimStart();
          if (!rest) return out;
          this.#afterBlock = false;
        }
        out.content += rest;
        rest = '';
      }
    }
    return out;
  }

  /** Releases held text at the end of the output. */
  flush(): Split {
    const held = this.#held;
    this.#held = '';
    if (this.#state === 'inside') return { content: '', reasoning: held };
    return { content: this.#afterBlock ? held.trimStart() : held, reasoning: '' };
  }
}

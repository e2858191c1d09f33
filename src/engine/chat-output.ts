/**
 * A chat reply as it streams: thinking split from the answer, tool calls read out of it, and the
 * special tokens the reply was decoded with (so markers such as `[TOOL_CALLS]` can be seen)
 * stripped from what the caller reads.
 */
import { HARMONY_HEADERS, HARMONY_MARKERS, partialSuffix, ReasoningSplitter, type ThinkMarkers } from './reasoning.js';
import { callMarkers, parseToolCalls, type ParsedCall } from './tool-formats.js';
import type { ReasoningMode, ToolCallFormat } from './types.js';

export interface OutputPiece {
  content: string;
  reasoning: string;
  calls: ParsedCall[];
}

/** Reads tool calls out of streamed answer text; text before the first call is content. */
class ToolCallStream {
  #section: string | undefined;
  #held = '';
  #emitted = 0;
  #started = false;
  readonly #markers: string[];

  constructor(private readonly format: ToolCallFormat) {
    this.#markers = callMarkers(format);
  }

  push(text: string): { content: string; calls: ParsedCall[] } {
    if (this.#section !== undefined) {
      this.#section += text;
      return { content: '', calls: this.#complete() };
    }
    const all = this.#held + text;
    this.#held = '';
    let at = -1;
    for (const m of this.#markers) {
      const i = all.indexOf(m);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    if (!this.#started && this.format === 'llama3') {
      // Llama 3 writes a call as a bare JSON object: an answer that opens with `{` may be one.
      const lead = all.length - all.trimStart().length;
      if (lead === all.length) {
        this.#held = all;
        return { content: '', calls: [] };
      }
      if (all[lead] === '{' && (at < 0 || lead < at)) at = lead;
    }
    this.#started = this.#started || all.trim() !== '';
    if (at >= 0) {
      this.#section = all.slice(at);
      return { content: all.slice(0, at), calls: this.#complete() };
    }
    const keep = Math.max(0, ...this.#markers.map((m) => partialSuffix(all, m)));
    this.#held = all.slice(all.length - keep);
    return { content: all.slice(0, all.length - keep), calls: [] };
  }

  flush(): { content: string; calls: ParsedCall[] } {
    if (this.#section === undefined) {
      const held = this.#held;
      this.#held = '';
      return { content: held, calls: [] };
    }
    const calls = parseToolCalls(this.format, this.#section);
    if (!calls) return { content: this.#emitted === 0 ? this.#section : '', calls: [] };
    const fresh = calls.slice(this.#emitted);
    this.#emitted = calls.length;
    return { content: '', calls: fresh };
  }

  /** Hermes calls are complete at each `</tool_call>`: those are sent as soon as they close. */
  #complete(): ParsedCall[] {
    if (this.format !== 'hermes' || this.#section === undefined) return [];
    const closed = this.#section.split('</tool_call>').length - 1;
    if (closed <= this.#emitted) return [];
    const head = this.#section.slice(0, this.#section.lastIndexOf('</tool_call>') + '</tool_call>'.length);
    const calls = parseToolCalls('hermes', head);
    if (!calls || calls.length <= this.#emitted) return [];
    const fresh = calls.slice(this.#emitted);
    this.#emitted = calls.length;
    return fresh;
  }
}

export interface ChatOutputOptions {
  reasoning?: { mode: ReasoningMode; markers: ThinkMarkers };
  toolFormat?: ToolCallFormat;
  /** Special-token texts to remove from content and reasoning. */
  specials: string[];
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const anyOf = (words: string[]) => (words.length ? new RegExp(words.map(escape).join('|'), 'g') : undefined);

/** Special tokens that take part in the formats' markers (kept until the markers are read). */
const MARKER_SPECIALS = /^(\[TOOL_CALLS\]|\[ARGS\]|\[CALL_ID\]|\[THINK\]|\[\/THINK\]|<think>|<\/think>|<tool_call>|<\/tool_call>|<\|python_tag\|>|<\|(channel|message|call|constrain|end|start)\|>)$/;

/** Splits a streamed chat reply into content, reasoning and tool calls. */
export class ChatOutput {
  #reasoning: ReasoningSplitter | undefined;
  #tools: ToolCallStream | undefined;
  /** Specials no marker uses: dropped from the raw text at once. */
  #early: string[];
  #earlyRe: RegExp | undefined;
  #held = '';
  /** Marker specials left over once the reply was read. */
  #late: RegExp | undefined;

  constructor(o: ChatOutputOptions) {
    if (o.reasoning && o.reasoning.mode !== 'off') this.#reasoning = new ReasoningSplitter(o.reasoning.mode, o.reasoning.markers);
    if (o.toolFormat) this.#tools = new ToolCallStream(o.toolFormat);
    const specials = o.specials.filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
    this.#early = specials.filter((s) => !MARKER_SPECIALS.test(s));
    const harmony = o.toolFormat === 'harmony' || o.reasoning?.markers.open === HARMONY_MARKERS.open;
    if (harmony) this.#early = [...HARMONY_HEADERS, ...this.#early].sort((a, b) => b.length - a.length);
    this.#earlyRe = anyOf(this.#early);
    this.#late = anyOf(specials.filter((s) => MARKER_SPECIALS.test(s)));
  }

  push(text: string): OutputPiece {
    const raw = this.#held + text;
    const keep = Math.max(0, ...this.#early.map((s) => partialSuffix(raw, s)));
    this.#held = raw.slice(raw.length - keep);
    const clean = this.#drop(raw.slice(0, raw.length - keep));
    return this.#route(this.#reasoning ? this.#reasoning.push(clean) : { content: clean, reasoning: '' }, false);
  }

  flush(): OutputPiece {
    const rest = this.#drop(this.#held);
    this.#held = '';
    if (!this.#reasoning) return this.#route({ content: rest, reasoning: '' }, true);
    const a = this.#reasoning.push(rest);
    const b = this.#reasoning.flush();
    return this.#route({ content: a.content + b.content, reasoning: a.reasoning + b.reasoning }, true);
  }

  #drop(text: string): string {
    return this.#earlyRe ? text.replace(this.#earlyRe, '') : text;
  }

  #route(split: { content: string; reasoning: string }, end: boolean): OutputPiece {
    let content = split.content;
    let calls: ParsedCall[] = [];
    if (this.#tools) {
      const a = this.#tools.push(content);
      content = a.content;
      calls = a.calls;
      if (end) {
        const b = this.#tools.flush();
        content += b.content;
        calls = [...calls, ...b.calls];
      }
    }
    return { content: this.#clean(content), reasoning: this.#clean(split.reasoning), calls };
  }

  #clean(text: string): string {
    return this.#late ? text.replace(this.#late, '') : text;
  }
}

/**
 * A chat reply as it streams: thinking split from the answer, tool calls read out of it, and the
 * special tokens the reply was decoded with (so markers such as `[TOOL_CALLS]` can be seen)
 * stripped from what the caller reads.
 */
import { partialSuffix, ReasoningSplitter, type ThinkMarkers } from './reasoning.js';
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

/** Splits a streamed chat reply into content, reasoning and tool calls. */
export class ChatOutput {
  #reasoning: ReasoningSplitter | undefined;
  #tools: ToolCallStream | undefined;
  #strip: RegExp | undefined;

  constructor(o: ChatOutputOptions) {
    if (o.reasoning && o.reasoning.mode !== 'off') this.#reasoning = new ReasoningSplitter(o.reasoning.mode, o.reasoning.markers);
    if (o.toolFormat) this.#tools = new ToolCallStream(o.toolFormat);
    const specials = o.specials.filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
    if (specials.length) this.#strip = new RegExp(specials.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  }

  push(text: string): OutputPiece {
    return this.#route(this.#reasoning ? this.#reasoning.push(text) : { content: text, reasoning: '' }, false);
  }

  flush(): OutputPiece {
    return this.#route(this.#reasoning ? this.#reasoning.flush() : { content: '', reasoning: '' }, true);
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
    return this.#strip ? text.replace(this.#strip, '') : text;
  }
}

/**
 * Chat templates (the Jinja `chat_template` of HF tokenizer_config.json / GGUF
 * `tokenizer.chat_template`), rendered with `@huggingface/jinja`.
 */
import { Template } from '@huggingface/jinja';
import { MlxNativeError } from '../errors.js';
import type { ChatMessage } from './types.js';

/** Options of {@link ChatTemplate.render}. */
export interface RenderOptions {
  /** Append the assistant turn header so the model answers next. Default true. */
  addGenerationPrompt?: boolean;
  /** Exposed to the template as `bos_token` (templates that print it). */
  bosToken?: string;
  /** Exposed to the template as `eos_token`. */
  eosToken?: string;
  /**
   * Any other variable, passed to the template verbatim under the same name (use the template's
   * snake_case names, e.g. `tools`, `enable_thinking`).
   */
  [variable: string]: unknown;
}

/**
 * ChatML, used when a model ships no template. It is what transformers used as its implicit
 * default for years and what SmolLM2 / Qwen use, so it is the least surprising guess; with a
 * tokenizer lacking `<|im_start|>`/`<|im_end|>` those markers are simply encoded as text.
 */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

function templateError(message: string, cause?: unknown): MlxNativeError {
  return new MlxNativeError('CHAT_TEMPLATE_ERROR', `[chat-template] ${message}`, { cause });
}

/** A compiled chat template. */
export class ChatTemplate {
  /** The Jinja source in use. */
  readonly source: string;
  /** True when the model had no template and {@link CHATML_TEMPLATE} is used. */
  readonly isFallback: boolean;
  /**
   * Whether the template itself handles the OpenAI `developer` role. When it does not,
   * `developer` messages are rendered as `system` messages: the developer role is OpenAI's
   * renamed system role, and most templates raise or silently drop unknown roles.
   */
  readonly handlesDeveloperRole: boolean;
  private readonly template: Template;

  /**
   * @param source Jinja source; empty / undefined selects the ChatML fallback.
   * @param defaults bos/eos token strings used when render() is not given them.
   * @throws MlxNativeError code CHAT_TEMPLATE_ERROR when the template does not parse.
   */
  constructor(source?: string | null, private readonly defaults: { bosToken?: string; eosToken?: string } = {}) {
    this.isFallback = !source;
    this.source = source || CHATML_TEMPLATE;
    this.handlesDeveloperRole = /\bdeveloper\b/.test(this.source);
    try {
      this.template = new Template(this.source);
    } catch (err) {
      throw templateError(`cannot parse chat template: ${(err as Error).message}`, err);
    }
  }

  /**
   * Renders messages to the prompt text.
   * @throws MlxNativeError code CHAT_TEMPLATE_ERROR when rendering fails (including the template's own
   *   `raise_exception`, e.g. for unsupported role orders).
   */
  render(messages: ChatMessage[], options: RenderOptions = {}): string {
    const { addGenerationPrompt = true, bosToken, eosToken, ...extra } = options;
    const msgs = messages.map((m) => {
      const role = m.role === 'developer' && !this.handlesDeveloperRole ? 'system' : m.role;
      return { ...m, role, content: m.content ?? '' };
    });
    try {
      return this.template.render({
        ...extra,
        messages: msgs,
        add_generation_prompt: addGenerationPrompt,
        bos_token: bosToken ?? this.defaults.bosToken ?? '',
        eos_token: eosToken ?? this.defaults.eosToken ?? '',
      });
    } catch (err) {
      throw templateError(`render failed: ${(err as Error).message}`, err);
    }
  }
}

/** Maps validated OpenAI request fields to the engine's GenerateOptions. */
import type { GenerateOptions } from '../engine/types.js';
import { invalidParam } from './errors.js';
import type { ChatCompletionRequest, CompletionRequest } from './schemas.js';

/** The sampling fields every generating API maps onto OpenAI's names (Responses, Anthropic Messages). */
export type SamplingFields = Partial<
  Pick<
    CompletionRequest,
    'max_tokens' | 'temperature' | 'top_p' | 'top_k' | 'min_p' | 'seed' | 'stop' | 'frequency_penalty' | 'presence_penalty'
  >
>;

/** Server-wide defaults and limits the mapping needs. */
export interface OptionDefaults {
  maxTokensDefault: number;
  vocabSize: number;
  /** The model's context: a request may not ask for more tokens than it holds. */
  contextLength: number;
}

/**
 * The engine options for a request. Omitted sampling fields take OpenAI's documented defaults
 * (temperature 1, top_p 1), not the engine's greedy default, so clients behave as they would
 * against OpenAI; send `temperature: 0` for greedy decoding.
 *
 * `max_tokens` above the model's context is a 400 naming it; within the context, the engine
 * stops where the context is full (finish_reason 'length'), as if max_tokens had been clamped.
 *
 * @example
 * toGenerateOptions({ messages, temperature: 0, max_tokens: 8 }, { maxTokensDefault: 512, vocabSize: 49152, contextLength: 8192 })
 * // → { maxTokens: 8, temperature: 0, topP: 1, ... }
 */
export function toGenerateOptions(
  body: ChatCompletionRequest | CompletionRequest | SamplingFields,
  defaults: OptionDefaults,
): GenerateOptions {
  const options: GenerateOptions = {
    maxTokens: maxTokens(body, defaults),
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
  };
  if (body.top_k != null) options.topK = body.top_k;
  if (body.min_p != null) options.minP = body.min_p;
  if (body.frequency_penalty != null) options.frequencyPenalty = body.frequency_penalty;
  if (body.presence_penalty != null) options.presencePenalty = body.presence_penalty;
  if ('repetition_penalty' in body && body.repetition_penalty != null) options.repetitionPenalty = body.repetition_penalty;
  if ('ignore_eos' in body && body.ignore_eos != null) options.ignoreEos = body.ignore_eos;
  // OpenAI seeds are any int64; the engine takes non-negative ones. Fold negatives over.
  if (body.seed != null) options.seed = body.seed < 0 ? body.seed + Number.MAX_SAFE_INTEGER + 1 : body.seed;
  if (body.stop != null) options.stop = body.stop;
  if ('logit_bias' in body && body.logit_bias != null) options.logitBias = logitBias(body.logit_bias, defaults.vocabSize);

  if ('messages' in body) {
    if (body.logprobs) {
      options.logprobs = true;
      options.topLogprobs = body.top_logprobs ?? 0;
    }
  } else if ('prompt' in body && body.logprobs != null) {
    // Completions: `logprobs: N` asks for the chosen token plus N alternatives.
    options.logprobs = true;
    options.topLogprobs = body.logprobs;
  }
  return options;
}

/** The requested completion length, checked against the context before it reaches the engine. */
function maxTokens(body: ChatCompletionRequest | CompletionRequest | SamplingFields, defaults: OptionDefaults): number {
  const completion = 'max_completion_tokens' in body ? body.max_completion_tokens : undefined;
  const [param, value] = completion != null ? ['max_completion_tokens', completion] : ['max_tokens', body.max_tokens];
  if (value == null) return Math.min(defaults.maxTokensDefault, defaults.contextLength);
  if (value > defaults.contextLength) {
    throw invalidParam(
      param,
      `'${param}' is ${value}, more than the model's context of ${defaults.contextLength} tokens (prompt included)`,
    );
  }
  return value;
}

function logitBias(bias: Record<string, number>, vocabSize: number): Record<number, number> {
  const out: Record<number, number> = {};
  for (const [key, value] of Object.entries(bias)) {
    const id = Number(key);
    if (id >= vocabSize) {
      throw invalidParam(`logit_bias.${key}`, `token id ${key} is outside the vocabulary (size ${vocabSize})`);
    }
    out[id] = value;
  }
  return out;
}

export { MlxNativeError, type ErrorCode } from './errors.js';
export { Runtime, type DeviceInfo } from './runtime.js';
export { loadModel, Model, type LoadOptions, type ModelStats, type EngineCounters } from './engine/model.js';
export { Generation } from './engine/generation.js';
export { Tokenizer } from './engine/tokenizer.js';
export { ChatTemplate } from './engine/chat-template.js';
export * from './engine/types.js';

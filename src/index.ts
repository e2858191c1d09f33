export { MlxNativeError, type ErrorCode } from './errors.js';
export { Runtime, type DeviceInfo, type QuantizedMatmulResult } from './runtime.js';
export * from './engine/types.js';

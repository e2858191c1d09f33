/**
 * `Runtime`: direct access to an engine thread for device information and small MLX
 * computations. Models own their own engine thread; this one is for checks and tools.
 */
import { EngineThread } from './engine/engine-thread.js';

export interface DeviceInfo {
  backend: 'cpu' | 'cuda' | 'metal' | 'gpu';
  device: 'cpu' | 'gpu';
  deviceName: string;
  mlxVersion: string;
  activeMemory: number;
  peakMemory: number;
  cacheMemory: number;
}

export interface QuantizedMatmulResult extends DeviceInfo {
  /** x @ dequantize(quantize(w))ᵀ, row-major m×n. */
  y: Float32Array;
}

/**
 * @example
 * await using rt = new Runtime();
 * const { backend, mlxVersion } = await rt.deviceInfo();
 */
export class Runtime {
  #thread = new EngineThread();

  /** Backend, device and MLX version, read on the engine thread. */
  async deviceInfo(): Promise<DeviceInfo> {
    const ev = await this.#thread.request((n, id) => n.deviceInfo(id));
    return ev as unknown as DeviceInfo;
  }

  /**
   * Quantizes `w` (n×k) with MLX's affine quantization and multiplies: y = x @ wᵀ, on the engine
   * thread with `mx::quantized_matmul`.
   */
  async quantizedMatmul(opts: {
    m: number;
    n: number;
    k: number;
    x: Float32Array;
    w: Float32Array;
    bits?: number;
    groupSize?: number;
  }): Promise<QuantizedMatmulResult> {
    const ev = await this.#thread.request((n, id) => n.quantizedMatmul(id, opts));
    return ev as unknown as QuantizedMatmulResult;
  }

  /** Runs `iterations` chained n×n float32 matmuls on the engine thread (a load generator). */
  async busy(n: number, iterations: number): Promise<number> {
    const ev = await this.#thread.request((native, id) => native.busy(id, n, iterations));
    return ev.checksum as number;
  }

  dispose(): void {
    this.#thread.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }
}

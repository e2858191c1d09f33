/**
 * The addon's test diagnostics (not public API): MLX's quantized matmul on the engine thread,
 * and a busy loop that keeps an engine thread occupied.
 */
import { EngineThread } from '../../src/engine/engine-thread.js';
import type { NativeQuantizedMatmul } from '../../src/native.js';

export class Diagnostics {
  #thread = new EngineThread();

  /** Quantizes `w` (n×k) with MLX's affine quantization, then y = x @ wᵀ with quantized_matmul. */
  async quantizedMatmul(opts: NativeQuantizedMatmul): Promise<{ y: Float32Array; backend: string }> {
    const ev = await this.#thread.request('diagnostic', (n, id) => n.quantizedMatmul(id, opts));
    return { y: ev.values, backend: ev.backend };
  }

  /** Runs `iterations` chained n×n float32 matmuls on the engine thread; resolves with their sum. */
  async busy(n: number, iterations: number): Promise<number> {
    const ev = await this.#thread.request('diagnostic', (native, id) => native.busy(id, n, iterations));
    return ev.checksum;
  }

  dispose(): void {
    this.#thread.dispose();
  }
}

/**
 * `Runtime`: direct access to an engine thread for device information. Models own their own
 * engine thread; this one is for checks and tools.
 */
import { EngineThread } from './engine/engine-thread.js';

export interface DeviceInfo {
  backend: 'cpu' | 'cuda' | 'metal' | 'gpu';
  device: 'cpu' | 'gpu';
  deviceName: string;
  mlxVersion: string;
  /** The GPU's memory in bytes (Metal, CUDA); 0 on the CPU. */
  memoryBytes: number;
  /** Metal: the GPU working set the system recommends (MLX's own memory limit); 0 elsewhere. */
  recommendedWorkingSetBytes: number;
  activeMemory: number;
  peakMemory: number;
  cacheMemory: number;
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
    const { id: _id, type: _type, ...info } = await this.#thread.request('device', (n, id) => n.deviceInfo(id));
    return info;
  }

  dispose(): void {
    this.#thread.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }
}

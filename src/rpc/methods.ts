/** The method handlers of `mlx-native rpc`: validated params in, a JSON result out. */
import { createRequire } from 'node:module';
import { Runtime, type DeviceInfo } from '../runtime.js';
import type { Generations } from './generations.js';
import type { ModelRegistry } from './models.js';
import { parseParams } from './params.js';
import { METHODS, PROTOCOL_VERSION, type JsonRpcId, type RpcMethod, type RpcMethods } from './protocol.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

/** What handlers need from the server. */
export interface MethodContext {
  models: ModelRegistry;
  generations: Generations;
  startedAt: number;
  stopping: () => boolean;
  /** Stops the process (aborting in-flight work); resolves with the number of aborted requests. */
  shutdown: (reason: string) => Promise<number>;
  /** Device and process-wide MLX memory (one lazily started engine thread). */
  device: () => Promise<DeviceInfo>;
}

type Handler<M extends RpcMethod> = (
  ctx: MethodContext,
  params: NonNullable<RpcMethods[M]['params']>,
  id: JsonRpcId | undefined,
) => Promise<RpcMethods[M]['result']>;

let serverRequestIds = 0;

const handlers: { [M in RpcMethod]: Handler<M> } = {
  async initialize(ctx) {
    const d = await ctx.device();
    return {
      protocol_version: PROTOCOL_VERSION,
      server: { name: 'mlx-native', version: pkg.version },
      node_version: process.version,
      mlx_version: d.mlxVersion,
      backend: d.backend,
      device: d.device,
      device_name: d.deviceName,
      capabilities: {
        methods: METHODS,
        notifications: ['token'],
        streaming: true,
        batch: true,
        cancel: true,
        model_formats: ['gguf', 'mlx'],
      },
    };
  },

  async health(ctx) {
    const d = await ctx.device();
    return {
      status: ctx.stopping() ? 'shutting_down' : 'ok',
      uptime_s: Math.round((performance.now() - ctx.startedAt) / 100) / 10,
      mlx_version: d.mlxVersion,
      models: ctx.models.size,
      in_flight: ctx.generations.size,
    };
  },

  load_model: (ctx, p) => ctx.models.load(p),

  async unload_model(ctx, p) {
    let aborted = 0;
    await ctx.models.unload(p.id, async (m) => {
      aborted = await ctx.generations.abortAll(m.id);
    });
    return { id: p.id, unloaded: true, aborted_requests: aborted };
  },

  list_models: async (ctx) => ctx.models.list(),

  generate: (ctx, p, id) =>
    ctx.generations.run('generate', ctx.models.resolve(p.model), p, p.request_id ?? id ?? `srv-${++serverRequestIds}`),

  chat: (ctx, p, id) => ctx.generations.run('chat', ctx.models.resolve(p.model), p, p.request_id ?? id ?? `srv-${++serverRequestIds}`),

  cancel: async (ctx, p) => ({ request_id: p.request_id, cancelled: ctx.generations.cancel(p.request_id) }),

  memory_report: (ctx) =>
    ctx.models.memoryReport(async () => {
      const d = await ctx.device();
      return { activeMemory: d.activeMemory, peakMemory: d.peakMemory, cacheMemory: d.cacheMemory };
    }),

  shutdown: async (ctx) => ({ ok: true, aborted_requests: await ctx.shutdown('shutdown request') }),
};

export function isMethod(name: string): name is RpcMethod {
  return Object.hasOwn(handlers, name);
}

/** Validates params and runs the method. */
export function callMethod(ctx: MethodContext, method: RpcMethod, rawParams: unknown, id: JsonRpcId | undefined): Promise<unknown> {
  const params = parseParams(method, rawParams);
  return (handlers[method] as Handler<RpcMethod>)(ctx, params as never, id);
}

/** A lazily started Runtime for device information; `close()` stops its engine thread. */
export function deviceInfoSource(): { get: () => Promise<DeviceInfo>; close: () => void } {
  let runtime: Runtime | undefined;
  return {
    get: () => (runtime ??= new Runtime()).deviceInfo(),
    close: () => runtime?.dispose(),
  };
}

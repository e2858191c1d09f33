/**
 * The JS side of one native engine thread: allocates request ids, routes the batched events
 * the thread sends back, and keeps the process alive only while work is pending.
 */
import { captureCallSite, MlxNativeError } from '../errors.js';
import { loadAddon, type NativeEngine, type NativeEvent, type NativeEventType } from '../native.js';

function isType<T extends NativeEventType>(ev: NativeEvent, type: T): ev is Extract<NativeEvent, { type: T }> {
  return ev.type === type;
}

/** Receives every event of one request until it ends (result, done or error). */
export interface EventListener {
  onEvent(event: NativeEvent): void;
}

/** Every event but tokens and progress ends its request. */
function isFinal(event: NativeEvent): boolean {
  return event.type !== 'tokens' && event.type !== 'progress';
}

export class EngineThread {
  /** Engines with pending work stay reachable, so a pending promise always settles. */
  static #busy = new Set<EngineThread>();
  #native: NativeEngine | undefined;
  #listeners = new Map<number, EventListener>();
  #nextId = 1;
  #refed = false;

  constructor() {
    const addon = loadAddon();
    // The native side holds this callback for its whole life: a weak reference lets an idle,
    // forgotten engine be garbage-collected (its finalizer joins the thread).
    const weak = new WeakRef(this);
    this.#native = new addon.Engine((events) => {
      const self = weak.deref();
      if (self) self.#dispatch(events);
    });
  }

  get disposed(): boolean {
    return this.#native === undefined;
  }

  /** The native engine; throws DISPOSED after dispose(). */
  get native(): NativeEngine {
    if (!this.#native) throw new MlxNativeError('DISPOSED', 'the engine was disposed');
    return this.#native;
  }

  /**
   * Starts a command and resolves with its result event, which must be of type `type`. Errors
   * carry the caller's stack. `onProgress` sees progress events.
   */
  request<T extends NativeEventType>(
    type: T,
    start: (native: NativeEngine, id: number) => void,
    onProgress?: (p: number) => void,
  ): Promise<Extract<NativeEvent, { type: T }>> {
    const site = captureCallSite();
    return new Promise((resolve, reject) => {
      this.open(
        {
          onEvent: (ev) => {
            if (ev.type === 'progress') onProgress?.(ev.progress);
            else if (ev.type === 'error') reject(site.graft(ev.code, ev.message));
            else if (isType(ev, type)) resolve(ev);
            else if (isFinal(ev)) reject(site.graft('INTERNAL', `expected a ${type} event, got ${ev.type}`));
          },
        },
        start,
      );
    });
  }

  /** Registers a listener for a new request id and starts it. Returns the id. */
  open(listener: EventListener, start: (native: NativeEngine, id: number) => void): number {
    const native = this.native;
    const id = this.#nextId++;
    this.#listeners.set(id, listener);
    this.#updateRef();
    try {
      start(native, id);
    } catch (err) {
      this.#listeners.delete(id);
      this.#updateRef();
      throw err;
    }
    return id;
  }

  /** Asks the engine thread to stop request `id` at its next step. */
  cancel(id: number): void {
    this.#native?.cancel(id);
  }

  /** Stops the engine thread (waiting for the step in flight) and fails pending requests. */
  dispose(): void {
    const native = this.#native;
    if (!native) return;
    this.#native = undefined;
    native.dispose();
    const listeners = [...this.#listeners.values()];
    this.#listeners.clear();
    for (const l of listeners) l.onEvent({ id: 0, type: 'error', code: 'DISPOSED', message: 'the engine was disposed' });
    this.#updateRef();
  }

  #dispatch(events: NativeEvent[]): void {
    for (const ev of events) {
      if (ev.id === 0 && ev.type === 'error') {
        // A failure not tied to one request (the scheduler itself): every request sees it.
        for (const [id, l] of [...this.#listeners]) {
          this.#listeners.delete(id);
          l.onEvent(ev);
        }
        continue;
      }
      const listener = this.#listeners.get(ev.id);
      if (!listener) continue;
      if (isFinal(ev)) this.#listeners.delete(ev.id);
      try {
        listener.onEvent(ev);
      } catch (err) {
        // A listener bug must not break delivery to the others.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    this.#updateRef();
  }

  #updateRef(): void {
    const want = this.#native !== undefined && this.#listeners.size > 0;
    if (want === this.#refed) return;
    this.#refed = want;
    if (want) {
      EngineThread.#busy.add(this);
      this.#native!.ref();
    } else {
      EngineThread.#busy.delete(this);
      this.#native?.unref();
    }
  }
}

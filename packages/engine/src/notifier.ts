/**
 * The in-process {@link Notifier}: for stores that one process owns (memory, SQLite), a
 * notification only has to reach listeners in this process. Delivery is asynchronous (a
 * microtask later), like a database notification, so a handler never runs inside `notify`.
 */
import type { Notifier } from './ports.js';

export class InProcessNotifier implements Notifier {
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();

  async notify(channel: string, payload: string): Promise<void> {
    const set = this.handlers.get(channel);
    if (!set) return;
    for (const fn of [...set]) {
      queueMicrotask(() => {
        try {
          fn(payload);
        } catch {
          // A failing handler must not break the sender or other handlers.
        }
      });
    }
  }

  async listen(channel: string, fn: (payload: string) => void): Promise<() => void> {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(fn);
    return () => {
      this.handlers.get(channel)?.delete(fn);
    };
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}

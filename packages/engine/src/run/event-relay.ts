/**
 * Appended events reach subscribers on every process: the appending process publishes on its
 * local bus and sends one coalesced notification per turn (`<runId>:<from>:<to>` lines); a
 * process with subscribers for the run reads the log after the last sequence it delivered and
 * publishes it locally, in order, once.
 *
 * @see ../../../../docs/decisions/0008-commands-as-rows-and-notifier.md
 */
import type { EventBus } from '../event-bus.js';
import { type EncodedEvent, EVENTS_CHANNEL, type Notifier, type RunProjection, type Store } from '../ports.js';

/** Relays events between the processes sharing a store. */
export class EventRelay {
  /** Per-run chains relaying other processes' events to local subscribers. */
  private readonly relays = new Map<string, Promise<void>>();
  /** Appends committed in this turn of the event loop, notified together. */
  private notices: string[] = [];

  constructor(
    private readonly bus: EventBus,
    private readonly store: Pick<Store, 'readEvents' | 'getRunInternal'>,
    private readonly notifier: Notifier,
    private readonly warn: (obj: Record<string, unknown>, msg: string) => void,
  ) {}

  /**
   * Publishes committed events on the local bus. While a relay of another process's earlier
   * events is still reading (this process just took the run over), the publish waits behind
   * it so subscribers get the sequences in order.
   */
  publish(runId: string, events: EncodedEvent[], projection: RunProjection): void {
    const relaying = this.relays.get(runId);
    if (!relaying) {
      this.bus.publish(runId, events, projection);
      return;
    }
    void relaying.then(() => this.bus.publish(runId, events, projection));
  }

  /**
   * Tells the other processes about committed events. Notifications are coalesced per turn of
   * the event loop and sent outside the append's transaction: a NOTIFY inside it would take
   * Postgres's cluster-wide notify lock across the commit's flush and serialize every append.
   */
  announce(runId: string, events: EncodedEvent[]): void {
    const first = events[0]?.sequence ?? 0;
    this.notices.push(`${runId}:${first}:${first + events.length - 1}`);
    if (this.notices.length > 1) return;
    setImmediate(() => {
      const lines = this.notices.splice(0);
      // Postgres caps a payload below 8000 bytes.
      for (let i = 0, chunk: string[] = [], size = 0; i <= lines.length; i++) {
        const line = lines[i];
        if (line === undefined || size + line.length + 1 > 7800) {
          if (chunk.length > 0)
            this.notifier.notify(EVENTS_CHANNEL, chunk.join('\n')).catch((e: unknown) => this.warn({ err: String(e) }, 'event notification failed'));
          chunk = [];
          size = 0;
        }
        if (line === undefined) break;
        chunk.push(line);
        size += line.length + 1;
      }
    });
  }

  /** Another process appended events (`''`: catch up every subscribed run). */
  onNotice(payload: string): void {
    if (payload === '') {
      for (const runId of this.bus.runs()) this.queue(runId, undefined);
      return;
    }
    for (const line of payload.split('\n')) {
      const m = /^(.+):(\d+):(\d+)$/.exec(line);
      if (!m) continue;
      const runId = m[1] as string;
      if (!this.bus.has(runId)) continue;
      const last = this.bus.lastSequence(runId);
      if (last !== undefined && last >= Number(m[3])) continue;
      this.queue(runId, Number(m[2]));
    }
  }

  private queue(runId: string, from: number | undefined): void {
    const prev = this.relays.get(runId) ?? Promise.resolve();
    const next: Promise<void> = prev
      .then(() => this.relayOnce(runId, from))
      .catch((e: unknown) => this.warn({ runId, err: String(e) }, 'event relay failed'))
      .finally(() => {
        if (this.relays.get(runId) === next) this.relays.delete(runId);
      });
    this.relays.set(runId, next);
  }

  private async relayOnce(runId: string, from: number | undefined): Promise<void> {
    const known = this.bus.lastSequence(runId);
    if (!this.bus.has(runId) || (known === undefined && from === undefined)) return;
    const events: EncodedEvent[] = [];
    for (let after = known ?? (from as number) - 1; ; ) {
      const page = await this.store.readEvents(runId, after, 1000);
      events.push(...page);
      if (page.length < 1000) break;
      after = page[page.length - 1]?.sequence ?? after;
    }
    if (events.length === 0) return;
    const rec = await this.store.getRunInternal(runId);
    // This process may have published some meanwhile (it took the run over): skip those.
    const floor = this.bus.lastSequence(runId) ?? -1;
    const fresh = events.filter((e) => e.sequence > floor);
    if (rec && fresh.length > 0) this.bus.publish(runId, fresh, rec.projection);
  }
}

/**
 * An incremental parser for `text/event-stream` bodies (the WHATWG server-sent events framing),
 * as LLM providers stream completions. Bytes go in as they arrive; whole events come out.
 * Only what the framing needs: `event:` and `data:` fields, comments and `id:`/`retry:`
 * ignored, multi-line `data` joined with `\n`, CR, LF and CRLF line ends.
 */

/** One dispatched event. */
export interface SseEvent {
  /** The `event:` field, `message` when absent. */
  event: string;
  data: string;
}

/** Feeds bytes, yields events; {@link end} flushes a final event without its blank line. */
export class SseParser {
  private readonly decoder = new TextDecoder('utf-8');
  private buf = '';
  private event = '';
  private data: string[] = [];
  private hasData = false;

  /** The events completed by `chunk`. */
  push(chunk: Uint8Array | string): SseEvent[] {
    this.buf += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const out: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (!m) break;
      // A lone CR at the very end may be the first half of CRLF: wait for the next byte.
      if (m[0] === '\r' && m.index === this.buf.length - 1) break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      this.line(line, out);
    }
    return out;
  }

  /** Events left when the stream ends (a last event without its terminating blank line). */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    const rest = this.buf + this.decoder.decode();
    this.buf = '';
    if (rest !== '') this.line(rest, out);
    this.line('', out);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.hasData) out.push({ event: this.event || 'message', data: this.data.join('\n') });
      this.event = '';
      this.data = [];
      this.hasData = false;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') {
      this.data.push(value);
      this.hasData = true;
    }
  }
}

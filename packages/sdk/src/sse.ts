/**
 * A standalone `text/event-stream` parser following the WHATWG event-stream interpretation
 * rules: UTF-8 with the BOM stripped, lines ended by CRLF, LF or a lone CR (also when the
 * terminator is split across chunks), `:` comments ignored, one optional space after the
 * colon removed, `data` lines joined with `\n`, and a frame dispatched on a blank line only
 * when it carried at least one `data` line. A block cut off by the end of the stream is
 * discarded, never yielded half-read — that is what makes resuming after a drop safe.
 *
 * @see wire-contract.md §3.5
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */

/** One dispatched event-stream frame. */
export interface SseFrame {
  /** The frame's `id` field, when it had one. */
  id?: string;
  /** The frame's `event` field, when it had a non-empty one (readers default to `message`). */
  event?: string;
  /** The `data` lines joined with `\n`. */
  data: string;
}

const LF = 0x0a;
const CR = 0x0d;

/** Mutable state of the block being read. */
interface FrameBuilder {
  id: string | undefined;
  event: string | undefined;
  /** `undefined` until the block has a `data` line, so `data:` (empty) still dispatches. */
  data: string[] | undefined;
}

const emptyBuilder = (): FrameBuilder => ({ id: undefined, event: undefined, data: undefined });

/** Applies one line to the builder; returns a frame when the line was a dispatching blank line. */
function applyLine(line: string, frame: FrameBuilder): SseFrame | undefined {
  if (line === '') {
    if (frame.data === undefined) {
      frame.id = undefined;
      frame.event = undefined;
      return undefined;
    }
    const out: SseFrame = { data: frame.data.join('\n') };
    if (frame.id !== undefined) out.id = frame.id;
    if (frame.event) out.event = frame.event;
    frame.id = undefined;
    frame.event = undefined;
    frame.data = undefined;
    return out;
  }
  if (line.charCodeAt(0) === 0x3a /* ':' */) return undefined;
  const colon = line.indexOf(':');
  const field = colon === -1 ? line : line.slice(0, colon);
  let value = colon === -1 ? '' : line.slice(colon + 1);
  if (value.charCodeAt(0) === 0x20 /* ' ' */) value = value.slice(1);
  switch (field) {
    case 'data':
      (frame.data ??= []).push(value);
      break;
    case 'event':
      frame.event = value;
      break;
    case 'id':
      // The spec ignores ids containing NULL.
      if (!value.includes('\u0000')) frame.id = value;
      break;
    default:
      // `retry` and unknown fields carry nothing this SDK uses.
      break;
  }
  return undefined;
}

/**
 * Parses an event stream body into frames. Breaking out of the iteration cancels the body.
 *
 * @param body - e.g. `response.body` of a `fetch` to an SSE endpoint.
 */
export async function* parseSseStream(body: ReadableStream<Uint8Array>): AsyncGenerator<SseFrame, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  const frame = emptyBuilder();
  let partial = '';
  // The previous chunk ended in CR: a leading LF of the next chunk belongs to that terminator.
  let skipLeadingLf = false;
  let finished = false;

  const feed = (text: string): SseFrame[] => {
    const out: SseFrame[] = [];
    if (text.length === 0) return out;
    let start = 0;
    if (skipLeadingLf && text.charCodeAt(0) === LF) start = 1;
    skipLeadingLf = false;
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== LF && c !== CR) continue;
      const line = partial + text.slice(start, i);
      partial = '';
      const dispatched = applyLine(line, frame);
      if (dispatched) out.push(dispatched);
      if (c === CR) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === LF) i++;
        } else {
          skipLeadingLf = true;
        }
      }
      start = i + 1;
    }
    partial += text.slice(start);
    return out;
  };

  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        // Flushing the decoder may complete lines, but a block without its blank line is dropped.
        yield* feed(decoder.decode());
        return;
      }
      yield* feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

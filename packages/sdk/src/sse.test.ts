import { describe, expect, it } from 'vitest';
import { parseSseStream, type SseFrame } from './sse.js';

const encoder = new TextEncoder();

/** A body that delivers the given chunks one `read()` at a time. */
function bodyOf(chunks: readonly (string | Uint8Array)[], onCancel?: (reason: unknown) => void): ReadableStream<Uint8Array> {
  const queue = chunks.map((c) => (typeof c === 'string' ? encoder.encode(c) : c));
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = queue.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(next);
    },
    cancel(reason) {
      onCancel?.(reason);
    },
  });
}

async function collect(body: ReadableStream<Uint8Array>): Promise<SseFrame[]> {
  const out: SseFrame[] = [];
  for await (const frame of parseSseStream(body)) out.push(frame);
  return out;
}

/** Splits bytes into chunks of `size` bytes. */
function chunked(text: string, size: number): Uint8Array[] {
  const bytes = encoder.encode(text);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.slice(i, i + size));
  return out;
}

const SAMPLE =
  ': connected\n\n' +
  'id: 0\nevent: run.started\ndata: {"sequence":0,"type":"run.started"}\n\n' +
  ': keepalive\n\n' +
  'id: 1\nevent: batch\ndata: [{"sequence":1},{"sequence":2}]\n\n' +
  'id: 3\nevent: run.completed\ndata: {"sequence":3,"note":"é ✓ 🚀"}\n\n';

const SAMPLE_FRAMES: SseFrame[] = [
  { id: '0', event: 'run.started', data: '{"sequence":0,"type":"run.started"}' },
  { id: '1', event: 'batch', data: '[{"sequence":1},{"sequence":2}]' },
  { id: '3', event: 'run.completed', data: '{"sequence":3,"note":"é ✓ 🚀"}' },
];

describe('parseSseStream', () => {
  it('parses id, event and data fields of a frame', async () => {
    expect(await collect(bodyOf(['id: 7\nevent: node.completed\ndata: {"a":1}\n\n']))).toEqual([{ id: '7', event: 'node.completed', data: '{"a":1}' }]);
  });

  it('joins multi-line data with \\n', async () => {
    expect(await collect(bodyOf(['data: first\ndata: second\ndata:\ndata: fourth\n\n']))).toEqual([{ data: 'first\nsecond\n\nfourth' }]);
  });

  it('ignores comment lines and comment-only blocks', async () => {
    const frames = await collect(bodyOf([':keepalive\n\n: heartbeat\n\nid: 1\n: between fields\ndata: x\n\n']));
    expect(frames).toEqual([{ id: '1', data: 'x' }]);
  });

  it('accepts CRLF line endings', async () => {
    expect(await collect(bodyOf(['id: 1\r\nevent: e\r\ndata: a\r\ndata: b\r\n\r\n']))).toEqual([{ id: '1', event: 'e', data: 'a\nb' }]);
  });

  it('accepts lone CR line endings', async () => {
    expect(await collect(bodyOf(['id: 1\revent: e\rdata: a\r\rdata: b\r\r']))).toEqual([{ id: '1', event: 'e', data: 'a' }, { data: 'b' }]);
  });

  it('treats a CRLF split across chunks as one line terminator', async () => {
    // If the LF of the split CRLF counted as a blank line, "a" would be dispatched on its own.
    expect(await collect(bodyOf(['data: a\r', '\ndata: b\r', '\n\r', '\n']))).toEqual([{ data: 'a\nb' }]);
  });

  it('joins lines split across chunks', async () => {
    expect(await collect(bodyOf(['da', 'ta: hel', 'lo wor', 'ld\n', '\n']))).toEqual([{ data: 'hello world' }]);
  });

  it('gives the same frames whatever the chunk size (1, 2, 3, 7 bytes)', async () => {
    for (const size of [1, 2, 3, 7]) {
      expect(await collect(bodyOf(chunked(SAMPLE, size)))).toEqual(SAMPLE_FRAMES);
      expect(await collect(bodyOf(chunked(SAMPLE.replaceAll('\n', '\r\n'), size)))).toEqual(SAMPLE_FRAMES);
    }
  });

  it('decodes multi-byte UTF-8 characters split across chunks', async () => {
    const bytes = encoder.encode('data: 🚀é\n\n');
    // Cut inside the 4-byte rocket and inside the 2-byte é.
    const frames = await collect(bodyOf([bytes.slice(0, 8), bytes.slice(8, 11), bytes.slice(11)]));
    expect(frames).toEqual([{ data: '🚀é' }]);
  });

  it('strips a leading byte order mark', async () => {
    expect(await collect(bodyOf([new Uint8Array([0xef, 0xbb, 0xbf]), 'data: x\n\n']))).toEqual([{ data: 'x' }]);
  });

  it('removes exactly one space after the colon', async () => {
    expect(await collect(bodyOf(['data:x\n\ndata:  y\n\n']))).toEqual([{ data: 'x' }, { data: ' y' }]);
  });

  it('keeps colons inside the value', async () => {
    expect(await collect(bodyOf(['data: {"url":"http://h:1/a"}\n\n']))).toEqual([{ data: '{"url":"http://h:1/a"}' }]);
  });

  it('treats a field line without a colon as the field with an empty value', async () => {
    expect(await collect(bodyOf(['data\n\n']))).toEqual([{ data: '' }]);
  });

  it('does not dispatch a block without data lines', async () => {
    expect(await collect(bodyOf(['id: 5\nevent: ping\n\ndata: after\n\n']))).toEqual([{ data: 'after' }]);
  });

  it('does not carry id or event over to the next frame', async () => {
    expect(await collect(bodyOf(['id: 1\nevent: a\ndata: one\n\ndata: two\n\n']))).toEqual([{ id: '1', event: 'a', data: 'one' }, { data: 'two' }]);
  });

  it('ignores ids containing NULL, retry and unknown fields', async () => {
    expect(await collect(bodyOf(['id: a\u0000b\nretry: 1000\nfoo: bar\ndata: x\n\n']))).toEqual([{ data: 'x' }]);
  });

  it('treats an empty event field as absent and keeps an empty id', async () => {
    expect(await collect(bodyOf(['id:\nevent:\ndata: x\n\n']))).toEqual([{ id: '', data: 'x' }]);
  });

  it('discards a block cut off by the end of the stream', async () => {
    expect(await collect(bodyOf(['data: complete\n\nid: 9\ndata: {"trunc']))).toEqual([{ data: 'complete' }]);
    expect(await collect(bodyOf(['data: complete\n\ndata: no blank line\n']))).toEqual([{ data: 'complete' }]);
  });

  it('yields nothing for an empty stream', async () => {
    expect(await collect(bodyOf([]))).toEqual([]);
  });

  it('cancels the body when the consumer stops early', async () => {
    let cancelled = false;
    const body = bodyOf(['data: 1\n\n', 'data: 2\n\n', 'data: 3\n\n'], () => {
      cancelled = true;
    });
    const seen: string[] = [];
    for await (const frame of parseSseStream(body)) {
      seen.push(frame.data);
      break;
    }
    expect(seen).toEqual(['1']);
    expect(cancelled).toBe(true);
    expect(body.locked).toBe(false);
  });

  it('rejects when the body errors, after the frames read so far', async () => {
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) {
          controller.error(new TypeError('terminated'));
          return;
        }
        sent = true;
        controller.enqueue(encoder.encode('data: before\n\ndata: partial'));
      },
    });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const frame of parseSseStream(body)) seen.push(frame.data);
      })(),
    ).rejects.toThrow('terminated');
    expect(seen).toEqual(['before']);
  });
});

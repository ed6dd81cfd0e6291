/**
 * Seeded, bounded fuzz of every documented operation: reads `/v1/openapi.json`, then sends
 * malformed requests generated from a seeded PRNG — wrong types, huge/deep/garbage bodies,
 * bad content types, repeated and odd query parameters, weird path parameters, bad headers,
 * and byte-level oddities `fetch` cannot send. Works against any base URL.
 *
 * Asserts: no 5xx, no hang (per-request deadline), and every 4xx body is exactly the closed
 * envelope with a catalog code. The seed is printed; reproduce with `WEFT_FUZZ_SEED=<seed>`,
 * and change the budget with `WEFT_FUZZ_CASES` (default 320).
 */
import { describe, expect, it } from 'vitest';
import { isErrorCode } from '@weft/contract';
import { assertErrorEnvelope, target } from '../harness.js';
import { authorityOf, rawExchange } from '../raw-http.js';

const SEED = Number(process.env.WEFT_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CASES = Math.max(1, Math.min(5000, Number(process.env.WEFT_FUZZ_CASES ?? 320)));
/** No single request may take longer than this to answer (headers and body). */
const DEADLINE_MS = 8_000;

/** mulberry32: a small, fast, seedable PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Param {
  name: string;
  in: string;
}

interface Operation {
  method: string;
  path: string;
  params: Param[];
  hasBody: boolean;
}

/** One generated request, described for the failure report. */
interface Case {
  label: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** Sent byte-for-byte over a socket instead of with fetch. */
  raw?: string;
}

class Gen {
  constructor(private readonly rnd: () => number) {}

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }

  chance(p: number): boolean {
    return this.rnd() < p;
  }

  ascii(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(32 + this.int(95));
    return s;
  }

  deep(depth: number): string {
    const open = this.chance(0.5) ? '[' : '{"a":';
    const close = open === '[' ? ']' : '}';
    return `${open.repeat(depth)}1${close.repeat(depth)}`;
  }

  /** A path-parameter value that is anything but a plain existing id (already URL-encoded). */
  pathValue(): string {
    return this.pick([
      () => 'x',
      () => 'r'.repeat(129 + this.int(400)),
      () => 'a'.repeat(1100),
      () => '%00',
      () => '%zz',
      () => '%F0%9F%92%A5',
      () => '..%2F..%2Fetc%2Fpasswd',
      () => 'run_x%3Apause',
      () => encodeURIComponent(this.ascii(1 + this.int(40))),
      () => '%20',
      () => '%E0%A4%A',
      () => '__proto__',
      () => 'constructor',
      () => String(-this.int(1e9)),
      () => '1e309',
      () => encodeURIComponent('{"$ne":null}'),
      () => 'a;b=c',
      () => '%2e%2e',
    ])();
  }

  /** A query value of the wrong shape (already URL-encoded). */
  queryValue(): string {
    return this.pick([
      () => '',
      () => '-1',
      () => 'NaN',
      () => '1e309',
      () => '9'.repeat(40),
      () => '0x10',
      () => 'true',
      () => encodeURIComponent(this.ascii(1 + this.int(64))),
      () => 'x'.repeat(2000),
      () => '%zz',
      () => '%00',
      () => `a%0${this.int(10)}b`,
      () => encodeURIComponent('values,debug,values'),
      () => encodeURIComponent('["a"]'),
      () => '@@@',
    ])();
  }

  query(op: Operation): string {
    const declared = op.params.filter((p) => p.in === 'query').map((p) => p.name);
    const names = [...declared, '__proto__', 'constructor', 'a[]', 'a[b][c]', 'limit', 'x'.repeat(300), '', '%zz'];
    const parts: string[] = [];
    const n = 1 + this.int(4);
    for (let i = 0; i < n; i++) {
      const name = this.pick(names);
      const v = this.queryValue();
      parts.push(`${name}=${v}`);
      if (this.chance(0.35)) parts.push(`${name}=${this.queryValue()}`);
    }
    if (this.chance(0.1)) parts.push('&&=&');
    return parts.join('&');
  }

  body(): { body: string; contentType?: string } {
    const json = 'application/json';
    return this.pick<() => { body: string; contentType?: string }>([
      () => ({ body: this.pick(['42', '"x"', 'null', 'true', '[]', '[1,2]', '{}']), contentType: json }),
      () => ({
        body: JSON.stringify({ workflowId: this.pick([1, null, [], {}, '', 'x'.repeat(300), 'conformance-noop']), inputs: this.pick([1, 'x', [], null]) }),
        contentType: json,
      }),
      () => ({
        body: JSON.stringify({
          runIds: this.pick([1, 'x', [1, 2], Array.from({ length: 150 }, (_, i) => `r${i}`)]),
          reason: this.pick([1, {}, 'x'.repeat(5000)]),
        }),
        contentType: json,
      }),
      () => ({
        body: JSON.stringify({ resumeValue: this.pick([undefined, null, { action: 1 }]), action: this.pick([1, 'maybe', null]), extra: true }),
        contentType: json,
      }),
      () => ({
        body: JSON.stringify({ scopes: this.pick([1, [], ['x'.repeat(100)], 'all']), expiresInSeconds: this.pick([-1, 1.5, 1e20, '1']) }),
        contentType: json,
      }),
      () => ({ body: this.deep(65 + this.int(200)), contentType: json }),
      () => ({ body: this.deep(5000 + this.int(20_000)), contentType: json }),
      () => ({ body: '{"workflowId":', contentType: json }),
      () => ({ body: this.ascii(1 + this.int(200)), contentType: json }),
      () => ({ body: '{"__proto__":{"polluted":true},"workflowId":"conformance-noop"}', contentType: json }),
      () => ({ body: '{"constructor":{"prototype":{"polluted":true}}}', contentType: json }),
      () => ({ body: '{"a":1,"a":2}', contentType: json }),
      () => ({ body: '\uFEFF{}', contentType: json }),
      () => ({
        body: JSON.stringify({ workflowId: 'conformance-noop', inputs: { nul: '\u0000', lone: '\ud800' }, reason: '\u0000', tags: ['\u0000'] }),
        contentType: json,
      }),
      () => ({ body: JSON.stringify({ blob: 'x'.repeat(1024 * 1024 + 10) }), contentType: json }),
      () => ({ body: 'workflowId=conformance-noop', contentType: 'application/x-www-form-urlencoded' }),
      () => ({ body: '{}', contentType: 'text/plain' }),
      () => ({ body: '{}', contentType: 'application/json; charset=utf-16' }),
      () => ({ body: '{}', contentType: 'APPLICATION/JSON' }),
      () => ({ body: '--x\r\n\r\n--x--', contentType: 'multipart/form-data; boundary=x' }),
      () => ({ body: '{}', contentType: this.ascii(1 + this.int(30)).replace(/[^\x21-\x7e]/g, 'x') }),
      () => ({ body: '{}' }),
      () => ({ body: '', contentType: json }),
    ])();
  }

  headers(): Record<string, string> {
    const h: Record<string, string> = {};
    if (this.chance(0.85)) h.authorization = `Bearer ${target.keyA}`;
    else h.authorization = this.pick(['Bearer', 'Basic Zm9vOmJhcg==', `Bearer ${'k'.repeat(5000)}`, 'bearer x', `Bearer ${target.keyA} extra`]);
    if (this.chance(0.3)) h['idempotency-key'] = this.pick(['', 'k'.repeat(300), this.ascii(20).replace(/[^\x21-\x7e]/g, '_'), 'dup']);
    if (this.chance(0.2)) h['last-event-id'] = this.pick(['-5', 'abc', '9'.repeat(40), '1e3', '']);
    if (this.chance(0.2)) h.accept = this.pick(['application/json', 'text/event-stream', '*/*;q=x', 'image/png', '']);
    if (this.chance(0.1)) h['content-encoding'] = this.pick(['gzip', 'br', 'identity', 'x']);
    if (this.chance(0.1)) h['x-forwarded-for'] = this.ascii(30).replace(/[^\x21-\x7e]/g, '.');
    return h;
  }

  /** A byte-level request: odd methods, bad header bytes, bodies on GET, lying lengths. */
  raw(op: Operation, path: string): string {
    const host = authorityOf(target.baseUrl);
    const auth = `authorization: Bearer ${target.keyA}\r\n`;
    return this.pick([
      () =>
        `${this.pick(['BREW', 'get', 'G@T', 'PROPFIND', 'PATCH', 'PUT', 'OPTIONS', 'TRACE', 'M'.repeat(40)])} ${path} HTTP/1.1\r\nhost: ${host}\r\n${auth}\r\n`,
      () => `${op.method} ${path} HTTP/1.1\r\nhost: ${host}\r\n${auth}x-bad\u0001header: v\r\n\r\n`,
      () => `${op.method} ${path} HTTP/1.1\r\nhost: ${host}\r\n${auth}content-length: -1\r\n\r\n`,
      () =>
        `${op.method} ${path} HTTP/1.1\r\nhost: ${host}\r\n${auth}transfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
      () => `${op.method} ${path} HTTP/1.1\r\nhost: ${host}\r\n${auth}content-length: 2\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`,
      () => `GET ${path} HTTP/1.1\r\nhost: ${host}\r\n${auth}content-type: application/json\r\ncontent-length: 5\r\n\r\n{"a":`,
      () => `${op.method} ${path} HTTP/1.1\r\n${auth}\r\n`,
      () => `${op.method} ${path} HTTP/1.1\r\nhost: ${host}\r\n${auth}expect: ${this.pick(['bogus', '200-ok', ''])}\r\n\r\n`,
      () => `${op.method} ${path} HTTP/9.9\r\nhost: ${host}\r\n\r\n`,
      () => `${op.method} ${path}\r\n\r\n`,
      () => `${op.method} ${path} HTTP/1.1\r\nhost: ${host}\r\n${auth}x-long: ${'h'.repeat(20_000)}\r\n\r\n`,
      () => `${op.method} ${target.baseUrl}${path} HTTP/1.1\r\nhost: ${host}\r\n${auth}\r\n`,
      () => `OPTIONS * HTTP/1.1\r\nhost: ${host}\r\n\r\n`,
      () => `${op.method} ${path} HTTP/1.1\r\nhost: ${host}\r\nhost: evil.example\r\n${auth}\r\n`,
      () =>
        `${op.method} ${path} HTTP/1.1\r\nhost: ${host}\r\n${auth}content-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: 4\r\n\r\n\u001f\u008b\u0008\u0000`,
    ])();
  }
}

/** The documented operations. */
async function operations(): Promise<Operation[]> {
  const res = await fetch(`${target.baseUrl}/v1/openapi.json`);
  expect(res.status).toBe(200);
  const doc = (await res.json()) as { paths: Record<string, Record<string, { parameters?: Param[]; requestBody?: unknown }>> };
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      ops.push({ method: method.toUpperCase(), path, params: op.parameters ?? [], hasBody: op.requestBody !== undefined || method !== 'get' });
    }
  }
  return ops;
}

function generate(g: Gen, op: Operation): Case {
  const path = op.path.replace(/\{[^}]+\}/g, () => g.pathValue());
  const query = g.chance(0.5) ? `?${g.query(op)}` : '';
  const url = `${path}${query}`;
  if (g.chance(0.15)) return { label: `raw ${op.method} ${op.path}`, method: op.method, url, headers: {}, raw: g.raw(op, url) };
  const headers = g.headers();
  if (op.method === 'GET' || !op.hasBody) return { label: `${op.method} ${op.path}`, method: op.method, url, headers };
  const b = g.body();
  if (b.contentType !== undefined) headers['content-type'] = b.contentType;
  return { label: `${op.method} ${op.path}`, method: op.method, url, headers, body: b.body };
}

/** Statuses seen, for the one-line summary (shows what the run exercised). */
const seen = new Map<number, number>();

/** Sends one case; returns a failure description, or undefined when the answer is acceptable. */
async function check(c: Case): Promise<string | undefined> {
  const where = `${c.label} ${c.url.slice(0, 160)}`;
  let status: number;
  let contentType: string;
  let text: string;
  try {
    if (c.raw !== undefined) {
      const r = await rawExchange(target.baseUrl, c.raw, DEADLINE_MS);
      status = r.status;
      contentType = r.headers['content-type'] ?? '';
      text = r.body;
    } else {
      const res = await fetch(`${target.baseUrl}${c.url}`, {
        method: c.method,
        headers: c.headers,
        ...(c.body === undefined ? {} : { body: c.body }),
        redirect: 'manual',
        signal: AbortSignal.timeout(DEADLINE_MS),
      });
      status = res.status;
      contentType = res.headers.get('content-type') ?? '';
      // A stream that opened is an answer, not a hang: do not wait for it to end.
      if (contentType.includes('text/event-stream')) {
        await res.body?.cancel();
        return undefined;
      }
      text = await res.text();
    }
  } catch (e) {
    return `${where}: no answer (${e instanceof Error ? `${e.name}: ${e.message}` : String(e)})`;
  }
  seen.set(status, (seen.get(status) ?? 0) + 1);
  if (status >= 500) return `${where}: ${status} ${text.slice(0, 200)}`;
  if (status < 400) return undefined;
  if (!contentType.includes('application/json')) return `${where}: ${status} with content-type ${contentType || '(none)'}`;
  try {
    const body = JSON.parse(text) as { error?: unknown };
    assertErrorEnvelope(body);
    if (typeof body.error !== 'string' || !isErrorCode(body.error)) return `${where}: ${status} with a code outside the catalog`;
  } catch (e) {
    return `${where}: ${status} body is not the closed envelope (${e instanceof Error ? e.message : String(e)}): ${text.slice(0, 200)}`;
  }
  return undefined;
}

describe('fuzz: malformed requests against every documented operation', () => {
  it('invariant: malformed-input-no-5xx — no 5xx, no hang, and every 4xx is the closed envelope', { timeout: 240_000 }, async () => {
    process.stderr.write(`fuzz: seed ${SEED}, ${CASES} cases (reproduce with WEFT_FUZZ_SEED=${SEED})\n`);
    const g = new Gen(prng(SEED));
    const ops = await operations();
    expect(ops.length).toBeGreaterThan(0);
    const failures: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const failure = await check(generate(g, ops[i % ops.length] as Operation));
      if (failure) failures.push(failure);
    }
    const summary = [...seen]
      .sort((a, b) => a[0] - b[0])
      .map(([st, n]) => `${st}×${n}`)
      .join(' ');
    process.stderr.write(`fuzz: seed ${SEED}: statuses ${summary}; ${failures.length} failure(s)\n`);
    expect(failures, `seed ${SEED}`).toEqual([]);
    // The host still answers normally afterwards.
    const ok = await fetch(`${target.baseUrl}/v1/runs?limit=1`, { headers: { authorization: `Bearer ${target.keyA}` } });
    expect(ok.status).toBe(200);
  });
});

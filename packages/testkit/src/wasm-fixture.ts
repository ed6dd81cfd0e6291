/**
 * A WASM pack module (ABI v1) assembled byte by byte for tests: three nodes —
 * `vendor.acme.ok` answers `response`, `vendor.acme.grow` grows memory until a grow fails and
 * traps, `vendor.acme.spin` loops forever — with chosen imports, ABI version and memory maximum.
 */
const uleb = (n: number): number[] => {
  const out: number[] = [];
  let v = n;
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
};
const sleb64 = (n: bigint): number[] => {
  const out: number[] = [];
  let v = n;
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};
const str = (s: string): number[] => [...uleb(Buffer.byteLength(s)), ...Buffer.from(s)];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

/** The node ids the module provides. */
export const WASM_TEST_NODES = ['vendor.acme.ok', 'vendor.acme.grow', 'vendor.acme.spin'];

/** An ABI v1 module: three nodes (answer, memory bomb, busy loop), optional extra imports. */
export function wasmModule(opts: { abi?: number; imports?: Array<[string, string]>; response?: string; maxPages?: number } = {}): Uint8Array {
  const response = opts.response ?? JSON.stringify({ outcome: 'completed', output: { hello: 'wasm' } });
  const base = 1024;
  const strings = [...WASM_TEST_NODES, response];
  const offsets: number[] = [];
  let at = base;
  for (const s of strings) {
    offsets.push(at);
    at += Buffer.byteLength(s);
  }
  const packed = (i: number): bigint => (BigInt(offsets[i] as number) << 32n) | BigInt(Buffer.byteLength(strings[i] as string));
  const types = [
    [0x60, 0, 1, 0x7f], // 0: () -> i32
    [0x60, 1, 0x7f, 1, 0x7e], // 1: (i32) -> i64
    [0x60, 1, 0x7f, 1, 0x7f], // 2: (i32) -> i32
    [0x60, 3, 0x7f, 0x7f, 0x7f, 1, 0x7e], // 3: (i32, i32, i32) -> i64
    [0x60, 0, 1, 0x7e], // 4: () -> i64
  ];
  const imports = opts.imports ?? [['openwop', 'openwop_now_ms']];
  const importSec = vec(imports.map(([m, n]) => [...str(m), ...str(n), 0x00, 4]));
  const funcs = [0, 0, 1, 2, 3];
  const names = ['openwop_abi_version', 'openwop_node_count', 'openwop_node_id_at', 'openwop_alloc', 'openwop_node_invoke'];
  const k = imports.length;
  const exportSec = vec([[...str('memory'), 0x02, 0], ...names.map((n, i) => [...str(n), 0x00, ...uleb(k + i)])]);
  const body = (code: number[]): number[] => [...uleb(code.length + 1), 0x00, ...code];
  const i64 = (v: bigint): number[] => [0x42, ...sleb64(v)];
  const bomb = [0x03, 0x40, 0x41, 16, 0x40, 0x00, 0x41, 0x7f, 0x46, 0x04, 0x40, 0x00, 0x0b, 0x0c, 0x00, 0x0b, 0x00];
  const spin = [0x03, 0x40, 0x0c, 0x00, 0x0b, 0x00];
  const code = vec([
    body([0x41, ...sleb64(BigInt(opts.abi ?? 1)), 0x0b]),
    body([0x41, 3, 0x0b]),
    body([
      0x20,
      0,
      0x45,
      0x04,
      0x7e,
      ...i64(packed(0)),
      0x05,
      0x20,
      0,
      0x41,
      1,
      0x46,
      0x04,
      0x7e,
      ...i64(packed(1)),
      0x05,
      ...i64(packed(2)),
      0x0b,
      0x0b,
      0x0b,
    ]),
    body([0x41, ...sleb64(8192n), 0x0b]),
    body([0x20, 0, 0x45, 0x04, 0x7e, ...i64(packed(3)), 0x05, 0x20, 0, 0x41, 1, 0x46, 0x04, 0x7e, ...bomb, 0x05, ...spin, 0x0b, 0x0b, 0x0b]),
  ]);
  const data = vec([[0x00, 0x41, ...sleb64(BigInt(base)), 0x0b, ...str(strings.join(''))]]);
  const memory = opts.maxPages === undefined ? [1, 0x00, 1] : [1, 0x01, 1, ...uleb(opts.maxPages)];
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(1, vec(types)),
    ...section(2, importSec),
    ...section(3, vec(funcs.map((f) => [f]))),
    ...section(5, memory),
    ...section(7, exportSec),
    ...section(10, code),
    ...section(11, data),
  ]);
}

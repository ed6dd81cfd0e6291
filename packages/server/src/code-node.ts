/**
 * `core.code`: a small JavaScript function over the node's inputs, run in the pack sandbox
 * (QuickJS in a worker: no I/O, no environment, memory and time limits — decision 0020). The
 * sandbox's workers start on the first `core.code` call, so hosts that never run one pay
 * nothing.
 *
 * Config: `code` — the body of `async (inputs, config) => { … }`. Its result becomes the node's
 * outputs: an object as is, anything else as `{ result }`. A throw fails the node (`code_failed`
 * unless the thrown error carries its own lower-case `code`).
 */
import { createHash } from 'node:crypto';
import { NodeError, type NodeContext, type NodeResult, type NodeType } from '@weft/engine';
import { JsPackRuntime } from '@weft/sandbox';
import type { SandboxConfig } from './sandbox-config.js';

/** Longest `config.code`. */
export const MAX_CODE_BYTES = 65_536;

/** The module the sandbox loads for one code body: its default export maps `core.code` to the body. */
function moduleFor(code: string): string {
  return `const body = async (inputs, config) => {\n${code}\n};
export default {
  'core.code': async (ctx) => {
    try {
      const out = await body(ctx.inputs, ctx.config.params ?? {});
      const outputs = out !== null && typeof out === 'object' && !Array.isArray(out) ? out : { result: out === undefined ? null : out };
      return { status: 'success', outputs };
    } catch (e) {
      // Rethrown, so the sandbox still reports what it denied; an error without a code of its own is code_failed.
      if (e !== null && typeof e === 'object' && !(typeof e.code === 'string' && /^[a-z][a-z0-9_]{0,63}$/.test(e.code))) {
        try { e.code = 'code_failed'; } catch {}
      }
      throw e;
    }
  },
};
`;
}

/** The `core.code` node type, with the sandbox it starts on first use. */
export class CodeNode {
  private runtime: JsPackRuntime | undefined;
  constructor(private readonly cfg: SandboxConfig) {}

  readonly type: NodeType = { typeId: 'core.code', execute: (ctx) => this.execute(ctx) };

  private async execute(ctx: NodeContext): Promise<NodeResult> {
    const code = ctx.config.code;
    if (typeof code !== 'string' || code.trim() === '' || Buffer.byteLength(code) > MAX_CODE_BYTES) {
      throw new NodeError('validation_error', `core.code needs config.code: a function body of at most ${MAX_CODE_BYTES} bytes`, { nodeId: ctx.nodeId });
    }
    this.runtime ??= new JsPackRuntime({
      settings: {
        workers: this.cfg.sandboxWorkers,
        memoryBytes: this.cfg.sandboxMemoryBytes,
        timeoutMs: this.cfg.sandboxTimeoutMs,
        maxOutputBytes: this.cfg.sandboxMaxOutputBytes,
      },
    });
    const key = `core.code#${createHash('sha256').update(code).digest('base64url')}`;
    return this.runtime.run({ key, entry: 'index.js', modules: { 'index.js': moduleFor(code) } }, 'core.code', ctx);
  }

  /** Stops the sandbox workers, if any started. */
  async close(): Promise<void> {
    await this.runtime?.close();
  }
}

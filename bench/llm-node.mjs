#!/usr/bin/env node
/**
 * Orchestration overhead per LLM node (issue #11 acceptance): host CPU time a
 * `core.ai.callPrompt` node costs beyond a `core.noop` node, with a provider that answers at
 * once. In-process (engine + in-memory store), so only the host's own work is measured:
 *
 *   memory    the provider is an in-memory Outbound answering a streamed (SSE) completion of
 *             --tokens tokens with zero latency: policy decision, cache key, effect claim and
 *             record, SSE parsing, one output.chunk per token, provider.usage, node events.
 *   loopback  the same through the SSRF-guarded OutboundClient to the loopback fake provider
 *             (packages/testkit/src/fake-llm.ts) — adds the HTTP client (and the fake's own
 *             CPU, which runs in this process, so this figure is an upper bound).
 *
 * Each variant runs --runs workflows of --nodes sequential nodes, once with callPrompt nodes and
 * once with noop nodes; the per-LLM-node overhead is (cpu_llm - cpu_noop) / (runs × nodes).
 * Needs `npx tsc -b` first. Usage: node bench/llm-node.mjs [--runs 200] [--nodes 5] [--tokens 20]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { aiNodeTypes, BUILTIN_NODES, MemoryStore, NodeRegistry, RunEngine } from '@weft/engine';
import { OutboundClient } from '@weft/security';
import { startFakeLlm } from '@weft/testkit';

const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '200' }, nodes: { type: 'string', default: '5' }, tokens: { type: 'string', default: '20' } },
});
const RUNS = Number(args.runs);
const NODES = Number(args.nodes);
const TOKENS = Number(args.tokens);

const enc = new TextEncoder();
const words = Array.from({ length: TOKENS }, (_, i) => `tok${i} `);
const sseBody = enc.encode(
  [
    ...words.map((w) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: w }, finish_reason: null }] })}\n\n`),
    `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`,
    `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 10, completion_tokens: TOKENS } })}\n\n`,
    'data: [DONE]\n\n',
  ].join(''),
);
const head = { status: 200, headers: { 'content-type': 'text/event-stream' } };
/** Zero-latency in-memory provider: the body arrives in one chunk. */
const memoryOutbound = {
  async request(req) {
    req.onBodyChunk?.(sseBody, head);
    return { ...head, body: sseBody, url: req.url, redirects: 0 };
  },
};

function workflow(typeId, fake) {
  const nodes = Array.from({ length: NODES }, (_, i) => ({
    id: `n${i}`,
    typeId,
    name: `n${i}`,
    position: { x: i, y: 0 },
    config: typeId === 'core.noop' ? {} : { provider: 'bench', model: fake ? 'fake-chat' : 'm', prompt: `call ${i}` },
    inputs: {},
  }));
  return {
    id: `bench-${typeId.replaceAll('.', '-').toLowerCase()}`,
    name: 'bench',
    version: '1',
    nodes,
    edges: nodes.slice(1).map((n, i) => ({ id: `e${i}`, sourceNodeId: `n${i}`, targetNodeId: n.id })),
    triggers: [{ id: 'manual', type: 'manual', enabled: true }],
    variables: [],
    metadata: {},
    settings: {},
  };
}

async function measure(outbound, baseUrl, typeId) {
  const registry = new NodeRegistry(BUILTIN_NODES);
  for (const t of aiNodeTypes(new Map([['bench', { id: 'bench', kind: 'openai', baseUrl }]]))) registry.register(t);
  const store = new MemoryStore();
  const engine = new RunEngine({ store, registry, outbound, limits: { maxNodeExecutions: 10_000, maxRunDurationMs: 3_600_000 } });
  const def = workflow(typeId, baseUrl.startsWith('http://127'));
  await engine.catalog.register(def, 'bench');
  await engine.start();
  const one = async () => {
    const rec = await engine.createRun({ tenant: 't', principal: 'p', workflowId: def.id });
    await new Promise((resolve, reject) => {
      const done = () =>
        store.getRunInternal(rec.runId).then((r) => {
          if (['completed', 'failed', 'cancelled'].includes(r.projection.status)) {
            off();
            if (r.projection.status !== 'completed') reject(new Error(`run ${r.projection.status}: ${JSON.stringify(r.projection.error)}`));
            else resolve();
          }
        });
      const off = engine.bus.subscribe(rec.runId, () => void done());
      void done();
    });
  };
  for (let i = 0; i < Math.min(20, RUNS); i++) await one(); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < RUNS; i++) await one();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await engine.stop();
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs: wall };
}

const fake = await startFakeLlm();
const guarded = new OutboundClient({ allow: [fake.allowEntry], userAgent: 'weft-bench' });
const out = {};
for (const [name, outbound, baseUrl] of [
  ['memory', memoryOutbound, 'https://llm.bench/v1'],
  ['loopback', guarded, fake.baseUrl],
]) {
  const noop = await measure(outbound, baseUrl, 'core.noop');
  const llm = await measure(outbound, baseUrl, 'core.ai.callPrompt');
  const calls = RUNS * NODES;
  out[name] = {
    cpuMsPerLlmNode: +((llm.cpuMs - noop.cpuMs) / calls).toFixed(3),
    wallMsPerLlmNode: +((llm.wallMs - noop.wallMs) / calls).toFixed(3),
    cpuMsPerNoopNode: +(noop.cpuMs / calls).toFixed(3),
  };
}
await fake.close();
process.stdout.write(`${JSON.stringify({ runs: RUNS, nodesPerRun: NODES, tokensPerCall: TOKENS, node: process.version, ...out }, null, 2)}\n`);

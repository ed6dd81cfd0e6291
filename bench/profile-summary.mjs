#!/usr/bin/env node
/**
 * Summarizes a V8 `.cpuprofile` (as written by `node --cpu-prof`): top self-time functions
 * and self time grouped by component (Fastify, SQLite, pino, engine, JSON builtins, GC, …).
 *
 *   node bench/profile-summary.mjs bench/out/prof-…/host.cpuprofile [--top 25] [--json]
 *
 * Percentages are given of *busy* time (all samples except `(idle)`) and of all samples.
 * Reading it: the profiler samples the main thread, so time the thread spends inside a
 * synchronous native call (a better-sqlite3 statement or commit, a socket writev) counts as
 * busy time of the JS frame that made the call: C++ API callbacks get no frame of their own,
 * so SQLite's own work shows up as `sqliteTransaction`/`readEvents`/… self time. Frames that
 * do have an empty URL (V8 builtins, `writev`) are attributed to the component of their
 * nearest JS caller and shown as `native ← <component>`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);
const JSON_BUILTINS = new Set(['stringify', 'parse', 'JSONStringify', 'JSONParse']);

/** V8 does not sample C++ callbacks as frames, so native statement work lands in the caller. */
const weftComponent = (pkg) =>
  pkg === 'store-sqlite' ? 'weft store-sqlite (incl. native statement calls)' : pkg === 'store-postgres' ? 'weft store-postgres' : `weft ${pkg}`;

/** Component of a JS frame from its URL (undefined for native frames). */
function componentOfUrl(url) {
  if (!url) return undefined;
  const u = url.replace(/^file:\/\//, '');
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
  if (nm) {
    const pkg = nm[1];
    if (
      pkg === 'fastify' ||
      pkg.startsWith('@fastify/') ||
      [
        'find-my-way',
        'avvio',
        'light-my-request',
        'fast-json-stringify',
        'fast-querystring',
        'secure-json-parse',
        'fast-decode-uri-component',
        'abstract-logging',
        'toad-cache',
        'process-warning',
        'rfdc',
        'fastq',
      ].includes(pkg)
    )
      return 'fastify';
    if (
      pkg === 'pino' ||
      pkg === 'sonic-boom' ||
      pkg.startsWith('@pinojs/') ||
      pkg === 'pino-std-serializers' ||
      pkg === 'fast-redact' ||
      pkg === 'thread-stream' ||
      pkg === 'on-exit-leak-free' ||
      pkg === 'atomic-sleep' ||
      pkg === 'quick-format-unescaped' ||
      pkg === 'safe-stable-stringify'
    )
      return 'logging (pino)';
    if (pkg === 'better-sqlite3' || pkg === 'bindings') return 'SQLite (better-sqlite3; native SQLite time lands here)';
    if (pkg.startsWith('pg') || pkg === 'postgres-array' || pkg === 'postgres-date' || pkg === 'postgres-bytea' || pkg === 'postgres-interval')
      return 'postgres driver (pg)';
    if (pkg === 'ajv' || pkg === 'ajv-formats' || pkg === 'fast-uri' || pkg === 'fast-deep-equal') return 'validation (ajv)';
    if (pkg.startsWith('@weft/')) return weftComponent(pkg.slice(6));
    return `npm ${pkg}`;
  }
  const ws = /\/packages\/([^/]+)\//.exec(u);
  if (ws) return weftComponent(ws[1]);
  if (u.startsWith('node:internal/crypto') || u === 'node:crypto') return 'node crypto';
  if (/^node:(_http_|http|https|net|internal\/http|internal\/stream|stream|internal\/streams|internal\/net|internal\/dns)/.test(u))
    return 'node http/net/streams';
  if (
    u.startsWith('node:internal/timers') ||
    u === 'node:timers' ||
    u.startsWith('node:internal/process/task_queues') ||
    u.startsWith('node:internal/async_hooks') ||
    u.startsWith('node:events')
  )
    return 'node event loop/timers/events';
  if (u.startsWith('node:')) return 'node other';
  return 'other JS';
}

function shortUrl(url) {
  if (!url) return '';
  let u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) u = u.slice(nm + 'node_modules/'.length);
  else {
    const p = u.indexOf('/packages/');
    if (p >= 0) u = u.slice(p + 1);
  }
  return u;
}

/** @returns {{ totalMs, busyMs, idleMs, durationMs, top: object[], components: object[] }} */
export function summarizeProfile(profile, { top = 25 } = {}) {
  const byId = new Map();
  for (const n of profile.nodes) byId.set(n.id, n);
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // Component per node, resolved lazily (native frames inherit their caller's component).
  const compCache = new Map();
  const componentOf = (id) => {
    if (compCache.has(id)) return compCache.get(id);
    const n = byId.get(id);
    const { functionName, url } = n.callFrame;
    let c;
    if (SPECIAL.has(functionName)) c = functionName === '(garbage collector)' ? 'GC' : functionName;
    else if (!url && JSON_BUILTINS.has(functionName)) c = 'JSON builtins';
    else c = componentOfUrl(url);
    if (c === undefined) {
      let p = parent.get(id);
      let pc;
      while (p !== undefined) {
        const pn = byId.get(p);
        if (pn.callFrame.url) {
          pc = componentOfUrl(pn.callFrame.url);
          break;
        }
        p = parent.get(p);
      }
      c = `native ← ${pc ?? 'unknown'}`;
    }
    compCache.set(id, c);
    return c;
  };

  // Self time per node: each sample is charged the interval until the next sample.
  const selfUs = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const fnSelf = new Map();
  const compSelf = new Map();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    const cf = n.callFrame;
    totalUs += us;
    if (cf.functionName === '(idle)') idleUs += us;
    const comp = componentOf(id);
    const key = `${cf.functionName || '(anonymous)'}\u0000${cf.url}\u0000${cf.lineNumber}`;
    const cur = fnSelf.get(key) ?? {
      key,
      fn: cf.functionName || '(anonymous)',
      where: cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '(native)',
      component: comp,
      us: 0,
    };
    cur.us += us;
    fnSelf.set(key, cur);
    compSelf.set(comp, (compSelf.get(comp) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;

  // Inclusive ("total") time per function: each sample counts once per distinct function on
  // its stack. And, for self time, who called: self time by (function, caller).
  const keyOf = (id) => {
    const cf = byId.get(id).callFrame;
    return `${cf.functionName || '(anonymous)'}\u0000${cf.url}\u0000${cf.lineNumber}`;
  };
  const inclusive = new Map();
  const callers = new Map();
  for (let i = 0; i < samples.length; i++) {
    const dt = i + 1 < timeDeltas.length ? Math.max(0, timeDeltas[i + 1]) : 0;
    if (dt === 0) continue;
    const seen = new Set();
    for (let id = samples[i]; id !== undefined; id = parent.get(id)) {
      const k = keyOf(id);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
    const self = keyOf(samples[i]);
    // Nearest caller with a different function (skips recursion and anonymous wrappers).
    let p = parent.get(samples[i]);
    while (p !== undefined && (keyOf(p) === self || !byId.get(p).callFrame.functionName)) p = parent.get(p);
    if (p !== undefined) {
      const cf = byId.get(p).callFrame;
      const m = callers.get(self) ?? new Map();
      const ck = `${cf.functionName} ${shortUrl(cf.url)}:${cf.lineNumber + 1}`;
      m.set(ck, (m.get(ck) ?? 0) + dt);
      callers.set(self, m);
    }
  }
  const pct = (us, of) => (of > 0 ? (100 * us) / of : 0);
  const topFns = [...fnSelf.values()]
    .filter((f) => f.fn !== '(idle)')
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((f) => ({
      function: f.fn,
      where: f.where,
      component: f.component,
      selfMs: +(f.us / 1000).toFixed(1),
      pctBusy: +pct(f.us, busyUs).toFixed(2),
      pctTotal: +pct(f.us, totalUs).toFixed(2),
      inclusivePctBusy: +pct(inclusive.get(f.key) ?? 0, busyUs).toFixed(2),
      topCallers: [...(callers.get(f.key) ?? new Map()).entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([caller, us]) => ({ caller, pctOfSelf: +pct(us, f.us).toFixed(1) })),
    }));
  const topInclusive = [...inclusive.entries()]
    .filter(([k]) => !k.startsWith('(root)') && !k.startsWith('(idle)') && !k.startsWith('(program)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, us]) => {
      const [fn, url, line] = k.split('\u0000');
      return {
        function: fn,
        where: url ? `${shortUrl(url)}:${Number(line) + 1}` : '(native)',
        inclusiveMs: +(us / 1000).toFixed(1),
        pctBusy: +pct(us, busyUs).toFixed(2),
      };
    });
  const components = [...compSelf.entries()]
    .filter(([c]) => c !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .map(([component, us]) => ({ component, selfMs: +(us / 1000).toFixed(1), pctBusy: +pct(us, busyUs).toFixed(2) }));
  return {
    durationMs: +((profile.endTime - profile.startTime) / 1000).toFixed(1),
    totalMs: +(totalUs / 1000).toFixed(1),
    busyMs: +(busyUs / 1000).toFixed(1),
    idleMs: +(idleUs / 1000).toFixed(1),
    samples: samples.length,
    top: topFns,
    topInclusive,
    components,
  };
}

/** Human rendering of a summary. */
export function formatProfileSummary(s) {
  const lines = [];
  lines.push(`profile: ${s.samples} samples over ${s.durationMs} ms; busy ${s.busyMs} ms, idle ${s.idleMs} ms (percentages are of busy time)`);
  lines.push('');
  lines.push('top self-time functions:');
  lines.push(
    `  ${'#'.padStart(2)}  ${'self%'.padStart(6)}  ${'incl%'.padStart(6)}  ${'ms'.padStart(8)}  ${'function'.padEnd(34)} ${'component'.padEnd(30)} where`,
  );
  s.top.forEach((f, i) => {
    lines.push(
      `  ${String(i + 1).padStart(2)}  ${f.pctBusy.toFixed(2).padStart(6)}  ${f.inclusivePctBusy.toFixed(2).padStart(6)}  ${f.selfMs.toFixed(1).padStart(8)}  ${f.function.slice(0, 34).padEnd(34)} ${f.component.slice(0, 30).padEnd(30)} ${f.where}`,
    );
  });
  lines.push('');
  lines.push('main callers of the top self-time functions:');
  for (const f of s.top.slice(0, 8)) {
    if (f.topCallers.length === 0) continue;
    lines.push(`  ${f.function}: ${f.topCallers.map((c) => `${c.caller} (${c.pctOfSelf}%)`).join('; ')}`);
  }
  lines.push('');
  lines.push('top inclusive (total) time:');
  for (const f of s.topInclusive)
    lines.push(`  ${f.pctBusy.toFixed(2).padStart(6)}%  ${f.inclusiveMs.toFixed(1).padStart(9)} ms  ${f.function.slice(0, 40).padEnd(40)} ${f.where}`);
  lines.push('');
  lines.push('self time by component:');
  for (const c of s.components) lines.push(`  ${c.pctBusy.toFixed(2).padStart(6)}%  ${c.selfMs.toFixed(1).padStart(9)} ms  ${c.component}`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length !== 1) {
    process.stderr.write('usage: node bench/profile-summary.mjs FILE.cpuprofile [--top N] [--json]\n');
    process.exit(2);
  }
  const s = summarizeProfile(JSON.parse(readFileSync(positionals[0], 'utf8')), { top: Number(values.top) });
  process.stdout.write(values.json ? `${JSON.stringify(s, null, 2)}\n` : `${formatProfileSummary(s)}\n`);
}

/**
 * End-to-end tests of the console: a real host (memory store, the example workflows) serving the
 * real build at /console, driven through Debian's chromium with playwright-core. They cover the
 * acceptance list of the console issue: sign in; start a workflow from its form and watch it
 * complete live; approve a waiting gate from the inbox and see the run resume; reject with a
 * reason; cancel a sleeping run; filter the timeline to failures; a wrong key gets a clear
 * sign-in error; a key without admin scopes sees no admin pages; a 10,000-event timeline renders
 * without freezing; no console errors anywhere else.
 *
 * Screenshots go to `.ci/out/console/`, or to `WEFT_CONSOLE_SCREENSHOTS` (the committed ones in
 * docs/console/ are made with `WEFT_CONSOLE_SCREENSHOTS=docs/console`).
 */
// The strings passed to page.evaluate run in the browser (this file is typechecked without the DOM library).
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WeftClient, type RunSnapshot } from '@weft/sdk';
import { REPO_ROOT, TEST_KEYS, chromiumGate, startTestHost, type TestHost } from '@weft/testkit';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const gate = chromiumGate(process.env);
const SHOTS = resolve(REPO_ROOT, process.env.WEFT_CONSOLE_SCREENSHOTS || join('.ci', 'out', 'console'));
const BUILD = join(REPO_ROOT, 'packages', 'console', 'dist', 'index.html');

let host: TestHost;
let browser: Browser;
let api: WeftClient;
const contexts: BrowserContext[] = [];
/** Console errors and uncaught page errors per page, checked after each test. */
const problems = new Map<Page, string[]>();
/** Network refusals a test provokes on purpose (a wrong key, the admin probes of a narrow key). */
let expectedRefusals: RegExp | undefined;

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  contexts.push(context);
  const page = await context.newPage();
  const seen: string[] = [];
  problems.set(page, seen);
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') seen.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => seen.push(`pageerror: ${e.message}`));
  return page;
}

async function signIn(page: Page, key: string = TEST_KEYS.tenantA): Promise<void> {
  await page.goto(`${host.url}/console`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function startRun(workflowId: string, inputs: Record<string, unknown>): Promise<string> {
  return (await api.createRun({ workflowId, inputs })).runId;
}

/** Waits (bounded) until the run satisfies `done`, reading it over the API. */
async function runUntil(runId: string, done: (r: RunSnapshot) => boolean, timeoutMs = 15_000): Promise<RunSnapshot> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await api.getRun(runId);
    if (done(r)) return r;
    if (Date.now() > deadline) throw new Error(`run ${runId} is still ${r.status}`);
    await api.pollEvents(runId, { lastSequence: r.lastSequence ?? -1, timeout: 1 });
  }
}

async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, name), fullPage });
}

const badge = (page: Page) => page.locator('#run-h .badge');

/** A one-node workflow around `node` (the e2e-only interrupt kinds the examples lack). */
const oneNode = (id: string, node: Record<string, unknown>) => ({
  id,
  name: id,
  version: '1.0',
  nodes: [{ id: 'gate', name: 'gate', position: { x: 0, y: 0 }, inputs: {}, ...node }],
  edges: [],
  triggers: [{ id: 'manual', type: 'manual', enabled: true }],
  variables: [],
  metadata: {},
  settings: { timeout: 0 },
});
const E2E_WORKFLOWS = [
  oneNode('e2e-clarify', {
    typeId: 'core.clarificationGate',
    config: {
      questions: [
        { id: 'audience', question: 'Who is the audience?' },
        { id: 'words', question: 'How many words?', schema: { type: 'integer' } },
      ],
    },
  }),
  oneNode('e2e-external', { typeId: 'core.interrupt', config: { kind: 'external-event', data: { eventType: 'e2e.ready', correlation: { ticket: 'T-9' } } } }),
  oneNode('e2e-quorum', { typeId: 'core.approvalGate', config: { title: 'Two approvals needed', actions: ['accept', 'reject'], requiredApprovals: 2 } }),
];

/** The inbox card of a run. */
const cardOf = (page: Page, runId: string) => page.locator('article.interrupt', { has: page.locator(`a[href="#/runs/${runId}"]`) });

describe.skipIf(gate.skip)('console (chromium)', () => {
  beforeAll(async () => {
    if (!gate.present) throw new Error(`The console e2e tests need chromium: ${gate.reason}. Under CI=true they never skip.`);
    if (!existsSync(BUILD)) throw new Error(`The console is not built (${BUILD} is missing): run npm run build.`);
    host = await startTestHost({ store: 'memory', workflowsDirs: [join(REPO_ROOT, 'examples', 'workflows')] });
    api = new WeftClient({ baseUrl: host.url, apiKey: TEST_KEYS.tenantA });
    for (const w of E2E_WORKFLOWS) await api.registerWorkflow(w);
    browser = await chromium.launch({ executablePath: gate.path, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });

  afterEach(async () => {
    const refusals = expectedRefusals;
    expectedRefusals = undefined;
    const all = [...problems.values()].flat().filter((p) => !(refusals && /Failed to load resource/.test(p) && refusals.test(p)));
    problems.clear();
    for (const c of contexts.splice(0)) await c.close();
    expect(all).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await host?.stop();
  });

  it('invariant: console-strict-csp — serves the page with a strict Content-Security-Policy, loads nothing from elsewhere, and records its first render', async () => {
    const page = await newPage();
    const started = Date.now();
    const response = await page.goto(`${host.url}/console`);
    await page.getByLabel('API key').waitFor();
    const firstRenderMs = Date.now() - started;
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    // Nothing but this origin was asked for (no CDN, no web fonts).
    const foreign = await page.evaluate((origin) => performance.getEntriesByType('resource').filter((e) => !e.name.startsWith(origin)).length, host.url);
    expect(foreign).toBe(0);
    process.stdout.write(`console first render (sign-in form visible): ${firstRenderMs} ms\n`);
  });

  it('a wrong key gets a clear sign-in error and no session', async () => {
    expectedRefusals = /status of 401/;
    const page = await newPage();
    await signIn(page, 'not-a-key-of-this-host-0123456789');
    const error = page.locator('#signin-error');
    await expect.poll(() => error.textContent()).toContain('the host did not accept this API key');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(await page.getByRole('navigation', { name: 'Main' }).count()).toBe(0);
  });

  it('invariant: console-key-session-only — signs in, keeps the key in sessionStorage only, and lists runs', async () => {
    await startRun('weft-hello', { greeting: 'hi from the console test' });
    const page = await newPage();
    await signIn(page);
    await page.locator('#runs-h').waitFor();
    expect(await page.evaluate("sessionStorage.getItem('weft.console.apiKey')")).toBe(TEST_KEYS.tenantA);
    expect(await page.evaluate('localStorage.length + document.cookie.length')).toBe(0);
    expect(page.url()).not.toContain(TEST_KEYS.tenantA);
    await expect.poll(() => page.locator('table.runs tbody tr').count()).toBeGreaterThan(0);
    // A reload signs in again from the tab's storage.
    await page.reload();
    await page.locator('#runs-h').waitFor();
    expect(await page.getByRole('link', { name: 'API keys' }).count()).toBe(1);
  });

  it('starts a workflow from its form and watches it complete live', async () => {
    const page = await newPage();
    await signIn(page);
    await page.locator('#runs-h').waitFor();
    await page.goto(`${host.url}/console#/workflows/weft-sleep`);
    await page.getByLabel('delayMs').fill('1500');
    const idem = await page.getByLabel('Idempotency-Key').inputValue();
    expect(idem).toMatch(/^console-/);
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.locator('#run-h').waitFor();
    // Live: the sleeping node is seen running before the run completes, without a reload.
    await page.locator('g.dag-node[data-node="sleep"][data-status="running"]').waitFor({ timeout: 10_000 });
    await expect.poll(() => badge(page).textContent(), { timeout: 15_000 }).toBe('completed');
    await page.locator('g.dag-node[data-node="after"][data-status="completed"]').waitFor();
    await page.locator('.vrow .etype', { hasText: 'run.completed' }).waitFor();
    const runId = (await page.locator('#run-h code').textContent()) ?? '';
    const run = await api.getRun(runId);
    expect(run.status).toBe('completed');
    expect(run.workflowId).toBe('weft-sleep');
  });

  it('approves a waiting gate from the inbox and sees the run resume', async () => {
    const runId = await startRun('weft-review', { text: 'draft for approval' });
    await runUntil(runId, (r) => r.status === 'waiting-approval');
    const page = await newPage();
    await signIn(page);
    await page.locator('#runs-h').waitFor();
    await page.getByRole('link', { name: 'Inbox' }).click();
    const card = cardOf(page, runId);
    await card.waitFor();
    await shot(page, 'interrupt-form.png');
    await card.getByRole('button', { name: 'Approve', exact: true }).click();
    const notice = page.locator('.notice-success', { hasText: runId });
    await notice.waitFor();
    await notice.getByRole('link', { name: runId }).click();
    await expect.poll(() => badge(page).textContent(), { timeout: 15_000 }).toBe('completed');
    await page.locator('g.dag-node[data-node="publish"][data-status="completed"]').waitFor();
    expect((await api.getRun(runId)).status).toBe('completed');
    await page.locator('g.dag-node[data-node="review"]').click();
    await page.locator('#inspector-h').waitFor();
    await page.locator('.vrow .etype', { hasText: 'interrupt.resolved' }).click();
    await shot(page, 'run-timeline-dag.png', true);
  });

  it('rejects with a reason, then filters the timeline to failures', async () => {
    const runId = await startRun('weft-review', { text: 'draft to reject' });
    await runUntil(runId, (r) => r.status === 'waiting-approval');
    const page = await newPage();
    await signIn(page);
    await page.locator('#runs-h').waitFor();
    await page.goto(`${host.url}/console#/inbox`);
    const card = cardOf(page, runId);
    await card.getByLabel(/Reason/).fill('not ready: needs sources');
    await card.getByRole('button', { name: 'Reject' }).click();
    await page.locator('.notice-success', { hasText: runId }).waitFor();
    const run = await runUntil(runId, (r) => r.status === 'failed');
    expect(run.error?.code).toBe('interrupt_rejected');
    const events = await api.pollEvents(runId, { lastSequence: -1, timeout: 1 });
    expect(JSON.stringify(events.events)).toContain('not ready: needs sources');

    await page.goto(`${host.url}/console#/runs/${runId}`);
    await expect.poll(() => badge(page).textContent()).toBe('failed');
    await page.locator('.vrow .etype', { hasText: 'run.failed' }).waitFor();
    const total = events.events.length;
    await page.getByLabel('Failures only').check();
    await expect.poll(() => page.getByTestId('event-count').textContent()).toMatch(new RegExp(`^\\d+ of ${total} events$`));
    const shown = await page.locator('.vrow .etype').allTextContents();
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.length).toBeLessThan(total);
    for (const type of shown) expect(type).toMatch(/\.failed$|^cap\.breached$|^interrupt\.resolved$/);
    expect(shown).toContain('run.failed');
    expect(shown).toContain('node.failed');
  });

  it('cancels a sleeping run with a reason', async () => {
    const runId = await startRun('weft-sleep', { delayMs: 120_000 });
    await runUntil(runId, (r) => r.status === 'running' && (r.nodeStates as Record<string, { status?: string }> | undefined)?.sleep?.status !== 'pending');
    const page = await newPage();
    await signIn(page);
    await page.locator('#runs-h').waitFor();
    await page.goto(`${host.url}/console#/runs/${runId}`);
    await expect.poll(() => badge(page).textContent()).toBe('running');
    await page.locator('.vrow').first().waitFor();
    await page.getByLabel('Reason').fill('no longer needed');
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await expect.poll(() => badge(page).textContent(), { timeout: 15_000 }).toBe('cancelled');
    const run = await api.getRun(runId);
    expect(run.status).toBe('cancelled');
    expect(run.cancelReason).toBe('no longer needed');
    await page.goto(`${host.url}/console#/runs`);
    await expect.poll(() => page.locator('table.runs tbody tr').count()).toBeGreaterThan(2);
    await shot(page, 'runs-list.png');
  });

  it('forks a finished run from an event (discovery advertises replay) and opens the fork, linked to its source', async () => {
    const runId = await startRun('weft-hello', { greeting: 'fork me' });
    await runUntil(runId, (r) => r.status === 'completed');
    const page = await newPage();
    await signIn(page);
    await page.locator('#runs-h').waitFor();
    await page.goto(`${host.url}/console#/runs/${runId}`);
    await expect.poll(() => badge(page).textContent()).toBe('completed');
    await page.getByLabel('Mode').selectOption('branch');
    await page.getByLabel('From event').fill('2');
    await page.getByRole('button', { name: 'Fork run' }).click();
    await expect.poll(() => page.url(), { timeout: 15_000 }).not.toContain(runId);
    const forkId = /#\/runs\/([^/?]+)/.exec(page.url())?.[1] as string;
    await expect.poll(() => badge(page).textContent(), { timeout: 15_000 }).toBe('completed');
    await expect.poll(() => page.getByRole('link', { name: runId }).count()).toBeGreaterThan(0);
    const fork = await api.getRun(forkId);
    expect(fork.forkedFrom).toEqual({ runId, fromSeq: 2, mode: 'branch' });
  });

  it('answers clarification, external-event and quorum forms generated from the resumeSchema', async () => {
    // The payload the host refuses on purpose shows up as a failed request in the browser's console.
    expectedRefusals = /status of 4\d\d/;
    const clarify = await startRun('e2e-clarify', {});
    const external = await startRun('e2e-external', {});
    const quorum = await startRun('e2e-quorum', {});
    for (const id of [clarify, external, quorum]) await runUntil(id, (r) => r.status.startsWith('waiting-'));
    const page = await newPage();
    await signIn(page);
    await page.locator('#runs-h').waitFor();
    await page.goto(`${host.url}/console#/inbox`);

    const q = cardOf(page, clarify);
    await q.getByLabel('Who is the audience?').fill('operators');
    await q.getByLabel('How many words?').fill('120');
    await q.getByRole('button', { name: 'Submit answer' }).click();
    await page.locator('.notice-success', { hasText: clarify }).waitFor();
    expect((await runUntil(clarify, (r) => r.status === 'completed')).nodeStates).toMatchObject({
      gate: { outputs: { answers: { audience: 'operators', words: 120 } } },
    });

    const x = cardOf(page, external);
    const payload = x.getByLabel(/Event payload/);
    expect(JSON.parse(await payload.inputValue())).toEqual({ type: 'e2e.ready', ticket: 'T-9' });
    // The host's refusal is shown as written.
    await payload.fill('[1, 2]');
    await x.getByRole('button', { name: 'Send event' }).click();
    await x.locator('.notice-error').waitFor();
    expect(await x.locator('.notice-error').textContent()).toMatch(/^[a-z_]+: .+/);
    await payload.fill('{"type": "e2e.ready", "ticket": "T-9", "ok": true}');
    await x.getByRole('button', { name: 'Send event' }).click();
    await page.locator('.notice-success', { hasText: external }).waitFor();
    expect((await runUntil(external, (r) => r.status === 'completed')).status).toBe('completed');

    const v = cardOf(page, quorum);
    await v.getByText('0 of 2 approvals').waitFor();
    await v.getByRole('button', { name: 'Approve', exact: true }).click();
    await v.getByText(/Vote recorded; the approval still needs votes/).waitFor();
    await v.getByText('1 of 2 approvals').waitFor();
    const second = new WeftClient({ baseUrl: host.url, apiKey: TEST_KEYS.approverA2 });
    await second.approve(quorum, 'gate');
    expect((await runUntil(quorum, (r) => r.status === 'completed')).status).toBe('completed');
  });

  it('bulk-cancels selected runs from the live list, and pauses and resumes a run', async () => {
    const page = await newPage();
    await signIn(page);
    await page.locator('#runs-h').waitFor();
    await page.getByLabel('Workflow').selectOption('weft-sleep');
    const a = await startRun('weft-sleep', { delayMs: 120_000 });
    const b = await startRun('weft-sleep', { delayMs: 120_000 });
    // Live: the new runs appear without a reload.
    await page.locator(`tr[data-run="${a}"]`).waitFor({ timeout: 10_000 });
    await page.locator(`tr[data-run="${b}"]`).waitFor({ timeout: 10_000 });
    await page.getByLabel(`Select run ${a}`).check();
    await page.getByLabel(`Select run ${b}`).check();
    await page.getByLabel('Cancel reason').fill('bulk e2e');
    await page.getByRole('button', { name: 'Cancel selected (2)' }).click();
    await page.locator('.notice', { hasText: a }).waitFor();
    for (const id of [a, b]) expect((await runUntil(id, (r) => r.status === 'cancelled')).cancelReason).toBe('bulk e2e');

    const c = await startRun('weft-sleep', { delayMs: 120_000 });
    await runUntil(c, (r) => r.status === 'running');
    await page.goto(`${host.url}/console#/runs/${c}`);
    await page.getByLabel('Pause', { exact: true }).selectOption('immediate');
    await page.getByRole('button', { name: 'Pause run' }).click();
    await expect.poll(() => badge(page).textContent(), { timeout: 10_000 }).toBe('paused');
    await page.getByRole('button', { name: 'Resume run' }).click();
    await expect.poll(() => badge(page).textContent(), { timeout: 10_000 }).toBe('running');
    await api.cancelRun(c);
  });

  it('a key without admin scopes sees no admin pages', async () => {
    // The console learns the scopes by asking: the host refuses the admin probes with 403.
    expectedRefusals = /status of 403/;
    const page = await newPage();
    await signIn(page, TEST_KEYS.readOnly);
    await page.locator('#runs-h').waitFor();
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Runs', 'Inbox', 'Workflows']);
    await page.goto(`${host.url}/console#/admin/keys`);
    await page.getByRole('heading', { name: 'Not available' }).waitFor();
    expect(await page.locator('#keys-h').count()).toBe(0);
    await page.goto(`${host.url}/console#/admin/audit`);
    await page.getByRole('heading', { name: 'Not available' }).waitFor();
    expect(await page.locator('#audit-h').count()).toBe(0);
  });

  it('an admin key creates a key, sees the secret once, and verifies the audit log', async () => {
    const page = await newPage();
    await signIn(page);
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Name').fill('e2e-reader');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = await page.getByLabel('The new secret').inputValue();
    expect(secret.length).toBeGreaterThan(20);
    const reader = new WeftClient({ baseUrl: host.url, apiKey: secret });
    expect((await reader.listRuns({ limit: 1 })).runs).toBeDefined();
    await page.getByRole('button', { name: 'I have stored it' }).click();
    expect(await page.getByLabel('The new secret').count()).toBe(0);
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => page.locator('.notice-success').textContent()).toContain('hash chain intact');
  });

  it('renders a 10,000-event timeline without freezing (virtualised)', async () => {
    const runId = 'run_console_e2e_10k';
    const n = 10_000;
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const frames: string[] = [];
    for (let i = 0; i < n; i++) {
      const last = i === n - 1;
      const type = last ? 'run.completed' : i === 0 ? 'run.started' : i % 2 ? 'node.started' : i % 1000 === 0 ? 'node.failed' : 'node.completed';
      const doc = {
        eventId: `ev_${i}`,
        runId,
        type,
        payload: { i },
        timestamp: new Date(t0 + i).toISOString(),
        sequence: i,
        ...(last || i === 0 ? {} : { nodeId: 'greet' }),
      };
      frames.push(`id: ${i}\nevent: ${type}\ndata: ${JSON.stringify(doc)}\n\n`);
    }
    const snapshot = { runId, workflowId: 'weft-hello', status: 'completed', createdAt: new Date(t0).toISOString(), lastSequence: n - 1, nodeStates: {} };
    const page = await newPage();
    await page.route(`**/v1/runs/${runId}/events**`, (route) =>
      route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: frames.join('') }),
    );
    await page.route(`**/v1/runs/${runId}`, (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(snapshot) }));
    await signIn(page);
    await page.locator('#runs-h').waitFor();
    const started = Date.now();
    await page.goto(`${host.url}/console#/runs/${runId}`);
    await expect.poll(() => page.getByTestId('event-count').textContent(), { timeout: 30_000 }).toBe(`${n} of ${n} events`);
    const renderMs = Date.now() - started;
    // Only the rows in view are in the DOM.
    expect(await page.locator('.vrow').count()).toBeLessThan(100);
    // The page still answers at once: a filter over 10,000 events and a keyboard jump.
    const t1 = Date.now();
    await page.getByLabel('Failures only').check();
    await expect.poll(() => page.getByTestId('event-count').textContent()).toBe(`9 of ${n} events`);
    const filterMs = Date.now() - t1;
    await page.getByLabel('Failures only').uncheck();
    await page.getByRole('listbox', { name: 'Run events' }).focus();
    await page.keyboard.press('Home');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByLabel('Event 0').textContent()).toContain('run.started');
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByLabel(`Event ${n - 1}`).textContent()).toContain('run.completed');
    process.stdout.write(`console 10,000-event timeline: rendered in ${renderMs} ms, failures filter in ${filterMs} ms\n`);
    expect(renderMs).toBeLessThan(30_000);
  });

  it('resumes a dropped timeline stream with Last-Event-ID and shows each event once', async () => {
    const runId = 'run_console_e2e_resume';
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const frame = (i: number, type: string): string =>
      `id: ${i}\nevent: ${type}\ndata: ${JSON.stringify({ eventId: `ev_${i}`, runId, type, payload: {}, timestamp: new Date(t0 + i).toISOString(), sequence: i })}\n\n`;
    const seen: (string | undefined)[] = [];
    let status = 'running';
    const page = await newPage();
    await page.route(`**/v1/runs/${runId}/events**`, (route) => {
      const last = route.request().headers()['last-event-id'];
      seen.push(last);
      // The first connection ends after five events without the terminal one; the resumed one
      // repeats event 4 (as a host may) and then finishes the run.
      const body =
        last === undefined
          ? [0, 1, 2, 3, 4].map((i) => frame(i, i === 0 ? 'run.started' : 'run.annotated')).join('')
          : [4, 5, 6].map((i) => frame(i, i === 6 ? 'run.completed' : 'run.annotated')).join('');
      if (last !== undefined) status = 'completed';
      return route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body });
    });
    await page.route(`**/v1/runs/${runId}`, (route) =>
      route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({ runId, workflowId: 'weft-hello', status, createdAt: new Date(t0).toISOString() }),
      }),
    );
    await signIn(page);
    await page.locator('#runs-h').waitFor();
    await page.goto(`${host.url}/console#/runs/${runId}`);
    await expect.poll(() => page.getByTestId('event-count').textContent()).toBe('7 of 7 events');
    expect(seen).toEqual([undefined, '4']);
    expect(await page.locator('.vrow .seq').allTextContents()).toEqual(['#0', '#1', '#2', '#3', '#4', '#5', '#6']);
  });

  it('is usable from the keyboard: skip link, focus on the nav, Enter on a DAG node opens the inspector', async () => {
    const runId = await startRun('weft-hello', { greeting: 'keyboard' });
    await runUntil(runId, (r) => r.status === 'completed');
    const page = await newPage();
    await signIn(page);
    await page.locator('#runs-h').waitFor();
    await page.goto(`${host.url}/console#/runs/${runId}`);
    await page.locator('g.dag-node[data-node="greet"]').waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    // Focus is visible: the focused element draws an outline.
    const outline = await page.evaluate('getComputedStyle(document.activeElement).outlineStyle');
    expect(outline).not.toBe('none');
    await page.locator('g.dag-node[data-node="greet"]').focus();
    await page.keyboard.press('Enter');
    await page.locator('#inspector-h').waitFor();
    expect(await page.locator('#inspector-h').textContent()).toContain('greet');
    // 200 % zoom: the layout reflows within the viewport (no horizontal page scroll).
    await page.setViewportSize({ width: 640, height: 430 });
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow).toBeLessThanOrEqual(1);
  });
});

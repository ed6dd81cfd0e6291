import assert from 'node:assert/strict';
import { test } from 'node:test';
import nodes from '../dist/index.js';

test('vendor.example.slugify slugifies inputs.text', async () => {
  const out = await nodes['vendor.example.slugify']({ inputs: { text: '  Héllo, Wörld! 2026 ' }, config: {} });
  assert.deepEqual(out, { status: 'success', outputs: { slug: 'hello-world-2026' } });
});

test('vendor.example.slugify fails without text', async () => {
  const out = await nodes['vendor.example.slugify']({ inputs: {}, config: {} });
  assert.equal(out.status, 'failure');
  assert.equal(out.error.code, 'example_text_required');
});

test('vendor.example.wordCount counts words', async () => {
  assert.deepEqual(await nodes['vendor.example.wordCount']({ inputs: { text: 'one two  three' } }), { status: 'success', outputs: { words: 3 } });
});

// Node bodies by typeId. Each receives ctx ({inputs, config, attempt, runId, nodeId, tenantId})
// and returns a NodeOutcome. The code runs in Weft's sandbox: no require, process, fetch,
// timers or file system; a failure is {status: 'failure', error: {code, message}} or a throw.
import { slugify, words } from './slug.js';

export default {
  'vendor.example.slugify': async (ctx) => {
    const text = ctx.inputs?.text;
    if (typeof text !== 'string') return { status: 'failure', error: { code: 'example_text_required', message: 'inputs.text must be a string' } };
    const max = Number.isInteger(ctx.config?.maxLength) ? ctx.config.maxLength : 64;
    return { status: 'success', outputs: { slug: slugify(text, max) } };
  },
  'vendor.example.wordCount': async (ctx) => ({ status: 'success', outputs: { words: words(ctx.inputs?.text ?? '') } }),
};

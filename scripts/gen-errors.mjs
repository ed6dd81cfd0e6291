#!/usr/bin/env node
// Regenerates docs/errors.md from the error catalog (build first: npm run build).
import { writeFileSync } from 'node:fs';
import { renderErrorsMarkdown } from '../packages/contract/dist/index.js';

writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorsMarkdown());
console.log('docs/errors.md written');

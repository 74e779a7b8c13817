#!/usr/bin/env node
// `pnpm docs:api`: regenerates docs/api from the built declaration files.

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateApiDocs } from './generate.js';
import { OUTPUT_DIR, readPackages, writeOutput } from './workspace.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const docs = generateApiDocs(readPackages(root));
const changed = writeOutput(root, docs.files);
console.log(changed.length === 0 ? `${OUTPUT_DIR} is up to date` : `${OUTPUT_DIR}: updated ${changed.join(', ')}`);
for (const name of docs.undocumented) console.warn(`undocumented export: ${name}`);
for (const problem of docs.problems) console.error(`error: ${problem}`);
if (docs.problems.length > 0) process.exitCode = 1;

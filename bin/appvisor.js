#!/usr/bin/env node
// The `appvisor` command; the code is in src/cli (built to dist/ by `npm install`).
import { run } from '../dist/src/cli/index.js';

process.exit(await run(process.argv.slice(2)));

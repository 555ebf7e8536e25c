#!/usr/bin/env node
import { loadCli, saveCache } from './load-cli.js';

const { exports: cli, script, cached } = loadCli();
process.exitCode = await cli.main(process.argv, cli.nodeContext());
// No usable cache (first run after an install or a Node upgrade): leave one for the next start.
if (!cached) saveCache(script);

#!/usr/bin/env node
import { main, nodeContext } from '../dist/cli.js';

process.exitCode = await main(process.argv, nodeContext());

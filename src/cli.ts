/** The executable's entry: bin/authbridge.js loads this bundle (dist/cli.cjs). */
export { main } from './main.js';
export { nodeContext } from './context.js';
/** This bundle's error classes, which bin/authbridge.js registers as dist/errors.cjs for the other bundles. */
export * as errors from './errors.js';

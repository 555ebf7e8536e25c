/** The executable's entry: bin/authbridge.js imports this bundle. */
export { main } from './main.js';
export { nodeContext } from './context.js';

/** `decode [TOKEN|-]`: a JWS's or JWE's header and claims, without verifying anything. */
import type { Command } from 'commander';
import type { Outcome } from '../errors.js';
import { decodeToken, TIME_CLAIMS } from '../jwt/decode.js';
import { renderDecoded } from '../output/decode.js';
import { createOutput } from '../output/output.js';
import { pastedToken } from './input.js';
import type { Invocation, ParseInput } from './invocation.js';

export interface DecodeOptions {
  /** The TOKEN argument; `-` or absent reads stdin. */
  token?: string;
}

export function define(cmd: Command): Command {
  return cmd
    .summary('show a JWT\'s header and claims (no verification)')
    .description('Decode a JWS or JWE without verifying it. Reads stdin when TOKEN is "-" or absent.')
    .argument('[token]', 'the token, "Bearer …" accepted; "-" reads stdin')
    .addHelpText('after', '\nExamples:\n  authbridge decode eyJhbGciOi…\n  authbridge token --type id | authbridge decode --json');
}

export function parse({ args }: ParseInput): DecodeOptions {
  return { token: args[0] };
}

export async function run({ ctx, global }: Invocation, options: DecodeOptions): Promise<Outcome> {
  const out = createOutput(ctx, global);
  const decoded = decodeToken(await pastedToken(ctx, options.token));
  if (out.json) {
    out.jsonDoc(decoded);
  } else {
    out.data(renderDecoded(decoded, ctx.now(), out.style, TIME_CLAIMS));
  }
  out.info(
    decoded.format === 'jwe'
      ? out.style.yellow('Encrypted token (JWE): only the header can be shown without the key.')
      : out.style.yellow('Signature NOT verified: use `authbridge verify` to check it.'),
  );
  return 'ok';
}

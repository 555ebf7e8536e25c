import { decodeToken, TIME_CLAIMS } from '../jwt/decode.js';
import type { Invocation } from '../main.js';
import { createOutput } from '../output/output.js';
import { renderDecoded } from '../output/decode.js';
import { tokenArgument } from './input.js';

export async function run({ ctx, global, args }: Invocation): Promise<number> {
  const out = createOutput(ctx, global);
  const decoded = decodeToken(await tokenArgument(ctx, args[0]));
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
  return 0;
}

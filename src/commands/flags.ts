/**
 * Flag groups several commands share, defined once, and the one mapping from commander's option
 * names to profile fields.
 */
import { Option, type Command, type OptionValues } from 'commander';
import type { ProfileField } from '../config/config-file.js';
import { CLIENT_AUTH_METHOD_SETTINGS, CLIENT_KEY_ALGS } from '../config/types.js';
import type { ProfileOverrides } from '../config/profile.js';

/** Collects a repeatable option's values (`--audience a --audience b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The profile field each profile option sets: commander's camelCase key and the flag as typed. */
const PROFILE_FLAGS: Readonly<Record<ProfileField, { key: string; flag: string }>> = {
  issuer: { key: 'issuer', flag: '--issuer' },
  clientId: { key: 'clientId', flag: '--client-id' },
  clientSecret: { key: 'clientSecret', flag: '--client-secret' },
  clientAuthMethod: { key: 'clientAuthMethod', flag: '--client-auth-method' },
  clientKey: { key: 'clientKey', flag: '--client-key' },
  clientKeyId: { key: 'clientKeyId', flag: '--client-key-id' },
  clientKeyAlg: { key: 'clientKeyAlg', flag: '--client-key-alg' },
  grant: { key: 'grant', flag: '--grant' },
  scopes: { key: 'scopes', flag: '--scopes' },
  redirectPort: { key: 'port', flag: '--port' },
  redirectHost: { key: 'redirectHost', flag: '--redirect-host' },
  prompt: { key: 'prompt', flag: '--prompt' },
  authParams: { key: 'authParam', flag: '--auth-param' },
  audience: { key: 'audience', flag: '--audience' },
  resource: { key: 'resource', flag: '--resource' },
  'broker.url': { key: 'brokerUrl', flag: '--broker-url' },
  'broker.clientId': { key: 'brokerClientId', flag: '--broker-client-id' },
  'broker.clientSecret': { key: 'brokerClientSecret', flag: '--broker-client-secret' },
  'broker.audience': { key: 'brokerAudience', flag: '--broker-audience' },
  'broker.subjectTokenType': { key: 'subjectTokenType', flag: '--subject-token-type' },
  'broker.protocol': { key: 'brokerProtocol', flag: '--broker-protocol' },
  'broker.apiKey': { key: 'brokerApiKey', flag: '--broker-api-key' },
  'broker.clientKey': { key: 'brokerClientKey', flag: '--broker-client-key' },
};

/**
 * The profile fields set on the command line, each with the flag it came from. `except` leaves
 * out fields whose option means something else for this command (`doctor --port`).
 */
export function profileOverrides(opts: OptionValues, except: readonly ProfileField[] = []): ProfileOverrides {
  const overrides: ProfileOverrides = {};
  for (const [field, { key, flag }] of Object.entries(PROFILE_FLAGS) as Array<[ProfileField, { key: string; flag: string }]>) {
    const value: unknown = opts[key];
    if (value !== undefined && !except.includes(field)) overrides[field] = { value, flag };
  }
  return overrides;
}

/** `--issuer`, `--client-id`, `--client-secret`: the IdP and the client at it. */
export function idpFlags(cmd: Command): Command {
  return cmd
    .option('--issuer <url>', "the IdP's issuer (env AUTHBRIDGE_ISSUER; default: the profile's)")
    .option('--client-id <id>', 'the client id at the IdP (env AUTHBRIDGE_CLIENT_ID)')
    .option('--client-secret <secret>', 'for a confidential client (env AUTHBRIDGE_CLIENT_SECRET)')
    .addOption(
      new Option(
        '--client-auth-method <method>',
        "how the client authenticates at the IdP (env AUTHBRIDGE_CLIENT_AUTH_METHOD; default: private_key_jwt with a key and no secret, none without either, else the IdP's first of client_secret_basic/_post)",
      ).choices(CLIENT_AUTH_METHOD_SETTINGS),
    )
    .option('--client-key <file>', 'private key (PEM or JWK file, mode 0600) for private_key_jwt (env AUTHBRIDGE_CLIENT_KEY)')
    .option('--client-key-id <kid>', "the key's kid (env AUTHBRIDGE_CLIENT_KEY_ID; default: the JWK's kid, else its RFC 7638 thumbprint)")
    .addOption(
      new Option('--client-key-alg <alg>', "the key's signing algorithm (env AUTHBRIDGE_CLIENT_KEY_ALG; default from the key: RS256, ES256, EdDSA)").choices(CLIENT_KEY_ALGS),
    );
}

/** `--broker-url`, `--broker-client-id`, `--broker-client-secret`: reaching the broker as its client. */
export function brokerClientFlags(cmd: Command): Command {
  return cmd
    .option('--broker-url <url>', "the broker's base URL (env AUTHBRIDGE_BROKER_URL)")
    .option('--broker-client-id <id>', 'the client id at the broker (env AUTHBRIDGE_BROKER_CLIENT_ID)')
    .option('--broker-client-secret <secret>', 'for a confidential broker client (env AUTHBRIDGE_BROKER_CLIENT_SECRET)')
    .option('--broker-client-key <file>', 'private key (PEM or JWK file) for private_key_jwt at the broker (env AUTHBRIDGE_BROKER_CLIENT_KEY)');
}

/** Every broker setting of a profile: the client flags, and what to ask the broker for and how. */
export function brokerFlags(cmd: Command): Command {
  return brokerClientFlags(cmd)
    .option('--broker-audience <aud>', 'the audience to ask the broker for (env AUTHBRIDGE_BROKER_AUDIENCE)')
    .addOption(new Option('--broker-protocol <protocol>', 'how to talk to the broker (env AUTHBRIDGE_BROKER_PROTOCOL)').choices(['rfc8693', 'synerise']))
    .option('--broker-api-key <key>', 'API key for the synerise protocol (env AUTHBRIDGE_BROKER_API_KEY)')
    .option(
      '--subject-token-type <type>',
      'which IdP token to hand the broker: access_token (default), id_token, jwt, or any absolute URI such as urn:authbridge:token-type:<provider> (sent as it is, with the access token)',
    );
}

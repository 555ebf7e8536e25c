# Peer: what a CI script writes to verify a file of tokens, with PyJWT (Debian python3-jwt).
# Usage: python3 pyjwt-verify.py TOKENS_FILE JWKS_FILE ISSUER AUDIENCE; prints one line per token.
import json
import sys

import jwt

tokens_file, jwks_file, issuer, audience = sys.argv[1:5]
with open(jwks_file) as f:
    # kid -> (key, its alg): a key is used only for the algorithm its JWK names.
    keys = {jwk["kid"]: (jwt.PyJWK(jwk).key, jwk["alg"]) for jwk in json.load(f)["keys"]}
out = []
with open(tokens_file) as f:
    for line in f:
        token = line.strip()
        if not token:
            continue
        try:
            key, alg = keys[jwt.get_unverified_header(token)["kid"]]
            jwt.decode(token, key, algorithms=[alg], issuer=issuer, audience=audience)
            out.append("valid")
        except Exception as err:
            out.append(type(err).__name__)
sys.stdout.write("\n".join(out) + "\n")

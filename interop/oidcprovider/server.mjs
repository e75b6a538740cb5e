// An authorization server for senderbound's interoperability tests: panva's
// oidc-provider (an OpenID-certified implementation that shares no code with
// senderbound), configured from the JSON in INTEROP_AS_CONFIG by the Go
// harness in this directory. It listens on 127.0.0.1 on a free port and
// prints "listening <issuer>" once it serves.
//
// Only test configuration lives here: statically registered clients,
// resource servers (RFC 8707 resource indicators) that get opaque access
// tokens, fresh signing keys, and the features the tests use (client
// credentials, RFC 7662 introspection, RFC 7009 revocation, RFC 9701 JWT
// introspection responses, RFC 9449 DPoP, RFC 8705 certificate binding).
import http from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(process.env.INTEROP_AS_CONFIG ?? '{}');

function signingKey(alg, type, options) {
  const { privateKey } = generateKeyPairSync(type, options);
  return {
    ...privateKey.export({ format: 'jwk' }),
    alg,
    use: 'sig',
    kid: `${alg}-${randomBytes(6).toString('hex')}`,
  };
}

let handle = (req, res) => { res.statusCode = 503; res.end(); };
const server = http.createServer((req, res) => handle(req, res));

server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: config.clients ?? [],
    jwks: {
      keys: [
        signingKey('RS256', 'rsa', { modulusLength: 2048 }), // ID tokens' default
        signingKey('ES256', 'ec', { namedCurve: 'P-256' }),
      ],
    },
    ttl: { ClientCredentials: config.tokenTTL ?? 600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      jwtIntrospection: { enabled: true },
      dPoP: { enabled: true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        // The harness runs plain HTTP: the client certificate (PEM, URL
        // encoded) comes in a header, as behind a TLS-terminating proxy.
        getCertificate(ctx) {
          const pem = ctx.get('x-client-cert');
          return pem ? decodeURIComponent(pem) : undefined;
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo(ctx, indicator) {
          const rs = config.resources?.[indicator];
          if (!rs) throw new errors.InvalidTarget();
          return {
            scope: rs.scope,
            audience: indicator,
            accessTokenFormat: 'opaque',
            accessTokenTTL: rs.ttl ?? config.tokenTTL ?? 600,
          };
        },
      },
    },
    // RFC 9068 §2.2: with no resource owner, sub names the client.
    extraTokenClaims(ctx, token) {
      return token.kind === 'ClientCredentials' ? { sub: token.clientId } : undefined;
    },
  });
  // Diagnostics for the harness, which shows stderr when a test fails.
  for (const event of ['grant.error', 'introspection.error', 'revocation.error', 'server_error']) {
    provider.on(event, (ctx, err) => console.error(`${event}: ${err.message} ${err.error_detail ?? ''}`));
  }
  handle = provider.callback();
  console.log(`listening ${issuer}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}

// A real, certified OpenID Connect provider (the npm package `oidc-provider`, which we
// did not write) on 127.0.0.1 over TLS, for the second test bed. It validates what a
// production server validates: client authentication, PKCE, single-use codes, refresh
// token rotation with reuse detection, token lifetimes; the device flow and DPoP (with
// server nonces) for the headless client.
//
// usage: node oidc-server.mjs CERT.pem KEY.pem '{"accessTtl": 3600, "mtls": false}'
// Prints one JSON line {"issuer": "https://127.0.0.1:PORT"} once it listens.
import https from 'node:https';
import fs from 'node:fs';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const [certPath, keyPath, optsJson] = process.argv.slice(2);
const opts = JSON.parse(optsJson || '{}');
let handler = (req, res) => { res.statusCode = 503; res.end(); };
const server = https.createServer(
  {
    cert: fs.readFileSync(certPath),
    key: fs.readFileSync(keyPath),
    // {"mtls": true}: ask for a client certificate (any; the provider binds tokens to it).
    requestCert: Boolean(opts.mtls),
    rejectUnauthorized: false,
  },
  (req, res) => handler(req, res),
);
// The private_key_jwt client's key pair: the private half for the connector (written to
// client-key.pem in the working directory), the public half registered with the client.
const pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
fs.writeFileSync('client-key.pem', pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
const clientJwk = { ...pair.publicKey.export({ format: 'jwk' }), kid: 'client-key-1', alg: 'RS256', use: 'sig' };

server.listen(0, '127.0.0.1', () => {
  const issuer = `https://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'stack-app',
      client_secret: 'stack-secret-Value_1',
      redirect_uris: [`${issuer}/cb`],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }, {
      client_id: 'stack-jwt-app',
      redirect_uris: [`${issuer}/cb`],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'RS256',
      jwks: { keys: [clientJwk] },
    }, {
      // A headless connector: the device authorization grant (RFC 8628), DPoP optional.
      client_id: 'stack-device-app',
      client_secret: 'stack-device-secret-1',
      redirect_uris: [],
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    }, {
      // The same headless connector with certificate-bound access tokens (RFC 8705).
      client_id: 'stack-mtls-app',
      client_secret: 'stack-mtls-secret-1',
      redirect_uris: [],
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      tls_client_certificate_bound_access_tokens: true,
    }],
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      deviceFlow: { enabled: true },
      // DPoP (RFC 9449) with server nonces: every proof must carry the server's nonce.
      dPoP: { enabled: true, nonceSecret: crypto.randomBytes(32), requireNonce: () => true },
      // Mutual TLS (RFC 8705): access tokens bound to the certificate of the connection.
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        getCertificate(ctx) {
          const peer = ctx.req.socket.getPeerCertificate?.();
          return peer && peer.raw ? new crypto.X509Certificate(peer.raw) : undefined;
        },
      },
    },
    ttl: {
      AccessToken: opts.accessTtl || 3600,
      AuthorizationCode: 60,
      Grant: 3600,
      IdToken: 3600,
      Interaction: 600,
      RefreshToken: 86400,
      Session: 3600,
    },
    rotateRefreshToken: true,
    clockTolerance: 0,
    issueRefreshToken: async (ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    cookies: { keys: ['oauthscope-test-bed'] },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  handler = provider.callback();
  console.log(JSON.stringify({ issuer }));
});

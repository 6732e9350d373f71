// The second test bed's headless connector: openid-client (npm, a library we did not
// write) running the device authorization grant (RFC 8628) at oidc-provider through a
// proxy, with DPoP (RFC 9449) in the dpop-* scenarios, then calling the userinfo API and
// refreshing. A "user" approves the device code in a browser of their own (straight to
// the provider, not through the proxy: the proxy watches the connector).
//
// usage: node node-client.mjs SCENARIO ISSUER PROXY_URL PROXY_CA.pem
// env STACK_UPSTREAM_CA: the provider's CA (for the user's browser); STACK_CLIENT_CERT
// (mtls-*): the connector's TLS client certificate and key, one PEM.
// Exits 0 when the flow went as the scenario stages it (including the failures it stages).
import fs from 'node:fs';
import * as client from 'openid-client';
import { Agent, ProxyAgent, fetch as ufetch } from 'undici';

const [scenario, issuer, proxyUrl, proxyCa] = process.argv.slice(2);
const mtlsOn = scenario.startsWith('mtls-');
const identity = mtlsOn ? fs.readFileSync(process.env.STACK_CLIENT_CERT) : undefined;
// The connector's TLS towards the proxy: with its client certificate in the mtls-* flows.
const viaProxy = new ProxyAgent({
  uri: proxyUrl,
  requestTls: identity ? { ca: fs.readFileSync(proxyCa), cert: identity, key: identity } : { ca: fs.readFileSync(proxyCa) },
});
const noCert = new ProxyAgent({ uri: proxyUrl, requestTls: { ca: fs.readFileSync(proxyCa) } });
const direct = new Agent({ connect: { ca: fs.readFileSync(process.env.STACK_UPSTREAM_CA) } });
const connectorFetch = (url, options) => ufetch(url, { ...options, dispatcher: viaProxy });

/** The status of a protected-resource call: openid-client throws on a 401 challenge. */
async function statusOf(call) {
  try {
    return (await call).status;
  } catch (e) {
    if (e.code === 'OAUTH_WWW_AUTHENTICATE_CHALLENGE') return e.status;
    throw e;
  }
}

function check(cond, ...what) {
  if (!cond) {
    console.error('not as staged:', ...what);
    process.exit(1);
  }
}

/** The user: open the verification page, sign in, consent. A minimal browser: follows
 * redirects, keeps cookies, submits each form with its fields. With `backTo`, it goes
 * through `dispatcher` and stops at the redirect to `backTo` (opened once, as a browser
 * does), returning that URL. */
async function approve(url, { dispatcher = direct, backTo } = {}) {
  const jar = new Map();
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const keep = (res) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i).trim(), pair.slice(i + 1));
    }
  };
  let req = { url, method: 'GET', body: undefined };
  for (let n = 0; n < 20; n += 1) {
    const headers = { cookie: cookie() };
    if (req.body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await ufetch(req.url, { method: req.method, body: req.body, headers, redirect: 'manual', dispatcher });
    keep(res);
    if (res.status >= 300 && res.status < 400) {
      req = { url: new URL(res.headers.get('location'), req.url).href, method: 'GET', body: undefined };
      if (backTo && req.url.startsWith(backTo)) {
        await (await ufetch(req.url, { headers: { cookie: cookie() }, redirect: 'manual', dispatcher })).arrayBuffer();
        return req.url;
      }
      continue;
    }
    const html = await res.text();
    check(res.status === 200, 'user page', res.status, html.slice(0, 300));
    const form = html.match(/<form[^>]*action="([^"]+)"/);
    if (!form) {
      check(/success/i.test(html), 'the device was not approved', html.slice(0, 300));
      return;
    }
    const fields = new URLSearchParams();
    for (const tag of html.match(/<input[^>]*>/g) || []) {
      const name = tag.match(/name="([^"]+)"/);
      const value = tag.match(/value="([^"]*)"/);
      if (name) fields.set(name[1], value ? value[1] : '');
    }
    if (fields.has('login')) {
      fields.set('login', 'user-1');
      fields.set('password', 'any');
    }
    req = { url: new URL(form[1], req.url).href, method: 'POST', body: fields.toString() };
  }
  check(false, 'the approval did not end');
}

const parOn = scenario.startsWith('par-');
const [clientId, secret] = mtlsOn
  ? ['stack-mtls-app', 'stack-mtls-secret-1']
  : parOn ? ['stack-app', 'stack-secret-Value_1'] : ['stack-device-app', 'stack-device-secret-1'];
const config = await client.discovery(
  new URL(issuer),
  clientId,
  undefined,
  client.ClientSecretBasic(secret),
  { [client.customFetch]: connectorFetch },
);
config[client.customFetch] = connectorFetch;

if (parOn) {
  // A web connector signing in with a pushed authorization request (RFC 9126): the
  // parameters go to the PAR endpoint, the browser (through the proxy) brings only the
  // request_uri.
  const redirectUri = `${issuer}/cb`;
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: redirectUri,
    scope: 'openid offline_access',
    prompt: 'consent',
    state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const back = await approve(url.href, { dispatcher: viaProxy, backTo: redirectUri });
  if (scenario === 'par-reused') {
    // The user presses Back: the browser opens the same authorization URL again.
    const again = await ufetch(url.href, { redirect: 'manual', dispatcher: viaProxy });
    await again.arrayBuffer();
    const refused = again.status === 400
      || (again.headers.get('location') || '').includes('invalid_request_uri');
    check(refused, 'the provider took a request_uri twice', again.status);
  }
  const tokens = await client.authorizationCodeGrant(config, new URL(back), { pkceCodeVerifier: verifier, expectedState: state });
  await client.fetchUserInfo(config, tokens.access_token, client.skipSubjectCheck);
  const next = await client.refreshTokenGrant(config, tokens.refresh_token);
  await client.fetchUserInfo(config, next.access_token, client.skipSubjectCheck);
  process.exit(0);
}

const dpopOn = scenario.startsWith('dpop-');
const DPoP = dpopOn ? client.getDPoPHandle(config, await client.randomDPoPKeyPair()) : undefined;

const device = await client.initiateDeviceAuthorization(config, { scope: 'openid offline_access' });
// In device-healthy the user is slow: the first poll (after `interval`, 5 s) is answered
// `authorization_pending`, and the connector keeps polling, as it must.
const slowUser = scenario === 'device-healthy';
const approved = slowUser
  ? new Promise((done) => { setTimeout(() => approve(device.verification_uri_complete).then(done), 6500); })
  : approve(device.verification_uri_complete);
if (!slowUser) await approved;
const tokens = await client.pollDeviceAuthorizationGrant(config, device, undefined, { DPoP });
await approved;
check(tokens.access_token, 'no access token', tokens);
check(tokens.token_type.toLowerCase() === (dpopOn ? 'dpop' : 'bearer'), 'token_type', tokens.token_type);
const userinfo = new URL(config.serverMetadata().userinfo_endpoint);

switch (scenario) {
  case 'device-healthy':
  case 'mtls-healthy':
  case 'dpop-healthy': {
    await client.fetchUserInfo(config, tokens.access_token, client.skipSubjectCheck, { DPoP });
    check(tokens.refresh_token, 'no refresh token');
    const next = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
    await client.fetchUserInfo(config, next.access_token, client.skipSubjectCheck, { DPoP });
    break;
  }
  case 'dpop-as-bearer': {
    // The connector forgets DPoP on its API call: the bound token goes out as Bearer.
    const status = await statusOf(client.fetchProtectedResource(config, tokens.access_token, userinfo, 'GET'));
    check(status === 401, 'the provider took a DPoP-bound token as Bearer', status);
    break;
  }
  case 'dpop-new-key': {
    // The connector makes a new DPoP key for its API calls (say, after a restart that lost
    // the first one) but keeps the token bound to the old key.
    const other = client.getDPoPHandle(config, await client.randomDPoPKeyPair());
    const status = await statusOf(client.fetchProtectedResource(config, tokens.access_token, userinfo, 'GET', undefined, undefined, { DPoP: other }));
    check(status === 401, 'the provider took a proof signed with another key', status);
    break;
  }
  case 'mtls-no-cert': {
    // The connector's API client is set up without its certificate (only the token
    // client has it): the certificate-bound token arrives without it.
    config[client.customFetch] = (url, options) => ufetch(url, { ...options, dispatcher: noCert });
    const status = await statusOf(client.fetchProtectedResource(config, tokens.access_token, userinfo, 'GET'));
    check(status === 401, 'the provider took a certificate-bound token without its certificate', status);
    break;
  }
  default:
    check(false, 'unknown scenario', scenario);
}

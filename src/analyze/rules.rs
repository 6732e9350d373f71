//! The rule catalog, as data: one constant per rule with its id, default severity,
//! checklist step, role (cause or symptom), title, explanation, fix and an example.
//! Findings are built from these constants ([`super::finding`]); `oauthscope rules` and
//! `oauthscope explain RULE` print them. Adding a rule: one constant here, one line in
//! [`CATALOG`], the check in its rule family, a sample that yields it, the README list.
//!
//! This file is long because it is the catalog: each rule's text is user documentation.

use serde::Serialize;

use super::Severity;

/// Whether a finding explains a failure or shows one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Something the client, the server or the connector does wrong: a root cause.
    Cause,
    /// A failure the user sees (a 401, a refused token request, a connection that dies);
    /// linked to the cause that explains it when one is found.
    Symptom,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Cause => "cause",
            Role::Symptom => "symptom",
        }
    }
}

/// One rule of the catalog.
#[derive(Debug, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub role: Role,
    /// The step of Microsoft's "Troubleshoot OAuth 2.0" checklist for custom connectors
    /// (`1`–`5`), the symptom (`a`, `b`) or `limitation`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<&'static str>,
    /// One line: what is wrong.
    pub summary: &'static str,
    /// One paragraph: why it breaks an integration, and what on the wire shows it.
    pub explanation: &'static str,
    pub fix: &'static str,
    /// What the evidence looks like.
    pub example: &'static str,
    /// The standard or document it rests on.
    pub reference: &'static str,
}

macro_rules! rule {
    ($name:ident, $id:literal, $sev:ident, $role:ident, $step:expr, $summary:literal,
     $explanation:literal, $fix:literal, $example:literal, $reference:literal) => {
        pub const $name: Rule = Rule {
            id: $id,
            severity: Severity::$sev,
            role: Role::$role,
            step: $step,
            summary: $summary,
            explanation: $explanation,
            fix: $fix,
            example: $example,
            reference: $reference,
        };
    };
}

rule!(
    BEARER_MISSING,
    "bearer-missing",
    High,
    Cause,
    Some("2"),
    "API call sent without the access token in an Authorization header",
    "The client held an access token (or the API asked for one with a `WWW-Authenticate: Bearer` challenge) but the request carried no usable `Authorization: Bearer` header: none at all, an empty `Bearer `, or the token in a custom header or cookie the API does not read. The API answers 401, often with no `error=` because no credentials arrived.",
    "Send `Authorization: Bearer <access token>` on every API request. In a custom connector, check that the security definition applies to the operation and that no policy strips or renames the header.",
    "GET /api/me with no Authorization → 401, WWW-Authenticate: Bearer realm=\"api\"",
    "checklist step 2; RFC 6750 §2.1, §3"
);
rule!(
    ID_TOKEN_AS_BEARER,
    "id-token-as-bearer",
    High,
    Cause,
    Some("2"),
    "ID token sent to an API as the bearer token",
    "An OpenID Connect sign-in returns two tokens: the ID token tells the client who signed in, the access token is what APIs accept. The API call carried the ID token in `Authorization: Bearer`; APIs refuse it (401 `invalid_token`, or an audience error, since its `aud` is the client, not the API).",
    "Send the token response's `access_token` to the API, not its `id_token`. In a custom connector, check the field the connector reads from the token response.",
    "token response {access_token: at-…, id_token: eyJ…}; GET /api/me with Authorization: Bearer eyJ… (the ID token) → 401",
    "checklist step 2; OpenID Connect Core §2, §3.1.3.3; RFC 6750 §2.1"
);
rule!(
    ID_TOKEN_CLAIMS,
    "id-token-claims",
    High,
    Cause,
    Some("1"),
    "ID token that does not fit its sign-in",
    "An OpenID Connect client must check the ID token before it trusts the sign-in: `aud` names its client id (and `azp` does when there are several audiences), `iss` is the provider's issuer, `nonce` echoes the authorize request's, `exp` follows `iat`, and `at_hash`/`c_hash` match the access token and the code. One of them does not, and a client that validates the ID token, as it must, rejects it (its signature is `id-token-signature`'s).",
    "Make the connector's client id the one the provider puts in `aud`, send and expect the same `nonce`, take the issuer from the discovery document; when the provider itself issues the ID token wrong, report it to the provider.",
    "id_token claims {aud: other-app, nonce: a-nonce-from-elsewhere} for client connector-app, which sent nonce n-1",
    "checklist step 1; OpenID Connect Core §3.1.3.7, §3.3.2.11"
);
rule!(
    ID_TOKEN_SIGNATURE,
    "id-token-signature",
    High,
    Cause,
    Some("1"),
    "ID token whose signature the provider's keys do not verify",
    "An OpenID Connect client checks the ID token's signature with the provider's published keys (the JWK set at `jwks_uri`) and an `alg` the discovery document allows. Here the capture holds those keys, and the ID token's signature does not verify with them, its `kid` names none of them, or its `alg` is not one the provider allows: a client that validates the ID token, as it must, rejects the sign-in. A stale key cache (the provider rotated its keys), a token altered on the way, or a test token signed by another key are the usual reasons.",
    "Let the client fetch the JWK set again when a `kid` is unknown (key rotation); accept only the algorithms the discovery document lists; if the provider's own token fails with its own keys, report it to the provider.",
    "id_token header {alg: RS256, kid: k-2024}; JWK set at /jwks holds kid k-2025 only",
    "checklist step 1; OpenID Connect Core §3.1.3.7 (6), §10.1; RFC 7515, RFC 7517"
);
rule!(
    TOKEN_TYPE_CASE,
    "token-type-case",
    High,
    Cause,
    Some("2"),
    "`token_type` copied into the Authorization header in another spelling than `Bearer`",
    "The token response said `token_type: bearer` (RFC 6749 lets it use any case) and the client put that word, as written, in front of the token: `Authorization: bearer …`. Authorization schemes are case-insensitive (RFC 9110 §11.1), but strict APIs and gateways accept only `Bearer`, and this one answered 401.",
    "Send the scheme as `Bearer` whatever case the token response used (do not copy `token_type` into the header verbatim).",
    "token response {token_type: bearer}; GET /api with Authorization: bearer eyJ… → 401",
    "checklist step 2; RFC 6750 §2.1, RFC 6749 §5.1, RFC 9110 §11.1"
);
rule!(
    EXPIRES_IN_INVALID,
    "expires-in-invalid",
    Medium,
    Cause,
    Some("1"),
    "`expires_in` of zero or less",
    "The token response gives the access token a lifetime of zero or less seconds: read as RFC 6749 §5.1 says, the token expired when it was issued. Clients that trust it refresh before every call (or in a loop); clients that read 0 as \"unknown\" never refresh and meet a 401 later. Either way the lifetime the token really has is not on the wire.",
    "The authorization server should send the access token's real lifetime in seconds; a client should treat a non-positive `expires_in` as absent and fall back to a default or to the 401.",
    "token response {access_token: …, expires_in: 0}",
    "checklist step 1; RFC 6749 §5.1"
);
rule!(
    DEVICE_POLL_TOO_FAST,
    "device-poll-too-fast",
    Medium,
    Cause,
    Some("1"),
    "device flow polled faster than the server allows",
    "In the device authorization grant the client polls the token endpoint while the user approves on another device, waiting the `interval` the device authorization named (5 s when none) between polls, and 5 s more after each `slow_down` answer. This client polled sooner: servers answer `slow_down`, throttle the client, or block it, and the sign-in never completes on time.",
    "Wait `interval` seconds between polls, add 5 s after every `slow_down`, and keep polling only on `authorization_pending` or `slow_down`.",
    "device_authorization {interval: 5}; token polls at +0.2 s, +0.4 s → slow_down, slow_down",
    "checklist step 1; RFC 8628 §3.4, §3.5"
);
rule!(
    DEVICE_POLL_AFTER_END,
    "device-poll-after-end",
    Medium,
    Cause,
    Some("1"),
    "device code polled after the flow ended",
    "A device flow ends with the tokens, with `expired_token` (the user did not approve within the code's `expires_in`) or with `access_denied`. The client kept polling with the same device code after that: it will never get tokens with it, and a loop like this usually means the client does not handle the end of the flow.",
    "Stop polling when the token endpoint answers anything but `authorization_pending` or `slow_down`; on `expired_token` start a new device authorization and show the user the new code.",
    "token poll → 400 expired_token; the same device_code polled again → expired_token",
    "checklist step 1; RFC 8628 §3.5"
);
rule!(
    DEVICE_CODE_EXPIRED,
    "device-code-expired",
    Medium,
    Cause,
    Some("1"),
    "device code expired before the sign-in completed",
    "In the device flow the user must open the verification URL and enter (or confirm) the user code before the device code's `expires_in` runs out; until then the client's polls are answered `authorization_pending`. Here the code ran out first and the token endpoint answered `expired_token`: the sign-in failed. Usually the user was not shown the code in time or not prominently, gave up, or needed longer than the code lives; or the client started polling only after the code's lifetime.",
    "Show the verification URL and user code at once and prominently (with `verification_uri_complete` as a link or QR code) and start polling right away; on `expired_token` start a new device authorization and show the new code; if users need longer, ask the provider for a longer `expires_in`.",
    "POST /device_authorization → {expires_in: 600}; polls → authorization_pending …; poll at +600 s → 400 expired_token",
    "checklist step 1; RFC 8628 §3.2, §3.5"
);
rule!(
    CLIENT_ASSERTION,
    "client-assertion",
    High,
    Cause,
    Some("1"),
    "JWT client assertion the token endpoint must refuse",
    "With `private_key_jwt` or `client_secret_jwt` the client proves who it is with a signed JWT, the client assertion, and the server checks its claims before the signature: `iss` and `sub` are the client id, `aud` names the token endpoint (or the issuer), `exp` is near, `jti` is fresh. This assertion breaks one of those rules, and servers answer `invalid_client`.",
    "Build the assertion with `iss` = `sub` = the client id, `aud` = the token endpoint URL from the discovery document, `exp` a few minutes ahead, and a new random `jti` for every request.",
    "client_assertion claims {iss: app, sub: app, aud: https://as.example/, exp: +1 d}",
    "checklist step 1; RFC 7523 §3, RFC 7521 §5.2, OpenID Connect Core §9"
);
rule!(
    DPOP_PROOF,
    "dpop-proof",
    High,
    Cause,
    Some("2"),
    "DPoP proof that does not fit its request",
    "A DPoP-bound token is only good with a fresh proof: a JWT of type `dpop+jwt`, signed by the key in its own `jwk` header, naming the request's method (`htm`) and URL without query (`htu`), issued now (`iat`), never reused (`jti`), and for an API call carrying `ath`, the hash of the access token, signed with the very key the token was bound to at the token endpoint (`cnf.jkt`). This proof gets one of them wrong, and servers refuse it with `invalid_dpop_proof`.",
    "Make a new proof for every request, from the request actually sent: its method, its URL without query or fragment, the current time, a new `jti`, and `ath` = base64url(SHA-256(access token)) on API calls; keep the key a token was issued to for as long as the token is used (a client that makes a new key must get a new token).",
    "DPoP proof {htm: GET, htu: https://api.example/v1/me?x=1} on POST https://api.example/v1/orders",
    "checklist step 2; RFC 9449 §4.2, §4.3, §7"
);
rule!(
    DPOP_NONCE_IGNORED,
    "dpop-nonce-ignored",
    Medium,
    Cause,
    Some("2"),
    "server's DPoP nonce left out of the next proof",
    "A server may demand that proofs carry a nonce it chooses: it answers `use_dpop_nonce` with the nonce in a `DPoP-Nonce` header, and the client must retry with that value in the proof's `nonce` claim. The next proof to that server left it out (or sent another), so it is refused again.",
    "Read `DPoP-Nonce` from every answer (token endpoint and API alike) and put the newest value into the next proof for that server; retry once after `use_dpop_nonce`.",
    "401 WWW-Authenticate: DPoP error=\"use_dpop_nonce\", DPoP-Nonce: eyJ7S…; retry proof without `nonce`",
    "checklist step 2; RFC 9449 §8, §9"
);
rule!(
    DPOP_BOUND_AS_BEARER,
    "dpop-bound-as-bearer",
    High,
    Cause,
    Some("2"),
    "DPoP-bound access token sent with the Bearer scheme",
    "The token endpoint bound the access token to the client's key (`token_type: DPoP`). Such a token must be sent as `Authorization: DPoP <token>` with a proof; sent as `Bearer` it is refused (or, by a server that does not check binding, accepted as a plain bearer token, which defeats the binding).",
    "Send DPoP-bound tokens as `Authorization: DPoP <token>` together with a `DPoP` proof header; use `Bearer` only for `token_type: Bearer`.",
    "token response {token_type: DPoP}; GET /api with Authorization: Bearer eyJ… → 401",
    "checklist step 2; RFC 9449 §7.1"
);
rule!(
    MTLS_BOUND_TOKEN,
    "mtls-bound-token",
    High,
    Cause,
    Some("2"),
    "certificate-bound access token sent without its client certificate",
    "The access token is bound to a client certificate (RFC 8705): its `cnf` claim names the certificate (`x5t#S256`), or the server's metadata says it binds access tokens (`tls_client_certificate_bound_access_tokens`) and the token request presented a certificate. The server bound it to the certificate the client presented at the token endpoint, and a resource server accepts it only over a TLS connection where the client presents that same certificate. This call presented none, or another one, and is refused with `invalid_token` (or, by a server that does not check binding, accepted, which defeats the binding).",
    "Make the client present the certificate it used at the token endpoint on every API call with that token (configure its TLS client identity for the API host too, not only for the token endpoint). Behind this proxy, give it the certificate and key with --client-identity so it can present the same certificate to the server.",
    "POST /token over TLS with certificate x5t#S256=1a2b… → {access_token: {cnf: {x5t#S256: 1a2b…}}}; GET /api with no client certificate → 401 invalid_token",
    "checklist step 2; RFC 8705 §3"
);
rule!(
    PAR_REQUEST_URI,
    "par-request-uri",
    Medium,
    Cause,
    None,
    "pushed authorization request used twice, or after it expired",
    "With a pushed authorization request (RFC 9126) the client first POSTs the authorize parameters and gets a `request_uri` with a short lifetime (`expires_in`, often 60 s or less); the browser then opens the authorize endpoint with only `client_id` and that `request_uri`. A `request_uri` is good for one authorization request and only until it expires: a browser sent there twice (a retry, a back button, a link kept from an earlier sign-in) or too late is refused with `invalid_request_uri`, and the sign-in never reaches the login page.",
    "Push the authorize parameters afresh for every sign-in attempt and send the browser at once; never cache or reuse a `request_uri`.",
    "POST /par → {request_uri: urn:…:abc, expires_in: 60}; GET /authorize?request_uri=urn:…:abc (twice) → 400 invalid_request_uri",
    "RFC 9126 §2.2, §4"
);
rule!(
    RESOURCE_MISMATCH,
    "resource-mismatch",
    High,
    Cause,
    Some("2"),
    "access token for another resource than the API expects",
    "The API refused the call and named the resource (audience) its tokens must be for (`resource_id` or `resource` in `WWW-Authenticate`, as Microsoft's APIs do), and the access token is for another one: its `aud`, or the `resource` / `audience` the token request asked for (RFC 8707). A token is only good at the resource it was issued for, so every call with it fails however fresh it is.",
    "Request the token for this API: send the resource the API names as `resource` (RFC 8707; Microsoft Entra v1 `resource`, v2 a scope `<resource>/.default`; Auth0 `audience`) on the authorize and token requests, and use one token per API.",
    "POST /token resource=https://graph.example → AT {aud: https://graph.example}; GET https://api.example/v1 → 401 WWW-Authenticate: Bearer resource_id=\"https://api.example\"",
    "checklist step 2; RFC 8707 §2; RFC 6750 §3"
);
rule!(
    USERINFO_SUB_MISMATCH,
    "userinfo-sub-mismatch",
    High,
    Cause,
    Some("1"),
    "userinfo answered for another subject than the ID token",
    "The userinfo endpoint, called with the access token issued beside the ID token, names another `sub` than the ID token. A client must not use such an answer (it may belong to another user, or the provider mixes up subject identifiers, e.g. pairwise vs public), and a client that checks, as it must, fails the sign-in.",
    "Call userinfo with the access token issued in the same token response as the ID token; if the provider uses pairwise subjects, make sure both come from the same client registration; otherwise report it to the provider.",
    "id_token {sub: fp:1a2b…}; GET /userinfo → {sub: fp:9f8e…}",
    "checklist step 1; OpenID Connect Core §5.3.2"
);
rule!(
    TOKEN_EXCHANGE_REQUEST,
    "token-exchange-request",
    High,
    Cause,
    Some("1"),
    "token exchange that RFC 8693 does not allow",
    "A token exchange (`grant_type=urn:ietf:params:oauth:grant-type:token-exchange`) must name the token it trades (`subject_token`) and its type as a URI (`subject_token_type`, e.g. `urn:ietf:params:oauth:token-type:access_token`, not `access_token`); `actor_token` and `actor_token_type` go together; the answer names what it issued (`issued_token_type`); when the subject token says who may act for its subject (`may_act`), the actor token is that party's. This exchange breaks one of those rules, and servers answer `invalid_request` (or refuse the actor).",
    "Send `subject_token` with its full token type URI (`urn:ietf:params:oauth:token-type:access_token`, `...:jwt`, `...:id_token`), the actor token only with its type (and for the party the subject token's `may_act` names), and expect `issued_token_type` in the answer.",
    "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token=eyJ…&subject_token_type=access_token → 400 invalid_request",
    "checklist step 1; RFC 8693 §2.1, §2.2.1, §3, §4.4"
);
rule!(
    BEARER_SCHEME,
    "bearer-scheme",
    High,
    Cause,
    Some("2"),
    "access token sent with the wrong Authorization scheme",
    "The token was in the Authorization header, but behind a scheme other than `Bearer` (`Token`, `OAuth`, `JWT`, a bare token, `Bearer Bearer`). APIs that follow RFC 6750 reject it with 401.",
    "Send exactly `Authorization: Bearer <access token>`: one `Bearer` prefix, one space, the token.",
    "Authorization: Token eyJhbGciOi… → 401",
    "checklist step 2; RFC 6750 §2.1"
);
rule!(
    TOKEN_IN_URL,
    "token-in-url",
    High,
    Cause,
    Some("2"),
    "access token sent outside the Authorization header",
    "The access token travelled as `?access_token=` or in a form body. It leaks into logs and browser history, and many APIs ignore it there.",
    "Send the token in `Authorization: Bearer <token>`.",
    "GET /api/items?access_token=…",
    "checklist step 2; RFC 6750 §2.2, §5.3"
);
rule!(
    REFRESH_TOKEN_ABSENT,
    "refresh-token-absent",
    High,
    Cause,
    Some("1"),
    "the access token expires but no refresh token was issued",
    "The token response gave an access token with a lifetime (`expires_in` or a JWT `exp`) and no `refresh_token`. When the access token expires the connection cannot renew itself and fails: symptom (a) of the checklist, a failure after a consistent time.",
    "Ask for a refresh token (`offline_access` scope, `access_type=offline`, `token_access_type=offline`, depending on the provider) and enable refresh tokens for the app registration.",
    "POST /token → 200 {\"access_token\":…,\"expires_in\":3600} (no refresh_token)",
    "checklist step 1; RFC 6749 §5.1"
);
rule!(
    OFFLINE_ACCESS_MISSING,
    "offline-access-missing",
    Medium,
    Cause,
    Some("1"),
    "the refresh token was never asked for",
    "The provider issues refresh tokens only when asked (`offline_access`, `access_type=offline`, `token_access_type=offline`) and the authorize or token request did not ask.",
    "Add the provider's offline parameter or scope to the authorize request.",
    "GET /authorize?scope=openid%20profile (no offline_access) → no refresh_token",
    "provider documentation"
);
rule!(
    TOKEN_EXPIRED_USED,
    "token-expired-used",
    Medium,
    Cause,
    Some("a"),
    "an access token sent after it expired",
    "The request carried an access token past its expiry (issue time + `expires_in`, the JWT `exp`, Salesforce's `issued_at` plus the session lifetime, or the expiry the API itself stated in a 401). The client should have refreshed first.",
    "Refresh the access token before it expires (or on the first 401 `invalid_token`), then retry with the new token.",
    "token issued at 0 s with expires_in=3600, sent at 3700 s → 401 invalid_token",
    "RFC 6749 §5.1"
);
rule!(
    FAILS_AFTER_INTERVAL,
    "fails-after-interval",
    High,
    Symptom,
    Some("a"),
    "the connection fails a consistent time after each sign-in or refresh",
    "API calls start failing the same time after each token was issued (about the token lifetime, or 7 or 90 days): symptom (a) of the checklist. The cause is what keeps the client from using a fresh token: no refresh token, a refresh that fails, or an old token kept after refreshing.",
    "Follow the cause this finding is linked to; without one, compare the time with `expires_in` and check that the client refreshes and then uses the new token.",
    "sign-in at 0 s, first 401 at 3600 s; sign-in at 4000 s, first 401 at 7600 s",
    "checklist symptom a"
);
rule!(
    STALE_TOKEN_USED,
    "stale-token-used",
    High,
    Cause,
    Some("4"),
    "an older access token still sent after a refresh issued a newer one",
    "A refresh returned a new access token, but the client kept sending the old one. The API works until the old token expires, then fails although the refresh succeeded.",
    "After each refresh, replace the cached access token (and refresh token, if a new one came) before the next API call.",
    "refresh → new token fp:B; GET /api with fp:A → 401",
    "checklist step 4"
);
rule!(
    REFRESH_URL_MISMATCH,
    "refresh-url-mismatch",
    Medium,
    Cause,
    Some("5"),
    "the refresh went to a different URL than the code exchange",
    "The refresh token was posted to another URL than the one that issued it (or than the connector's refresh URL). That endpoint usually answers 404 or an error, so every refresh fails and the connection dies when the first access token expires.",
    "Set the refresh URL to the token URL (in a custom connector, leave the refresh URL empty or equal to the token URL).",
    "code exchange POST /oauth/token; refresh POST /other/token → 404",
    "checklist step 5"
);
rule!(
    TOKEN_URL_MISMATCH,
    "token-url-mismatch",
    Medium,
    Cause,
    Some("5"),
    "token request sent to another URL than declared",
    "The token request went to a URL other than the connector's token URL or the one the discovery document names.",
    "Use the token endpoint from the provider's discovery document in the connector.",
    "discovery token_endpoint https://as/oauth2/token; POST https://as/token",
    "checklist step 5"
);
rule!(
    CLIENT_ID_MISMATCH,
    "client-id-mismatch",
    High,
    Cause,
    Some("5"),
    "client id differs between requests",
    "The code exchange and the refresh (or the connector) name different client ids. Tokens are bound to the client that obtained them, so the server answers `invalid_client` or `invalid_grant`.",
    "Use the same client id everywhere: in the authorize request, the code exchange, the refresh and the connector.",
    "code exchange client_id=app-1; refresh client_id=app-2 → 400 invalid_grant",
    "checklist step 5"
);
rule!(
    CLIENT_SECRET_MISMATCH,
    "client-secret-mismatch",
    High,
    Cause,
    Some("5"),
    "client secret differs between requests, or is missing on one",
    "The client authenticated with different secrets (compared by fingerprint) on the code exchange and the refresh, or sent one only on the first. The server refuses the request with the wrong or missing secret with `invalid_client`.",
    "Use the same, current client secret for every token request; after rotating it, update every place that stores it.",
    "code exchange secret fp:A; refresh secret fp:B → 401 invalid_client",
    "checklist step 5"
);
rule!(
    CLIENT_AUTH_METHOD_MISMATCH,
    "client-auth-method-mismatch",
    Medium,
    Cause,
    Some("5"),
    "the client authenticates differently between requests",
    "One token request used HTTP Basic, another put the secret in the form body (or used a method the server's metadata does not list). Servers accept only the method registered for the client.",
    "Use one client authentication method, the one the server lists in `token_endpoint_auth_methods_supported` for this client.",
    "code exchange Authorization: Basic …; refresh client_secret=… in the body",
    "RFC 6749 §2.3.1; RFC 8414"
);
rule!(
    BASIC_NOT_FORM_ENCODED,
    "basic-not-form-encoded",
    Medium,
    Cause,
    Some("5"),
    "Basic credentials not form-urlencoded before base64",
    "RFC 6749 requires the client id and secret to be form-urlencoded before they are joined by `:` and base64-encoded. A secret with reserved characters (`+`, `/`, `:`, `%`) sent raw decodes to another value at the server.",
    "Form-urlencode the client id and secret, then join with `:` and base64-encode.",
    "Basic base64(\"app:s3cr+t/x\") → 401 invalid_client",
    "RFC 6749 §2.3.1"
);
rule!(
    REDIRECT_URI_MISMATCH,
    "redirect-uri-mismatch",
    High,
    Cause,
    Some("5"),
    "redirect_uri differs between authorize and token request",
    "The token request must send the very `redirect_uri` of the authorize request, byte for byte (and the one registered for the client). Otherwise the server answers `invalid_grant`.",
    "Send the same redirect URI in both requests, and register exactly that URI.",
    "authorize redirect_uri=https://app/cb; token redirect_uri=https://app/cb/ → 400 invalid_grant",
    "RFC 6749 §4.1.3"
);
rule!(
    GRANT_UNSUPPORTED,
    "grant-unsupported",
    High,
    Cause,
    Some("limitation"),
    "a grant other than the authorization code grant",
    "Custom connectors support only the authorization code grant (with refresh). Client credentials, password and implicit flows cannot be configured. (The device flow, token exchange and JWT bearer grants belong to headless and server clients; they are checked by their own rules, not flagged here.)",
    "Register the app for the authorization code grant and use it.",
    "POST /token grant_type=client_credentials",
    "checklist limitation"
);
rule!(
    REFRESH_ROTATION_IGNORED,
    "refresh-rotation-ignored",
    High,
    Cause,
    Some("3"),
    "a new refresh token was issued but the client keeps sending the old one",
    "The server rotates refresh tokens: each refresh returns a new one and invalidates the old. The client sent the old one again, so the refresh fails with `invalid_grant` (and Okta or Auth0 revoke the whole token family).",
    "Store the refresh token from every refresh response, replacing the old one, before the next refresh.",
    "refresh with R1 → 200 refresh_token=R2; refresh with R1 → 400 invalid_grant",
    "RFC 6749 §6; RFC 9700"
);
rule!(
    REFRESH_RACE,
    "refresh-race",
    Medium,
    Cause,
    Some("3"),
    "two refreshes with the same refresh token at once",
    "Two requests refreshed with the same refresh token within seconds. With rotation only the first wins; the second gets `invalid_grant` and may revoke the family.",
    "Serialize refreshes: one refresh at a time per connection, the others wait for its result.",
    "two POST /token grant_type=refresh_token with fp:R1 at 10.1 s and 10.2 s; one → 400",
    "rotation documentation (Okta, Auth0)"
);
rule!(
    CODE_REUSED,
    "code-reused",
    Medium,
    Cause,
    Some("1"),
    "an authorization code exchanged twice, or long after it was issued",
    "Authorization codes are single-use and short-lived (minutes). A second exchange or a late one is refused with `invalid_grant` (Microsoft: AADSTS54005).",
    "Exchange each code once, right after the redirect; do not retry a code exchange with the same code.",
    "POST /token code=fp:C → 200; POST /token code=fp:C → 400 invalid_grant",
    "RFC 6749 §4.1.2"
);
rule!(
    TOKEN_RESPONSE_FORMAT,
    "token-response-format",
    High,
    Cause,
    Some("1"),
    "the token response is not what OAuth clients expect",
    "The token response is not JSON (GitHub answers form-encoded without `Accept: application/json`), lacks `access_token` or `token_type`, names a type other than bearer, or sends `expires_in` as a string. Strict clients fail to read it.",
    "Send `Accept: application/json` on token requests; fix the server's response to RFC 6749 §5.1.",
    "POST /login/oauth/access_token → 200 text/plain access_token=…&scope=…",
    "RFC 6749 §5.1"
);
rule!(
    TOKEN_RESPONSE_CACHEABLE,
    "token-response-cacheable",
    Low,
    Cause,
    None,
    "token response may be cached",
    "A token response must carry `Cache-Control: no-store` so no proxy or browser keeps the token.",
    "Send `Cache-Control: no-store` on token responses.",
    "POST /token → 200 without Cache-Control",
    "RFC 6749 §5.1"
);
rule!(
    TOKEN_ERROR,
    "token-error",
    High,
    Symptom,
    Some("1"),
    "the token endpoint refused the request",
    "The token endpoint answered with an OAuth error (`invalid_client`, `invalid_grant`, ...; also GitHub's 200 with an `error` body and Microsoft's AADSTS codes) or with no OAuth error at all (a 404 or an HTML page). The cause is usually one of the linked findings; without one, the error code says where to look.",
    "Follow the linked cause; otherwise read the error description and the provider's meaning of the code.",
    "POST /token → 400 {\"error\":\"invalid_grant\"}",
    "RFC 6749 §5.2"
);
rule!(
    API_REJECTED,
    "api-rejected",
    High,
    Symptom,
    Some("b"),
    "the API refused the call",
    "The API answered 401 or 403, usually with `WWW-Authenticate: Bearer error=\"invalid_token\"` or `insufficient_scope`: symptom (b) of the checklist. The cause is the linked finding (a missing header, an expired, stale or revoked token, a token for another audience, clock skew); without one, the challenge says where to look.",
    "Follow the linked cause; otherwise decode the token (claims `aud`, `exp`, `scp`) and compare with what the API expects.",
    "GET /api → 401 WWW-Authenticate: Bearer error=\"invalid_token\"",
    "checklist symptom b; RFC 6750 §3"
);
rule!(
    JWT_CLAIMS,
    "jwt-claims",
    Medium,
    Cause,
    Some("4"),
    "a JWT access token that does not fit where or when it was used",
    "The token's claims (decoded, signature not checked) do not fit the request: `exp` passed, `nbf` not reached, `aud` names another API, or `iss` another server. The API rejects it.",
    "Request the token for this API (the `resource`, `audience` or scope that yields the right `aud`), and use it within its lifetime.",
    "token aud=https://other.api; GET https://api.example → 401",
    "RFC 9068"
);
rule!(
    CLOCK_SKEW,
    "clock-skew",
    Low,
    Cause,
    None,
    "clocks disagree by minutes",
    "Date headers, a JWT `iat` or the capture clock disagree by more than a minute. A server whose clock runs ahead sees fresh tokens as not yet valid or already expired.",
    "Synchronize clocks (NTP) on the client and the servers; allow a little leeway when validating tokens.",
    "token iat 300 s after the capture's clock; API Date header 5 min ahead",
    "RFC 9068 §4"
);
rule!(
    STATE_MISSING,
    "state-missing",
    Medium,
    Cause,
    None,
    "authorize without `state`, or the callback's `state` differs",
    "Without `state`, or when the client accepts a redirect whose `state` differs from the one it sent, a forged callback can plant another account's code (CSRF).",
    "Send a random `state` with each authorize request and refuse a callback whose `state` differs.",
    "authorize state=abc; callback state=xyz; the code is exchanged anyway",
    "RFC 6749 §10.12"
);
rule!(
    PKCE_MISSING,
    "pkce-missing",
    Medium,
    Cause,
    None,
    "no PKCE, PKCE `plain`, or a verifier that does not match",
    "The authorize request had no `code_challenge`, used `plain`, or the token request's `code_verifier` does not hash to the challenge (then the server answers `invalid_grant`).",
    "Use PKCE with S256 and send the verifier that belongs to this authorize request.",
    "authorize code_challenge=X (S256); token code_verifier hashes to Y → 400 invalid_grant",
    "RFC 7636; RFC 9700"
);
rule!(
    SECRET_IN_URL,
    "secret-in-url",
    High,
    Cause,
    None,
    "a secret in a URL",
    "A client secret, refresh token, access token or code verifier travelled in a query string, where logs, proxies and browser history keep it.",
    "Send secrets in the request body or the Authorization header, never in the URL.",
    "POST /token?client_secret=…",
    "RFC 6749 §2.3.1"
);
rule!(
    PLAIN_HTTP,
    "plain-http",
    Critical,
    Cause,
    None,
    "an OAuth or API endpoint over plain HTTP",
    "An authorize, token or API endpoint (possibly learned from an HTTPS discovery document) was used over http:// to a non-loopback host: credentials and tokens cross the network in clear.",
    "Use https:// for every endpoint; fix the discovery document if it names http:// endpoints.",
    "POST http://as.example/token with Authorization: Basic …",
    "RFC 6749 §3.1, §10.9"
);
rule!(
    SCOPE_CHANGE,
    "scope-change",
    Medium,
    Cause,
    Some("3"),
    "scope changes between steps or differs from the connector's",
    "The scope granted differs from the one asked, a refresh asked for more, or the connector's scopes differ from what the flow used. Calls then fail with `insufficient_scope` or the refresh is refused with `invalid_scope`.",
    "Ask for the same scopes throughout; a refresh may narrow but not widen them.",
    "authorize scope=read; refresh scope=read write → 400 invalid_scope",
    "RFC 6749 §3.3, §6"
);
rule!(
    METADATA_MISMATCH,
    "metadata-mismatch",
    Info,
    Cause,
    Some("5"),
    "behaviour disagrees with the discovery document",
    "The flow used an endpoint, grant or method other than the captured discovery document (`/.well-known/...`) lists.",
    "Take endpoints and methods from the discovery document.",
    "metadata token_endpoint_auth_methods_supported=[client_secret_post]; Basic used",
    "RFC 8414"
);
rule!(
    REVOKED_TOKEN_USED,
    "revoked-token-used",
    Info,
    Cause,
    None,
    "a token used after it was revoked or reported inactive",
    "The token was revoked (RFC 7009), or an introspection (RFC 7662) answered `active: false` for it, and the client sent it again; the API rejects it.",
    "After revoking, or when introspection says a token is no longer active, drop it from the connection's cache and refresh or sign in again.",
    "POST /revoke token=fp:A; GET /api with fp:A → 401",
    "RFC 7009, RFC 7662"
);
rule!(
    CONNECTOR_TEMPLATE,
    "connector-template",
    Medium,
    Cause,
    Some("5"),
    "a connector template placeholder the platform does not fill",
    "A generic OAuth connector template uses a placeholder the platform does not know, or a template the platform cannot send.",
    "Use only the documented placeholders ({ClientId} {ClientSecret} {RedirectUrl} {Scopes} {State} {Code} {RefreshToken}).",
    "tokenBodyTemplate: code={AuthCode}",
    "Power Platform oauth2generic"
);
rule!(
    REDIRECT_MODE,
    "redirect-mode",
    Info,
    Cause,
    Some("5"),
    "the connector's redirect mode and redirect URL",
    "The connector's redirect mode decides which redirect URL the platform sends; the app registration must list exactly that one.",
    "Register the connector's redirect URL with the provider.",
    "redirectMode: GlobalPerConnector",
    "Power Platform custom connectors"
);

/// Every rule, in the order `oauthscope rules` lists them.
pub const CATALOG: &[&Rule] = &[
    &BEARER_MISSING,
    &BEARER_SCHEME,
    &ID_TOKEN_AS_BEARER,
    &TOKEN_IN_URL,
    &REFRESH_TOKEN_ABSENT,
    &OFFLINE_ACCESS_MISSING,
    &TOKEN_EXPIRED_USED,
    &FAILS_AFTER_INTERVAL,
    &STALE_TOKEN_USED,
    &REFRESH_URL_MISMATCH,
    &TOKEN_URL_MISMATCH,
    &CLIENT_ID_MISMATCH,
    &CLIENT_SECRET_MISMATCH,
    &CLIENT_AUTH_METHOD_MISMATCH,
    &BASIC_NOT_FORM_ENCODED,
    &REDIRECT_URI_MISMATCH,
    &GRANT_UNSUPPORTED,
    &REFRESH_ROTATION_IGNORED,
    &REFRESH_RACE,
    &CODE_REUSED,
    &TOKEN_RESPONSE_FORMAT,
    &TOKEN_RESPONSE_CACHEABLE,
    &TOKEN_ERROR,
    &API_REJECTED,
    &JWT_CLAIMS,
    &ID_TOKEN_CLAIMS,
    &ID_TOKEN_SIGNATURE,
    &USERINFO_SUB_MISMATCH,
    &TOKEN_TYPE_CASE,
    &DEVICE_POLL_TOO_FAST,
    &DEVICE_POLL_AFTER_END,
    &DEVICE_CODE_EXPIRED,
    &CLIENT_ASSERTION,
    &TOKEN_EXCHANGE_REQUEST,
    &DPOP_PROOF,
    &DPOP_NONCE_IGNORED,
    &DPOP_BOUND_AS_BEARER,
    &MTLS_BOUND_TOKEN,
    &RESOURCE_MISMATCH,
    &EXPIRES_IN_INVALID,
    &CLOCK_SKEW,
    &PAR_REQUEST_URI,
    &STATE_MISSING,
    &PKCE_MISSING,
    &SECRET_IN_URL,
    &PLAIN_HTTP,
    &SCOPE_CHANGE,
    &METADATA_MISMATCH,
    &REVOKED_TOKEN_USED,
    &CONNECTOR_TEMPLATE,
    &REDIRECT_MODE,
];

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    CATALOG.iter().copied().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for r in CATALOG {
            assert!(seen.insert(r.id), "duplicate rule {}", r.id);
            assert!(
                r.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                r.id
            );
            assert!(!r.explanation.is_empty() && !r.fix.is_empty());
        }
        assert_eq!(
            rule("plain-http").map(|r| r.severity),
            Some(Severity::Critical)
        );
        assert!(rule("no-such-rule").is_none());
    }
}

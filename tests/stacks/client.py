"""The second test bed's connector: Authlib's OAuth 2.0 client (a library we did not
write) signing in at oidc-provider through a proxy, then calling the userinfo API,
refreshing, and doing one thing wrong per scenario.

usage: client.py SCENARIO ISSUER PROXY_URL PROXY_CA.pem
Exits 0 when the flow went as the scenario stages it (including the failures it stages).
"""
import os
import re
import sys
import time

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from authlib.common.security import generate_token

SCENARIO, ISSUER, PROXY, CA = sys.argv[1:5]
CLIENT_ID, SECRET = "stack-app", "stack-secret-Value_1"
REDIRECT = ISSUER + "/cb"


def http():
    return httpx.Client(proxy=PROXY, verify=CA, follow_redirects=False, timeout=30)


def browser(url):
    """Play the user: follow redirects, sign in on the provider's login form, and stop at
    the redirect back to the client (followed once, as a browser would)."""
    b = http()
    for _ in range(20):
        r = b.get(url)
        if r.status_code in (302, 303):
            url = httpx.URL(str(r.url)).join(r.headers["location"]).__str__()
            if url.startswith(REDIRECT):
                b.get(url)  # the callback request, as a browser sends it
                return url
            continue
        form = re.search(r'<form[^>]*action="([^"]+)"', r.text)
        assert form, (r.status_code, r.text[:300])
        action = httpx.URL(str(r.url)).join(form.group(1)).__str__()
        fields = {}
        for tag in re.findall(r"<input[^>]*>", r.text):
            name = re.search(r'name="([^"]+)"', tag)
            value = re.search(r'value="([^"]*)"', tag)
            if name:
                fields[name.group(1)] = value.group(1) if value else ""
        if "login" in fields:
            fields.update(login="user-1", password="any")
        r = b.post(action, data=fields)
        assert r.status_code in (302, 303), (r.status_code, r.text[:300])
        url = httpx.URL(str(r.url)).join(r.headers["location"]).__str__()
    raise AssertionError("no redirect back to the client")


def client(**kw):
    return OAuth2Client(
        kw.pop("client_id", CLIENT_ID),
        kw.pop("client_secret", SECRET),
        scope=kw.pop("scope", "openid offline_access"),
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        proxy=PROXY,
        verify=CA,
        timeout=30,
        **kw,
    )


def sign_in(c, meta, verifier=None, exchange_verifier=None):
    verifier = verifier or generate_token(48)
    url, state = c.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, prompt="consent"
    )
    back = browser(url)
    return c.fetch_token(
        meta["token_endpoint"],
        authorization_response=back,
        code_verifier=exchange_verifier or verifier,
        state=state,
    ), back


def main():
    meta = http().get(ISSUER + "/.well-known/openid-configuration").json()
    userinfo = meta["userinfo_endpoint"]
    c = client()
    if SCENARIO == "healthy":
        token, _ = sign_in(c, meta)
        # Validate the ID token as a relying party does: the provider's keys, its claims.
        from joserfc import jwt as jose_jwt
        from joserfc.jwk import KeySet

        keys = KeySet.import_key_set(c.get(meta["jwks_uri"]).json())
        algs = meta.get("id_token_signing_alg_values_supported", ["RS256"])
        decoded = jose_jwt.decode(token["id_token"], keys, algorithms=algs)
        assert decoded.claims["aud"] == CLIENT_ID, decoded.claims
        assert c.get(userinfo).status_code == 200
        c.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
        assert c.get(userinfo).status_code == 200
    elif SCENARIO == "no-bearer":
        sign_in(c, meta)
        r = http().get(userinfo)
        assert r.status_code in (400, 401), r.status_code
    elif SCENARIO == "refresh-wrong-url":
        token, _ = sign_in(c, meta)
        assert c.get(userinfo).status_code == 200
        try:
            c.refresh_token(
                meta["token_endpoint"] + "/refresh", refresh_token=token["refresh_token"]
            )
            raise AssertionError("refresh at a wrong URL worked")
        except AssertionError:
            raise
        except Exception:
            pass
    elif SCENARIO == "rotation-ignored":
        token, _ = sign_in(c, meta)
        old = token["refresh_token"]
        c.refresh_token(meta["token_endpoint"], refresh_token=old)
        try:
            client().refresh_token(meta["token_endpoint"], refresh_token=old)
            raise AssertionError("the rotated refresh token was accepted")
        except AssertionError:
            raise
        except Exception:
            pass
    elif SCENARIO == "code-reused":
        token, back = sign_in(c, meta)
        try:
            client().fetch_token(meta["token_endpoint"], authorization_response=back)
            raise AssertionError("a used code was accepted")
        except AssertionError:
            raise
        except Exception:
            pass
    elif SCENARIO == "pkce-mismatch":
        try:
            sign_in(c, meta, exchange_verifier=generate_token(48))
            raise AssertionError("a wrong PKCE verifier was accepted")
        except AssertionError:
            raise
        except Exception:
            pass
    elif SCENARIO == "expired-no-refresh":
        c = client(scope="openid")
        token, _ = sign_in(c, meta)
        assert "refresh_token" not in token
        bearer = {"authorization": "Bearer " + token["access_token"]}
        assert http().get(userinfo, headers=bearer).status_code == 200
        time.sleep(3.5)
        # A connector that keeps its token past `expires_in` (Authlib itself would
        # refuse to send it).
        r = http().get(userinfo, headers=bearer)
        assert r.status_code == 401, r.status_code
    elif SCENARIO == "wrong-secret-refresh":
        token, _ = sign_in(c, meta)
        other = OAuth2Client(
            CLIENT_ID, "an-old-secret", proxy=PROXY, verify=CA, timeout=30
        )
        try:
            other.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
            raise AssertionError("a wrong secret was accepted")
        except AssertionError:
            raise
        except Exception:
            pass
    elif SCENARIO.startswith("jwt-"):
        # private_key_jwt: Authlib signs a client assertion with the registered key.
        from authlib.oauth2.rfc7523 import PrivateKeyJWT

        audience = meta["token_endpoint"]
        claims = None
        if SCENARIO == "jwt-wrong-aud":
            audience = ISSUER + "/token-endpoint-of-another-tenant"
        if SCENARIO == "jwt-jti-reused":
            claims = {"jti": generate_token(16)}  # the same on every request
        with open(os.environ["STACK_CLIENT_KEY"]) as f:
            key = f.read()
        c = client(
            client_id="stack-jwt-app",
            client_secret=key,
            token_endpoint_auth_method="private_key_jwt",
        )
        c.register_client_auth_method(PrivateKeyJWT(audience, claims=claims))
        if SCENARIO == "jwt-wrong-aud":
            try:
                sign_in(c, meta)
                raise AssertionError("an assertion for another audience was accepted")
            except AssertionError:
                raise
            except Exception:
                pass
        else:
            token, _ = sign_in(c, meta)
            assert c.get(userinfo).status_code == 200
            refreshed = False
            try:
                c.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
                refreshed = True
            except Exception:
                pass
            assert refreshed == (SCENARIO == "jwt-healthy"), SCENARIO
    else:
        raise SystemExit(f"no scenario {SCENARIO}")


main()

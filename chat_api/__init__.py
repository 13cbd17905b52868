"""The HTTP API: search, chat with cited answers, conversations, feedback, assets.

Run it with `labsearch serve` (or `labsearch demo`); OpenAPI at /docs and /openapi.json.

- Sign in with `X-API-Key: <key>` or `Authorization: Bearer <API key | JWT>`; JWTs are HS256
  (LABSEARCH_JWT_SECRET) or signed by LABSEARCH_OIDC_ISSUER's keys. /v1/healthz, /v1/readyz and
  /v1/auth/config are open; every other route answers 401 without valid credentials.
- Errors are JSON `{"error": <class>, "detail": <what to do>}` with the status of the error class
  in labsearch/errors.py (400 bad input, 401, 404 missing or not yours, 413, 429, 5xx).
- `POST /v1/chat` with `"stream": true` sends Server-Sent Events: `result` (the retriever's
  structured entity result, when the question asks for a list), `provisional` ({"text"}: a
  model's unchecked text), `token` ({"text"}: checked text), `retract` ({"text", "reason"}: a
  generated sentence its citations do not support), `citation` (one verified Citation each),
  `done` (the JSON response plus `replaced`), or `error`.
- Asset ids contain '/', ':' and '#': percent-encode them in paths (`quote(id, safe="")`).
"""

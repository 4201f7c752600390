"""Credentials the gateway holds for subscription upstreams.

* ``chatgpt`` — the ChatGPT / Codex sign-in kept in Codex's ``auth.json``: reading it, the
  access token's expiry, refreshing it through the OAuth token endpoint (one refresh at a time
  per file, written back atomically with 0600 permissions).
* ``pkce`` — the OAuth 2.0 authorization-code flow with PKCE that ``wirebridge login chatgpt``
  runs: challenge, authorize URL, the local callback server, the code exchange.

Nothing here knows about HTTP front doors or hub events; the ``chatgpt`` upstream adapter
(``upstreams/codex``) and the CLI use it.
"""

"""Credentials: the keys clients present to the gateway, and those the gateway presents upstream.

Clients → gateway:

* ``keys`` — managed client keys (``wirebridge keys``); ``static`` — keys given in the config
  or on the command line; ``middleware`` — where requests are checked against them.

Gateway → subscription upstreams:

* ``chatgpt`` — the ChatGPT / Codex sign-in kept in Codex's ``auth.json``: reading it, the
  access token's expiry, refreshing it through the OAuth token endpoint (one refresh at a time
  per file, written back atomically with 0600 permissions).
* ``pkce`` — the OAuth 2.0 authorization-code flow with PKCE that ``wirebridge login chatgpt``
  runs: challenge, authorize URL, the local callback server, the code exchange.
"""

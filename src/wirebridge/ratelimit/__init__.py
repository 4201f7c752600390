"""Rate limits: requests per minute and per day per client key and per client address, tokens
per minute per key (``server.rate_limits``; a managed key's own limits replace ``per_key``).

* ``settings`` — the config section, parsed (imported by ``config.load``: keep it light).
* ``limiter`` — which limits a request counts against, admission and refusal, the
  ``x-ratelimit-*`` headers.
* ``counters`` — the fixed windows: in memory (one instance) or in Redis (instances sharing
  limits), one operation per admission.
* ``middleware`` — the aiohttp middleware, the usage hook that charges tokens, ``install``.
"""

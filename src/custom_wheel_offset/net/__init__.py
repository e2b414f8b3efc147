"""The one HTTP seam of cwo: every request to the two hosts goes through here.

::

    network.OptimizedNetworkManager   get(url, kind, parse) -> bytes | record: composes
       |- challenge.ChallengeGate     per-host pause after a Human Verification page
       |- robots_cache.RobotsCache    robots.txt of each host, fetched once (robots.RobotsPolicy:
       |                              the file's rules, RFC 9309, parsed with Protego)
       |- retry.Retrier               attempts, full-jitter backoff, Retry-After
       |- ratelimit.HostRateLimiter   per-host pacing, concurrency cap, AIMD on 429
       |- sender.Sender               one GET: session headers and cookies (cookies.SessionPool,
       |                              cookies.load_cookie_file), proxy (proxies.ProxyChooser),
       |                              transport.Transport, faults -> cwo errors (failures)
       |- redirects.SameSiteRedirects which redirects are followed; redirects.host_key
       `- responses                   body read up to a cap; ResponseClassifier: data or error

Counters, incremented by the part that takes the decision (their names are a
contract with the metrics report)::

    requests/<kind>            every request sent (each attempt, each redirect hop;
                               requests/robots for robots.txt)
    responses/<status>         every HTTP status received
    retries/<kind>             every retry
    retry_reason/<reason>      timeout, connection, truncated, decoding, tls, proxy,
                               http_429, http_5xx, http_408, robots_unreachable,
                               forbidden_body, other
    challenges/<kind>          Human Verification pages received
    blocked/<kind>             the API's refusal received (401/403 {"message":"Forbidden"})
    forbidden_body/<kind>      the refusal's body with any other status (retried)
    challenge_paused/<kind>    requests not sent because the host was paused
    redirects/same_site_hosts  hosts seen redirecting to the same site (warned once each)
    bytes_received             body bytes (after gzip decoding)
    errors/<kind>/<Class>      final failures of get(), by exception class
    robots/disallowed          requests refused by robots.txt

Importing this package imports nothing else (``requests`` and ``tenacity`` are
loaded with the modules that use them), so ``cwo --help`` stays fast. Import
the classes from their modules.
"""

__all__: list[str] = []

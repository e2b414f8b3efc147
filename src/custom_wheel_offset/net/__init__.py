"""The one HTTP seam of cwo: every request to the two hosts goes through here.

::

    network.OptimizedNetworkManager   get(url, kind, parse) -> bytes | record
       |- ratelimit.HostRateLimiter   per-host pacing, concurrency cap, AIMD on 429
       |- challenge.ChallengeGate     per-host pause after a Human Verification page
       |- robots.RobotsPolicy         robots.txt (RFC 9309), parsed with Protego
       `- cookies.load_cookie_file    Netscape cookies.txt or browser-export JSON

Importing this package imports nothing else (``requests`` and ``tenacity`` are
loaded with :mod:`custom_wheel_offset.net.network`), so ``cwo --help`` stays
fast. Import the classes from their modules.
"""

__all__: list[str] = []

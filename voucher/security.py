"""Response headers that every page carries (OWASP ASVS 14.4).

- Content-Security-Policy without 'unsafe-inline': the templates have no inline script
  or style, so an injected ``<script>`` or ``style=`` cannot run.
- ``frame-ancestors 'none'`` (and X-Frame-Options for old browsers): no clickjacking.
- nosniff, a same-origin Referrer-Policy, and HSTS in production (HTTPS only).
- Pages of a signed-in person are ``Cache-Control: no-store``: a shared or back-button
  cache must not keep someone's family, receipts or IBAN.
"""

from __future__ import annotations

from flask import Flask, Response, request, session

# Stripe Checkout is a redirect after a form post: form-action must allow its origin.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self' https://checkout.stripe.com",
        "frame-ancestors 'none'",
    ]
)
HSTS = "max-age=31536000; includeSubDomains"


def init_app(app: Flask) -> None:
    """Add the security headers to every response."""
    production = app.config.get("SESSION_COOKIE_SECURE", False)

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        # Downloads set their own, stricter policy (default-src 'none'); keep it.
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
        if production:
            headers.setdefault("Strict-Transport-Security", HSTS)
        # Signed in = the session carries a login. Not the loaded user: after a commit it
        # is expired, and reading it here would cost a query on every POST.
        if (
            request.endpoint != "static"
            and session.get("_user_id")
            and "no-store" not in headers.get("Cache-Control", "")
        ):
            headers["Cache-Control"] = "no-store"
            headers.pop("Expires", None)
        return response

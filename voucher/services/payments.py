"""Card co-payments through Stripe, behind a small gateway interface.

Only three calls reach Stripe: create a Checkout Session (the hosted payment page), expire
one, and refund a payment. Webhook events are verified here too. Everything else about a
booking's payment (what an event means, when a refund is due) lives in
``voucher.services.bookings``, which works with any :class:`PaymentGateway`: tests use a
recording fake for Checkout and the local Stripe-compatible server for refunds.

Without ``STRIPE_SECRET_KEY`` and ``STRIPE_WEBHOOK_SECRET`` there is no gateway and card
payment is simply not offered: the worker pays the co-payment to the provider on delivery.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import stripe

from voucher.models import Booking
from voucher.models.base import utcnow
from voucher.services.clock import ROME

# How long the hosted payment page stays open (Stripe's minimum is 30 minutes): the slot
# and the voucher's share are held meanwhile, so not the default 24 hours.
CHECKOUT_MINUTES = 60


class PaymentError(Exception):
    """Stripe could not be reached or refused the call; nothing is known to have happened."""


class PaymentTimeout(PaymentError):
    """No answer in time: the call may or may not have taken effect (retry with its key)."""


class PaymentGateway(Protocol):
    """What the application needs from a card payment provider."""

    def create_checkout_session(
        self, booking: Booking, success_url: str, cancel_url: str
    ) -> tuple[str, str]:
        """Open a hosted payment page for the booking's co-payment; return (id, url)."""
        ...

    def expire_checkout_session(self, session_id: str) -> None:
        """Close a payment page that is no longer needed (the booking was cancelled)."""
        ...

    def refund(self, payment_intent_id: str, amount_cents: int, idempotency_key: str) -> str:
        """Refund ``amount_cents`` of a payment at most once per key; return the refund id."""
        ...

    def construct_event(self, payload: bytes, sig_header: str) -> Mapping[str, Any]:
        """Verify a webhook's signature on the raw body and return the event, or raise."""
        ...


class StripeGateway:
    """:class:`PaymentGateway` over the ``stripe`` package (StripeClient, API v1)."""

    def __init__(
        self,
        secret_key: str,
        webhook_secret: str,
        *,
        api_base: str | None = None,
        timeout: float = 20,
        tolerance: int = 300,
        max_network_retries: int = 2,
    ) -> None:
        self.webhook_secret = webhook_secret
        self.tolerance = tolerance
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=stripe.new_default_http_client(timeout=timeout),
            # Retries of a POST carry the same idempotency key, so they cannot double it.
            max_network_retries=max_network_retries,
        )

    def create_checkout_session(
        self, booking: Booking, success_url: str, cancel_url: str
    ) -> tuple[str, str]:
        """Open a hosted payment page for the booking's co-payment; return (id, url)."""
        service, slot = booking.service, booking.slot
        metadata = {"booking_id": str(booking.id)}
        params: dict[str, Any] = {
            "mode": "payment",
            "locale": booking.worker.locale or "it",
            "client_reference_id": str(booking.id),
            "customer_email": booking.worker.email,
            "payment_method_types": ["card"],
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": booking.copay_cents,
                        "product_data": {
                            "name": service.title[:250],
                            # Numbers and dates read alike in Italian and English.
                            "description": (
                                f"{booking.quantity} x {service.unit.value}, "
                                f"{_local(slot.starts_at):%d/%m/%Y %H:%M}"
                            ),
                        },
                    },
                }
            ],
            "metadata": metadata,
            # Copied to the payment so that its refund events name the booking too.
            "payment_intent_data": {"metadata": metadata},
            "success_url": success_url,
            "cancel_url": cancel_url,
            "expires_at": _expires_at(),
        }
        created = self._call(
            lambda: self.client.v1.checkout.sessions.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"booking-{booking.id}-checkout"},
            )
        )
        return created.id, created.url or ""

    def expire_checkout_session(self, session_id: str) -> None:
        """Close a payment page that is no longer needed (the booking was cancelled)."""
        self._call(lambda: self.client.v1.checkout.sessions.expire(session_id))

    def refund(self, payment_intent_id: str, amount_cents: int, idempotency_key: str) -> str:
        """Refund at most once per key: look for an earlier refund with the key first.

        Stripe keeps idempotency keys for 24 hours only, and a timeout may hide a refund
        that did happen: the key is also written in the refund's metadata, and a retry that
        finds it returns that refund instead of creating another.
        """
        existing = self._call(
            lambda: self.client.v1.refunds.list(
                params={"payment_intent": payment_intent_id, "limit": 100}
            )
        )
        for refund in existing.data:
            metadata = refund.metadata.to_dict() if refund.metadata else {}
            if metadata.get("idempotency_key") == idempotency_key:
                return refund.id
        created = self._call(
            lambda: self.client.v1.refunds.create(
                params={
                    "payment_intent": payment_intent_id,
                    "amount": amount_cents,
                    "metadata": {"idempotency_key": idempotency_key},
                },
                options={"idempotency_key": idempotency_key},
            )
        )
        return created.id

    def construct_event(self, payload: bytes, sig_header: str) -> Mapping[str, Any]:
        """Verify a webhook's signature on the raw body and return the event, or raise.

        Raises ``ValueError`` for a body that is not an event and
        ``stripe.SignatureVerificationError`` for a wrong, tampered or stale signature.
        The event comes back as plain data: the booking service reads it as a mapping,
        which stripe's own objects no longer are.
        """
        event = stripe.Webhook.construct_event(
            payload, sig_header, self.webhook_secret, tolerance=self.tolerance
        )
        data = event.to_dict(recursive=True)
        if "id" not in data or "type" not in data:
            raise ValueError("not a Stripe event")
        return data

    @staticmethod
    def _call(call: Any) -> Any:
        try:
            return call()
        except stripe.APIConnectionError as exc:
            # The request may have reached Stripe: the caller keeps its idempotency key.
            raise PaymentTimeout(str(exc)) from exc
        except stripe.StripeError as exc:
            raise PaymentError(str(exc)) from exc


def _local(moment: datetime) -> datetime:
    """A stored moment in Italian time (SQLite gives it back without its time zone)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(ROME)


def _expires_at() -> int:
    return int(utcnow().timestamp()) + CHECKOUT_MINUTES * 60


def gateway_for(config: Mapping[str, Any]) -> StripeGateway | None:
    """The Stripe gateway the configuration describes, or None without both keys."""
    secret, webhook_secret = config.get("STRIPE_SECRET_KEY"), config.get("STRIPE_WEBHOOK_SECRET")
    if not secret or not webhook_secret:
        return None
    return StripeGateway(
        secret,
        webhook_secret,
        api_base=config.get("STRIPE_API_BASE") or None,
        timeout=float(config.get("STRIPE_TIMEOUT", 20)),
        tolerance=int(config.get("STRIPE_WEBHOOK_TOLERANCE", 300)),
    )


def gateway_of(app: Any) -> PaymentGateway | None:
    """The application's gateway, built once from its config (tests may install another)."""
    if "payment_gateway" not in app.extensions:
        app.extensions["payment_gateway"] = gateway_for(app.config)
    return app.extensions["payment_gateway"]


def card_offered(gateway: PaymentGateway | None, booking_or_service: Any) -> bool:
    """Whether the worker may pay a co-payment by card for this service.

    Stripe only for private providers (DESIGN §8): a public body collecting money must
    use pagoPA, so it is never offered one.
    """
    service = getattr(booking_or_service, "service", booking_or_service)
    return gateway is not None and service.accepts_card and not service.organisation.is_public

"""Command-line tools: ``flask --app voucher demo``, ``create-admin``, ``worker`` (background
jobs) and ``expire`` (cron)."""

from __future__ import annotations

from datetime import datetime

import click
from flask import Flask

from voucher.extensions import db
from voucher.services import clock


def register_commands(app: Flask) -> None:
    """Attach the project's commands to ``app.cli``."""

    @app.cli.command("demo")
    @click.option(
        "--allow-production",
        is_flag=True,
        help="Load the demo even though VOUCHER_ENV is production (e.g. a public sandbox).",
    )
    def demo_command(allow_production: bool) -> None:
        """Load the demo data (idempotent: running it again changes nothing)."""
        from voucher.services import demo

        # The demo accounts share a published password: never create them by accident
        # on a real deployment.
        if app.config["ENV_NAME"] not in {"dev", "test"} and not allow_production:
            raise click.ClickException(
                "refusing to load demo accounts with a public password outside dev/test; "
                "pass --allow-production for a sandbox"
            )

        summary = demo.load_demo(db.session)
        db.session.commit()
        click.echo(summary)

    @app.cli.command("create-admin")
    @click.option("--email", prompt=True)
    @click.option("--first-name", prompt=True)
    @click.option("--last-name", prompt=True)
    @click.password_option()
    def create_admin_command(email: str, first_name: str, last_name: str, password: str) -> None:
        """Create an administrator account."""
        from voucher.models import Role
        from voucher.services import structure
        from voucher.services.errors import ValidationFailed

        try:
            structure.save_user(
                db.session,
                None,
                email=email,
                first_name=first_name,
                last_name=last_name,
                role=Role.ADMIN,
                password=password,
            )
        except ValidationFailed as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from exc
        db.session.commit()
        click.echo(f"Administrator {email} created.")

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
    def worker_command(burst: bool) -> None:
        """Run the background jobs (e-mails, exports) queued in Redis."""
        from voucher import jobs

        if app.config["JOBS"] != "rq":
            raise click.ClickException(
                "jobs run inline in this configuration (VOUCHER_JOBS=inline): no worker needed"
            )
        jobs.run_worker(app, burst=burst)

    @app.cli.command("expire")
    @click.option(
        "--today",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="The day to expire as of (YYYY-MM-DD); default: today.",
    )
    def expire_command(today: datetime | None) -> None:
        """Expire vouchers past their end date and release what they did not use (for cron).

        Idempotent: running it again the same day changes nothing.
        """
        from voucher.services import expiry

        day = today.date() if today is not None else clock.today()
        result = expiry.expire_vouchers(db.session, day)
        db.session.commit()
        click.echo(
            f"Vouchers expired: {result.expired}; "
            f"released: {result.released_cents / 100:.2f} EUR; "
            f"waiting applications approved: {result.promoted}; "
            f"still held for requests under review: {result.held_cents / 100:.2f} EUR."
        )

    @app.cli.command("purge-erased")
    @click.option(
        "--today",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="The day to purge as of (YYYY-MM-DD); default: today.",
    )
    def purge_erased_command(today: datetime | None) -> None:
        """Pseudonymise the closed accounts whose retention period has ended (for cron)."""
        from voucher.services import privacy

        day = today.date() if today is not None else clock.today()
        count = privacy.purge_due(db.session, day, app.config["UPLOAD_FOLDER"])
        db.session.commit()
        click.echo(f"Accounts pseudonymised after their retention period: {count}.")

    @app.cli.command("retry-refunds")
    def retry_refunds_command() -> None:
        """Send again the refunds of cancelled bookings that Stripe did not confirm (for cron).

        Each retry carries the key fixed when the refund became due, so a refund that did
        happen behind a timeout is found, never made twice.
        """
        from voucher.services import bookings, payments

        gateway = payments.gateway_of(app)
        if gateway is None:
            raise click.ClickException("card payments are not configured (STRIPE_* keys)")
        done = failed = 0
        for booking in bookings.pending_refunds(db.session):
            if bookings.complete_refund(db.session, booking, gateway):
                done += 1
            else:
                failed += 1
            # One commit per booking: a later failure does not undo an earlier refund's record.
            db.session.commit()
        click.echo(f"Refunds completed: {done}; still pending: {failed}.")

    @app.cli.command("release-unpaid")
    def release_unpaid_command() -> None:
        """Free the places of bookings whose card payment page never opened (for cron)."""
        from voucher.models.base import utcnow
        from voucher.services import bookings

        released = bookings.release_unpaid(db.session, utcnow())
        db.session.commit()
        click.echo(f"Unpaid bookings released: {released}.")

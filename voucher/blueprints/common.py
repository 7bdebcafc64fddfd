"""Helpers every blueprint uses: role checks, scoped loading, form errors, safe redirects."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from functools import cache, wraps
from pathlib import PurePath
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, flash, send_file, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import bindparam
from werkzeug.utils import secure_filename

from voucher.extensions import db, login_manager
from voucher.models import Role
from voucher.services import uploads
from voucher.services.access import scope_params, visible, visible_to_role
from voucher.services.errors import ServiceError, ValidationFailed


class ActionForm(FlaskForm):
    """A button that posts (confirm, remove, mark paid): the CSRF token only."""


def run_posted_action(action: Callable[[], Any], success: str) -> None:
    """Run a one-button POST: commit and say so, or roll back and say why not."""
    if not ActionForm().validate_on_submit():
        return
    try:
        action()
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(str(exc.message), "danger")
    else:
        flash(success, "success")


F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

# Where each role lands after logging in.
HOME_ENDPOINT = {
    Role.WORKER: "worker.home",
    Role.HR: "hr.home",
    Role.OPERATOR: "operator.home",
    Role.NETWORK: "network.home",
    Role.PROVIDER: "provider.home",
    Role.ADMIN: "admin.home",
}


def role_required(*roles: Role) -> Callable[[F], F]:
    """Let in only logged-in users with one of ``roles``; others get 404 (no existence leak)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(404)
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def current_actor() -> Any:
    """The logged-in User itself, not Flask-Login's proxy, for services and the audit trail."""
    return current_user._get_current_object()  # type: ignore[attr-defined]


def get_visible_or_404(
    model: type[T],
    object_id: int,
    *options: Any,
    loads: Callable[[], tuple[Any, ...]] | None = None,
) -> T:
    """Load ``model`` by id through the access rules of the current user, or 404.

    ``options`` are loader options (``joinedload(...)``) so a page can load what it shows
    in the same query. ``loads`` is a module-level function returning such options instead:
    the statement is then built once per role and reused (pages opened all day long).
    """
    user = current_actor()
    if loads is not None:
        found = db.session.scalars(
            _by_id(model, user.role, loads), {"object_id": object_id, **scope_params(user)}
        )
    else:
        stmt = visible(model, user).where(model.id == object_id)  # type: ignore[attr-defined]
        found = db.session.scalars(stmt.options(*options))
    loaded = found.unique().first()
    if loaded is None:
        abort(404)
    return loaded


@cache
def _by_id(model: type, role: Role, loads: Callable[[], tuple[Any, ...]]) -> Any:
    return (
        visible_to_role(model, role)
        .where(model.id == bindparam("object_id"))  # type: ignore[attr-defined]
        .options(*loads())
    )


def home_url_for(user: Any) -> str:
    """The URL of the user's own area."""
    return url_for(HOME_ENDPOINT[user.role])


def is_safe_next(target: str | None) -> bool:
    """Only same-site relative paths are followed after login (no open redirect)."""
    if not target:
        return False
    parts = urlsplit(target)
    return (
        not parts.scheme
        and not parts.netloc
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
    )


def apply_errors(form: FlaskForm, exc: ValidationFailed) -> None:
    """Show a service's validation messages next to the matching form fields."""
    for name, messages in exc.errors.items():
        texts = [str(m) for m in messages]
        field = form._fields.get(name)
        if field is None:
            form.form_errors.extend(texts)
        else:
            field.errors = [*field.errors, *texts]


def receipt_download_name(original_filename: str, content_type: str, suffix: str = "") -> str:
    """A safe file name for a download: the worker's name for it, the stored type's extension."""
    stem = secure_filename(PurePath(original_filename or "").stem) or "receipt"
    extension = (
        uploads.EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type) or ""
    )
    return f"{stem[:80]}{suffix}{extension}"


def send_upload(
    key: str | None, content_type: str, download_name: str, *, as_attachment: bool = True
) -> Any:
    """An uploaded file as a private response the browser will neither cache nor run; 404
    when it is missing."""
    if not key:
        abort(404)
    try:
        path = uploads.path_of(current_app.config["UPLOAD_FOLDER"], key)
    except ValueError:
        abort(404)
    if not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype=content_type,
        as_attachment=as_attachment,
        download_name=download_name,
        conditional=False,
        etag=False,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response

"""One blueprint package per audience; see ``voucher.blueprints.common`` for shared helpers."""

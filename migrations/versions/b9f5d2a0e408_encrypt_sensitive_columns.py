"""encrypt IBANs, codici fiscali and disability flags; blind index for codici fiscali

Reviewed by hand: a data migration. Each sensitive value is read, encrypted with the
app's data key (voucher/crypto.py, configured from the same settings as the app) and
written back; the codice fiscale's uniqueness moves to its blind index. ``downgrade``
decrypts everything back to the previous plain columns.

Revision ID: b9f5d2a0e408
Revises: e5b9c3f7a403
Create Date: 2026-11-24 13:40:00

"""
from alembic import op
import sqlalchemy as sa
from flask import current_app

from voucher import crypto


# revision identifiers, used by Alembic.
revision = 'b9f5d2a0e408'
down_revision = 'e5b9c3f7a403'
branch_labels = None
depends_on = None


def _rows(sql):
    return op.get_bind().execute(sa.text(sql)).all()


def _update(sql, **values):
    op.get_bind().execute(sa.text(sql), values)


def _enc(value):
    return None if value is None else crypto.encrypt(value)


def _dec(value):
    return None if value is None else crypto.decrypt(value)


def upgrade():
    crypto.configure(current_app.config)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tax_code_index', sa.String(length=64), nullable=True))
        batch_op.drop_constraint('uq_users_tax_code', type_='unique')
        batch_op.alter_column('tax_code', type_=sa.Text(), existing_type=sa.String(length=16))
        batch_op.alter_column('iban', type_=sa.Text(), existing_type=sa.String(length=34))
    for user_id, tax_code, iban in _rows('SELECT id, tax_code, iban FROM users'):
        _update(
            'UPDATE users SET tax_code = :t, tax_code_index = :i, iban = :b WHERE id = :id',
            t=_enc(tax_code), i=crypto.blind_index(tax_code), b=_enc(iban), id=user_id,
        )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_users_tax_code_index', ['tax_code_index'])

    with op.batch_alter_table('dependants', schema=None) as batch_op:
        batch_op.alter_column('tax_code', type_=sa.Text(), existing_type=sa.String(length=16))
        batch_op.add_column(sa.Column('has_disability_sealed', sa.Text(), nullable=True))
    for dependant_id, tax_code, flag in _rows(
        'SELECT id, tax_code, has_disability FROM dependants'
    ):
        _update(
            'UPDATE dependants SET tax_code = :t, has_disability_sealed = :f WHERE id = :id',
            t=_enc(tax_code), f=crypto.encrypt('1' if flag else '0'), id=dependant_id,
        )
    with op.batch_alter_table('dependants', schema=None) as batch_op:
        batch_op.drop_column('has_disability')
    with op.batch_alter_table('dependants', schema=None) as batch_op:
        batch_op.alter_column(
            'has_disability_sealed', new_column_name='has_disability', nullable=False,
            existing_type=sa.Text(),
        )

    with op.batch_alter_table('payout_lines', schema=None) as batch_op:
        batch_op.alter_column('creditor_iban', type_=sa.Text(), existing_type=sa.String(length=34))
    for line_id, iban in _rows('SELECT id, creditor_iban FROM payout_lines'):
        _update('UPDATE payout_lines SET creditor_iban = :b WHERE id = :id', b=_enc(iban), id=line_id)


def downgrade():
    crypto.configure(current_app.config)
    for line_id, iban in _rows('SELECT id, creditor_iban FROM payout_lines'):
        _update('UPDATE payout_lines SET creditor_iban = :b WHERE id = :id', b=_dec(iban), id=line_id)
    with op.batch_alter_table('payout_lines', schema=None) as batch_op:
        batch_op.alter_column('creditor_iban', type_=sa.String(length=34), existing_type=sa.Text())

    with op.batch_alter_table('dependants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('has_disability_plain', sa.Boolean(), nullable=True))
    for dependant_id, tax_code, sealed in _rows(
        'SELECT id, tax_code, has_disability FROM dependants'
    ):
        _update(
            'UPDATE dependants SET tax_code = :t, has_disability_plain = :f WHERE id = :id',
            t=_dec(tax_code), f=_dec(sealed) == '1', id=dependant_id,
        )
    with op.batch_alter_table('dependants', schema=None) as batch_op:
        batch_op.drop_column('has_disability')
    with op.batch_alter_table('dependants', schema=None) as batch_op:
        batch_op.alter_column(
            'has_disability_plain', new_column_name='has_disability', nullable=False,
            existing_type=sa.Boolean(),
        )
        batch_op.alter_column('tax_code', type_=sa.String(length=16), existing_type=sa.Text())

    for user_id, tax_code, iban in _rows('SELECT id, tax_code, iban FROM users'):
        _update(
            'UPDATE users SET tax_code = :t, iban = :b WHERE id = :id',
            t=_dec(tax_code), b=_dec(iban), id=user_id,
        )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('uq_users_tax_code_index', type_='unique')
        batch_op.drop_column('tax_code_index')
        batch_op.alter_column('tax_code', type_=sa.String(length=16), existing_type=sa.Text())
        batch_op.alter_column('iban', type_=sa.String(length=34), existing_type=sa.Text())
        batch_op.create_unique_constraint('uq_users_tax_code', ['tax_code'])

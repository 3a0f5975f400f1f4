"""initial schema

The platform's outbox, inbox and idempotency keys come from the platform history
(crm_common.platform_migrations), on which this revision depends.

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 17:09:19.332644

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = ("lead",)
depends_on: Union[str, Sequence[str], None] = 'platform_0001'


def upgrade() -> None:
    """Upgrade schema."""

    op.create_table('contact_attempts',
    sa.Column('attempt_id', sa.String(length=36), nullable=False),
    sa.Column('lead_id', sa.String(length=36), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=30), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('agent_id', sa.String(length=200), nullable=False),
    sa.Column('contacted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('attempt_id', name=op.f('pk_contact_attempts'))
    )
    with op.batch_alter_table('contact_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_attempts_lead_id'), ['lead_id'], unique=False)

    op.create_table('conversions',
    sa.Column('lead_id', sa.String(length=36), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('request_id', sa.String(length=100), nullable=False),
    sa.Column('request_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('product', sa.String(length=30), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('expected_close_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('owner_id', sa.String(length=200), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('matched_existing_account', sa.Boolean(), nullable=False),
    sa.Column('opportunity_id', sa.String(length=36), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('lead_id', name=op.f('pk_conversions'))
    )
    with op.batch_alter_table('conversions', schema=None) as batch_op:
        batch_op.create_index('ix_conversions_state_updated_at', ['state', 'updated_at'], unique=False)

    op.create_table('imports',
    sa.Column('import_id', sa.String(length=36), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('import_id', name=op.f('pk_imports'))
    )
    op.create_table('lead_behaviours',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('lead_id', sa.String(length=36), nullable=False),
    sa.Column('behaviour', sa.String(length=30), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_behaviours'))
    )
    with op.batch_alter_table('lead_behaviours', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lead_behaviours_lead_id'), ['lead_id'], unique=False)

    op.create_table('lead_opportunities',
    sa.Column('opportunity_id', sa.String(length=36), nullable=False),
    sa.Column('lead_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('opportunity_id', name=op.f('pk_lead_opportunities'))
    )
    with op.batch_alter_table('lead_opportunities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lead_opportunities_lead_id'), ['lead_id'], unique=False)

    op.create_table('leads',
    sa.Column('lead_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('name_folded', sa.String(length=200), nullable=False),
    sa.Column('phone_e164', sa.String(length=20), nullable=False),
    sa.Column('phone_is_mobile', sa.Boolean(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('national_id', sa.String(length=12), nullable=False),
    sa.Column('province_code', sa.String(length=2), nullable=False),
    sa.Column('product_interest', sa.String(length=30), nullable=False),
    sa.Column('channel', sa.String(length=30), nullable=False),
    sa.Column('campaign_id', sa.String(length=100), nullable=False),
    sa.Column('utm_source', sa.String(length=200), nullable=False),
    sa.Column('utm_medium', sa.String(length=200), nullable=False),
    sa.Column('utm_campaign', sa.String(length=200), nullable=False),
    sa.Column('utm_term', sa.String(length=200), nullable=False),
    sa.Column('utm_content', sa.String(length=200), nullable=False),
    sa.Column('cookie_id', sa.String(length=100), nullable=False),
    sa.Column('data_origin', sa.String(length=20), nullable=False),
    sa.Column('partner_id', sa.String(length=100), nullable=False),
    sa.Column('landing_page_url', sa.Text(), nullable=False),
    sa.Column('referrer_url', sa.Text(), nullable=False),
    sa.Column('requested_amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('marketing_consent', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('score_reasons', sa.JSON(), nullable=False),
    sa.Column('owner_id', sa.String(length=100), nullable=False),
    sa.Column('team_id', sa.String(length=100), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_contact_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_contact_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disqualification_reason', sa.String(length=30), nullable=False),
    sa.Column('status_note', sa.Text(), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('opportunity_id', sa.String(length=36), nullable=False),
    sa.Column('matched_existing_account', sa.Boolean(), nullable=False),
    sa.Column('converted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('lead_id', name=op.f('pk_leads'))
    )
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index('ix_leads_campaign_id', ['campaign_id'], unique=False)
        batch_op.create_index('ix_leads_created_at_lead_id', ['created_at', 'lead_id'], unique=False)
        batch_op.create_index('ix_leads_email', ['email'], unique=False)
        batch_op.create_index('ix_leads_name_folded', ['name_folded'], unique=False)
        batch_op.create_index('ix_leads_owner_id_status', ['owner_id', 'status'], unique=False)
        batch_op.create_index('ix_leads_phone_e164', ['phone_e164'], unique=False)
        batch_op.create_index('ix_leads_status_created_at', ['status', 'created_at'], unique=False)
        batch_op.create_index('uq_leads_open_email', ['email'], unique=True, postgresql_where=sa.text("email != '' AND status IN ('CONTACTED', 'MQL', 'NEW', 'NURTURE', 'SQL')"), sqlite_where=sa.text("email != '' AND status IN ('CONTACTED', 'MQL', 'NEW', 'NURTURE', 'SQL')"))
        batch_op.create_index('uq_leads_open_phone_e164', ['phone_e164'], unique=True, postgresql_where=sa.text("phone_e164 != '' AND status IN ('CONTACTED', 'MQL', 'NEW', 'NURTURE', 'SQL')"), sqlite_where=sa.text("phone_e164 != '' AND status IN ('CONTACTED', 'MQL', 'NEW', 'NURTURE', 'SQL')"))

    op.create_table('teams',
    sa.Column('team_id', sa.String(length=100), nullable=False),
    sa.Column('members', sa.JSON(), nullable=False),
    sa.Column('turn', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('team_id', name=op.f('pk_teams'))
    )



def downgrade() -> None:
    """Downgrade schema."""

    op.drop_table('teams')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('uq_leads_open_phone_e164', postgresql_where=sa.text("phone_e164 != '' AND status IN ('CONTACTED', 'MQL', 'NEW', 'NURTURE', 'SQL')"), sqlite_where=sa.text("phone_e164 != '' AND status IN ('CONTACTED', 'MQL', 'NEW', 'NURTURE', 'SQL')"))
        batch_op.drop_index('uq_leads_open_email', postgresql_where=sa.text("email != '' AND status IN ('CONTACTED', 'MQL', 'NEW', 'NURTURE', 'SQL')"), sqlite_where=sa.text("email != '' AND status IN ('CONTACTED', 'MQL', 'NEW', 'NURTURE', 'SQL')"))
        batch_op.drop_index('ix_leads_status_created_at')
        batch_op.drop_index('ix_leads_phone_e164')
        batch_op.drop_index('ix_leads_owner_id_status')
        batch_op.drop_index('ix_leads_name_folded')
        batch_op.drop_index('ix_leads_email')
        batch_op.drop_index('ix_leads_created_at_lead_id')
        batch_op.drop_index('ix_leads_campaign_id')

    op.drop_table('leads')
    with op.batch_alter_table('lead_opportunities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lead_opportunities_lead_id'))

    op.drop_table('lead_opportunities')
    with op.batch_alter_table('lead_behaviours', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lead_behaviours_lead_id'))

    op.drop_table('lead_behaviours')
    op.drop_table('imports')
    with op.batch_alter_table('conversions', schema=None) as batch_op:
        batch_op.drop_index('ix_conversions_state_updated_at')

    op.drop_table('conversions')
    with op.batch_alter_table('contact_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_attempts_lead_id'))

    op.drop_table('contact_attempts')


"""one head: service layer and archives

Revision ID: 3eb76c721899
Revises: 6a845345db70, be901ff1d68b
Create Date: 2026-11-26 00:15:48.658745

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "3eb76c721899"
down_revision = ("6a845345db70", "be901ff1d68b")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass

"""Notices: mail to people, its delivery, and (in development) the outbox that shows it."""

from flask import Blueprint

# The development outbox, registered only when INFRAWG_MAIL_BACKEND=outbox.
bp = Blueprint("notices", __name__)
# Staff's view of mail that has not reached the relay yet; always there.
mail_bp = Blueprint("mail", __name__)

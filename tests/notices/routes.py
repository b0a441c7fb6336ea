"""Route access rows of the development outbox (outbox backend only) and of undelivered mail."""

from tests.route_access import DECIDERS, Row, post_profile

ROWS = [
    # Reset and confirmation links are in the outbox: staff and the chair only.
    Row("notices.outbox", "GET", "/dev/outbox", DECIDERS),
    Row("mail.undelivered", "GET", "/staff/mail", DECIDERS),
    # No such mail: 404 for those who may retry, 403 for the others.
    Row("mail.retry", "POST", "/staff/mail/999999/retry", post_profile({"staff", "chair"}, 404)),
]

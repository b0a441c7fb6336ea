"""Pages the survey's mail links to (R15): the invitation, stopping and restarting reminders."""

from __future__ import annotations

from flask_login import current_user

from infrawg.extensions import db
from infrawg.forms import ConfirmForm
from infrawg.policy import public
from infrawg.surveys import bp, building, jobs, mailing
from infrawg.web import refused, render, submit

# Importing the jobs module registers the survey's mail job with the runner.
assert jobs.SEND == mailing.SEND_JOB


@bp.get("/surveys/<int:survey_id>/invited/<token>")
@public
def invited(survey_id: int, token: str):
    """The link in the invitation: checked, then on to the answer page (sign-in first)."""
    survey = building.get_survey(survey_id)
    person = mailing.read_invitation(survey.id, token)
    return render(
        "surveys/invited.html",
        survey=survey,
        person=person,
        other_account=current_user.is_authenticated and current_user.id != person.id,
    )


@bp.get("/surveys/reminders-off/<token>")
@public
def reminders_off(token: str):
    """One click from the reminder mail: no more reminders of this survey."""
    survey = mailing.stop_reminders(token)
    db.session.commit()
    return render(
        "surveys/reminders_off.html", survey=survey, token=token, action_form=ConfirmForm()
    )


@bp.post("/surveys/reminders-on/<token>")
@public
def reminders_on(token: str):
    return submit(
        ConfirmForm(),
        lambda: mailing.restart_reminders(token),
        done=lambda survey: render("surveys/reminders_on.html", survey=survey),
        again=refused,
    )

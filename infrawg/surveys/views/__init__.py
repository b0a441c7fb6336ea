"""Pages of surveys, goals and milestones (R15). Thin: parse, call a service, render.

One blueprint (``infrawg.surveys.bp``); each module here adds the routes of one concern,
mirroring the service modules. Importing this package registers them all.
"""

from infrawg.surveys import bp
from infrawg.surveys.models import QuestionKind, Section, SurveyState

# isort: off
# Importing a module adds its routes; in this order, the order they always had.
from infrawg.surveys.views import (  # noqa: F401
    building,
    answers,
    responses,
    mailing,
    results,
    goals,
    milestones,
)
# isort: on


@bp.context_processor
def _enums() -> dict:
    return {"QuestionKind": QuestionKind, "SurveyState": SurveyState, "Section": Section}

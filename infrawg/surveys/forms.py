"""Forms of surveys, goals and milestones; every field has a label.

The answer sheet itself is not a WTForm: its fields are the survey's questions, read by
``answers.parse_answers``.
"""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from infrawg.surveys.models import (
    Audience,
    GoalStatus,
    MilestoneStatus,
    ProjectKind,
    QuestionKind,
    Section,
)

# Ids are 32-bit INTEGER columns: a larger number names nothing, and must not reach the
# database (which overflows); coerce's ValueError makes it a form error.
MAX_ID = 2**31 - 1


def _optional_int(value):
    if value in (None, "", "None"):
        return None
    number = int(value)
    if not 0 <= number <= MAX_ID:
        raise ValueError(f"{value} is not an id")
    return number


class SurveyForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    year = IntegerField("Year of the survey", validators=[DataRequired(), NumberRange(2000, 2100)])
    intro = TextAreaField("Introduction shown to respondents", validators=[Length(max=5000)])
    audience = SelectField("Audience", choices=Audience.choices())
    anonymous = BooleanField("Anonymous: responses keep no link to who answered")
    opens_on = DateField("Opens on", validators=[DataRequired()])
    closes_on = DateField("Closes on", validators=[DataRequired()])
    reminder_days = IntegerField(
        "Reminder, days before closing (empty: no reminder)",
        validators=[Optional(), NumberRange(1, 60)],
    )


class QuestionForm(FlaskForm):
    section = SelectField("Section", choices=Section.choices())
    kind = SelectField("Type of question", choices=QuestionKind.choices())
    prompt = StringField("Question", validators=[DataRequired(), Length(max=500)])
    options_text = TextAreaField(
        "Options, one per line (choice and rank questions)", validators=[Length(max=5000)]
    )
    required = BooleanField("An answer is required")


class DelegateForm(FlaskForm):
    person_id = SelectField("Staff member", coerce=int, choices=[])


class GoalForm(FlaskForm):
    year = IntegerField("Year of the goal", validators=[DataRequired(), NumberRange(2000, 2100)])
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Length(max=10_000)])
    owner_id = SelectField("Owner", coerce=_optional_int, choices=[], validate_choice=False)
    target_on = DateField("Target date", validators=[Optional()])
    survey_id = SelectField(
        "Survey it comes from", coerce=_optional_int, choices=[], validate_choice=False
    )
    links = SelectMultipleField(
        "Questions and answers that motivated it", choices=[], validate_choice=False
    )


class CommentForm(FlaskForm):
    body = TextAreaField("Your comment", validators=[DataRequired(), Length(max=10_000)])


class PublishForm(FlaskForm):
    note = TextAreaField("A word for the announcement (optional)", validators=[Length(max=2000)])


class GoalUpdateForm(FlaskForm):
    status = SelectField("Status", choices=GoalStatus.choices())
    note = TextAreaField("What happened", validators=[Length(max=5000)])


class ProjectForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    slug = StringField(
        "Short name for links (lowercase letters, digits, hyphens)",
        validators=[DataRequired(), Length(max=80)],
    )
    description = TextAreaField("Description", validators=[Length(max=5000)])
    kind = SelectField("Kind", choices=ProjectKind.choices())
    organisation_id = SelectField(
        "Working group helped (for planning help)",
        coerce=_optional_int,
        choices=[],
        validate_choice=False,
    )


class MilestoneForm(FlaskForm):
    title = StringField("Milestone", validators=[DataRequired(), Length(max=200)])
    due_on = DateField("Due on", validators=[DataRequired()])
    owner_id = SelectField("Owner", coerce=_optional_int, choices=[], validate_choice=False)
    status = SelectField("Status", choices=MilestoneStatus.choices())
    notes = TextAreaField("Notes", validators=[Length(max=5000)])

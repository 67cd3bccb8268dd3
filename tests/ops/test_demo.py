"""The demo register is there to practise on: a drill in it holds accounts."""

from __future__ import annotations

from lockdown.incidents.config import incident_config
from lockdown.incidents.declare import declare_incident, preview_held
from lockdown.ops.demo import DEMO_DOMAIN, DRILL_TAG, seed_demo
from lockdown.people.users import user_by_email
from lockdown.settings import Settings
from lockdown.store.context import Context


def test_declaring_an_exercise_in_the_demo_holds_its_drill_accounts(ctx: Context, settings: Settings) -> None:
    seed_demo(ctx)
    config = incident_config(settings)
    exercise = config.playbooks["exercise"]
    assert exercise.tag == DRILL_TAG, "the demo tags the accounts the exercise playbook holds"
    tagged = ctx.db.conn.execute(
        "SELECT COUNT(*) FROM accounts WHERE EXISTS (SELECT 1 FROM json_each(tags) t WHERE t.value = ?)", [DRILL_TAG]
    ).fetchone()[0]
    press = user_by_email(ctx.db, f"press.officer@{DEMO_DOMAIN}")
    assert preview_held(ctx.db, exercise, press) == tagged
    declared = declare_incident(ctx, config, press, {"playbook": "exercise", "title": "Drill", "reason": "Practice"})
    assert 0 < declared["held_accounts"] == tagged < 10, "a handful, not the register"
    assert declared["exercise"]

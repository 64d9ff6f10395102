"""Step 3 -> 4: change a field's type (text -> number)."""

from langmigrate import migration


@migration("r3", down_revision="r2", slug="budget_number")
def budget_number(state):
    return state.coerce_field("budget", lambda text: float(text.strip()))

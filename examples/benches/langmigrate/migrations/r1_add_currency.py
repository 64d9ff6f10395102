"""Step 1 -> 2: add a field with a default."""

from langmigrate import migration


@migration("r1", down_revision=None, slug="add_currency")
def add_currency(state):
    return state.add_field("currency", "EUR")
